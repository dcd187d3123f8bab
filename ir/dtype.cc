#include "ir/dtype.h"

#include <algorithm>

namespace kiln {

const char* DTypeName(DType dtype) {
  switch (dtype) {
    case DType::kBool:
      return "bool";
    case DType::kI32:
      return "i32";
    case DType::kI64:
      return "i64";
    case DType::kF16:
      return "f16";
    case DType::kBF16:
      return "bf16";
    case DType::kF32:
      return "f32";
    case DType::kF64:
      return "f64";
  }
  return "?";
}

std::optional<DType> ParseDType(std::string_view name) {
  for (DType d : {DType::kBool, DType::kI32, DType::kI64, DType::kF16, DType::kBF16, DType::kF32,
                  DType::kF64}) {
    if (name == DTypeName(d)) return d;
  }
  return std::nullopt;
}

DType PromoteTypes(DType a, DType b) {
  auto category = [](DType d) { return IsFloating(d) ? 2 : IsIntegral(d) ? 1 : 0; };
  if (category(a) != category(b)) return category(a) > category(b) ? a : b;
  if (a == b) return a;
  // Same category, different types: the wider one. f16 with bf16 goes to f32, as in PyTorch.
  if (DTypeSize(a) == DTypeSize(b)) return DType::kF32;
  return DTypeSize(a) > DTypeSize(b) ? a : b;
}

}  // namespace kiln
