#include "ir/dtype.h"

#include <algorithm>

namespace kiln {

const char* DTypeName(DType dtype) {
  switch (dtype) {
    case DType::kBool: return "bool";
    case DType::kI32: return "i32";
    case DType::kI64: return "i64";
    case DType::kF16: return "f16";
    case DType::kBF16: return "bf16";
    case DType::kF32: return "f32";
    case DType::kF64: return "f64";
  }
  return "?";
}

std::optional<DType> ParseDType(std::string_view name) {
  for (DType d : {DType::kBool, DType::kI32, DType::kI64, DType::kF16, DType::kBF16,
                  DType::kF32, DType::kF64}) {
    if (name == DTypeName(d)) return d;
  }
  return std::nullopt;
}

int DTypeSize(DType dtype) {
  switch (dtype) {
    case DType::kBool: return 1;
    case DType::kI32: return 4;
    case DType::kI64: return 8;
    case DType::kF16: return 2;
    case DType::kBF16: return 2;
    case DType::kF32: return 4;
    case DType::kF64: return 8;
  }
  return 0;
}

bool IsFloating(DType dtype) {
  return dtype == DType::kF16 || dtype == DType::kBF16 || dtype == DType::kF32 ||
         dtype == DType::kF64;
}

bool IsIntegral(DType dtype) { return dtype == DType::kI32 || dtype == DType::kI64; }

bool IsReserved(DType dtype) { return dtype == DType::kF16 || dtype == DType::kBF16; }

DType PromoteTypes(DType a, DType b) {
  auto category = [](DType d) { return IsFloating(d) ? 2 : IsIntegral(d) ? 1 : 0; };
  if (category(a) != category(b)) return category(a) > category(b) ? a : b;
  if (a == b) return a;
  // Same category, different types: the wider one. f16 with bf16 goes to f32, as in PyTorch.
  if (DTypeSize(a) == DTypeSize(b)) return DType::kF32;
  return DTypeSize(a) > DTypeSize(b) ? a : b;
}

}  // namespace kiln
