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
int DTypeSize(DType dtype);
bool IsFloating(DType dtype);
bool IsIntegral(DType dtype);  // i32, i64 (not bool)
// f16 and bf16 are not supported by any op yet.
bool IsReserved(DType dtype);

// PyTorch's promotion for two tensors: bool < integers < floating, and within a
// category the wider type, e.g. (i32, f32) -> f32, (i32, i64) -> i64, (f32, f64) -> f64.
DType PromoteTypes(DType a, DType b);

// The DType of a C++ element type: DTypeOf<float> == DType::kF32.
template <typename T> inline constexpr DType DTypeOf = DType::kF32;
template <> inline constexpr DType DTypeOf<double> = DType::kF64;
template <> inline constexpr DType DTypeOf<int32_t> = DType::kI32;
template <> inline constexpr DType DTypeOf<int64_t> = DType::kI64;
template <> inline constexpr DType DTypeOf<bool> = DType::kBool;

}  // namespace kiln
