#pragma once
// Input checks and normalisation shared by the op implementations in lazy/*_ops.cc.
// Every check throws kiln::Error naming the op and the shapes before anything is
// recorded, so a rejected call leaves no IR behind.
//
//   CheckOperand("sum", x);
//   int64_t d = NormalizeDim("sum", -1, x.shape());   // f32[2,3] -> 1
#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/types/span.h"
#include "ir/shape.h"
#include "lazy/tensor.h"
#include "util/error.h"

namespace kiln::internal {

// Debian's abseil has its own string_view, which std::string_view does not convert to.
template <typename T>
decltype(auto) AsText(const T& part) {
  if constexpr (std::is_same_v<T, std::string_view>) {
    return absl::string_view(part.data(), part.size());
  } else {
    return part;
  }
}

// Throws kiln::Error with the concatenation of `parts`.
template <typename... Args>
[[noreturn]] void ThrowOpError(const Args&... parts) {
  std::string message;
  (absl::StrAppend(&message, AsText(parts)), ...);
  throw Error(message);
}

// Throws unless `t` is defined and of a dtype ops accept (f16/bf16 are reserved).
// `what` names the operand ("input", "index", ...). Returns t.shape(), so hot callers
// need not look it up (and re-check definedness) again.
const Shape& CheckOperand(std::string_view op, const Tensor& t, std::string_view what = "input");

// Throws unless all defined tensors in `tensors` share one backend.
void CheckSameBackend(std::string_view op, absl::Span<const Tensor* const> tensors);

// Maps `dim` (negative counts from the end) into [0, rank); throws when out of range:
// "sum: dimension 3 is out of range for f32[2,3] (expected -2..1)".
int64_t NormalizeDim(std::string_view op, int64_t dim, const Shape& shape);

// Like NormalizeDim for an insertion point: `dim` in [-(rank+1), rank].
int64_t NormalizeInsertDim(std::string_view op, int64_t dim, const Shape& shape);

// Normalises and sorts a set of reduction axes; empty means every dimension.
// Duplicates throw.
std::vector<int64_t> NormalizeDims(std::string_view op, absl::Span<const int64_t> dims,
                                   const Shape& shape);

// The NumPy broadcast of the sizes of `shapes`; throws naming the op and the shapes.
Sizes BroadcastOrThrow(std::string_view op, absl::Span<const Shape* const> shapes);

// "[2,-1]".
std::string SizesToString(absl::Span<const int64_t> sizes);

// `x` converted to `dtype`: `x` itself when it already has that dtype (no node).
Tensor CastTo(const Tensor& x, DType dtype, const CallSite& site);

// CastTo without copying `x` when no cast is needed: returns `x` itself, or the cast
// stored in `*holder`, which must outlive the returned reference.
//   Tensor a_cast;
//   const Tensor& a32 = CastOrSelf(a, DType::kF32, site, &a_cast);
const Tensor& CastOrSelf(const Tensor& x, DType dtype, const CallSite& site, Tensor* holder);

// Records a reshape of `x` to `sizes` (already resolved, no -1).
Tensor ReshapeTo(const Tensor& x, absl::Span<const int64_t> sizes, const CallSite& site);

}  // namespace kiln::internal
