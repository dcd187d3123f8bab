#pragma once
// Element types. f16/bf16 are reserved: they name dtypes but no op accepts them yet.
#include <cstdint>
#include <optional>
#include <string_view>

namespace kiln {

enum class DType : uint8_t { kBool, kI32, kI64, kF16, kBF16, kF32, kF64 };

// "bool", "i32", "i64", "f16", "bf16", "f32", "f64". A C string because Debian's abseil has
// its own string_view, which absl::StrCat needs; a const char* converts to both.
const char* DTypeName(DType dtype);
std::optional<DType> ParseDType(std::string_view name);
// Bytes per element.
constexpr int DTypeSize(DType dtype) {
  switch (dtype) {
    case DType::kBool:
      return 1;
    case DType::kI32:
      return 4;
    case DType::kI64:
      return 8;
    case DType::kF16:
      return 2;
    case DType::kBF16:
      return 2;
    case DType::kF32:
      return 4;
    case DType::kF64:
      return 8;
  }
  return 0;
}
constexpr bool IsFloating(DType dtype) {
  return dtype == DType::kF16 || dtype == DType::kBF16 || dtype == DType::kF32 ||
         dtype == DType::kF64;
}
// i32, i64 (not bool).
constexpr bool IsIntegral(DType dtype) { return dtype == DType::kI32 || dtype == DType::kI64; }
// f16 and bf16 are not supported by any op yet.
constexpr bool IsReserved(DType dtype) { return dtype == DType::kF16 || dtype == DType::kBF16; }

// PyTorch's promotion for two tensors: bool < integers < floating, and within a
// category the wider type, e.g. (i32, f32) -> f32, (i32, i64) -> i64, (f32, f64) -> f64.
DType PromoteTypes(DType a, DType b);

// The DType of a C++ element type: DTypeOf<float> == DType::kF32.
template <typename T>
inline constexpr DType DTypeOf = DType::kF32;
template <>
inline constexpr DType DTypeOf<double> = DType::kF64;
template <>
inline constexpr DType DTypeOf<int32_t> = DType::kI32;
template <>
inline constexpr DType DTypeOf<int64_t> = DType::kI64;
template <>
inline constexpr DType DTypeOf<bool> = DType::kBool;

}  // namespace kiln
