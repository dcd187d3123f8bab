// sort, argsort and topk, built from existing ops so that every backend, the fusion
// planner and autograd take them as they are, with no data-dependent control flow.
// Sorting: each element's rank in the order is a count of the elements that come before
// it (one reduction over all pairs of a row); the ranks are a permutation, which a scatter
// inverts into the sorted indices: O(n^2) comparisons per row of n, in three kernels.
// A small k (the top 5 of a row of logits) is selected instead, one element per pass:
// O(k n) in 2k reductions. Both order equal values by position, so they agree exactly.
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "lazy/op_utils.h"
#include "lazy/ops.h"
#include "lazy/scalar_tensor.h"

namespace kiln {
namespace {

using internal::ArangeTensor;
using internal::CastTo;
using internal::CheckOperand;
using internal::ConstantTensor;
using internal::NormalizeDim;
using internal::ThrowOpError;

// topk selects, one pass each, up to this many elements from rows at least 4 times longer.
constexpr int64_t kMaxSelectionPasses = 16;

// Whether a comes strictly before b: the larger first when descending, the smaller first
// otherwise, with NaN the largest value, as in torch.sort.
Tensor Before(const Tensor& a, const Tensor& b, bool descending, const CallSite& site) {
  Tensor before = descending ? gt(a, b, site) : lt(a, b, site);
  if (!IsFloating(a.dtype())) return before;
  const Tensor a_nan = ne(a, a, site);
  const Tensor b_nan = ne(b, b, site);
  const Tensor nan_first = descending ? logical_and(a_nan, logical_not(b_nan, site), site)
                                      : logical_and(b_nan, logical_not(a_nan, site), site);
  return logical_or(before, nan_first, site);
}

// The indices that order the last dimension of `keys`; equal keys keep their order.
Tensor OrderOfLastDim(const Tensor& keys, bool descending, const CallSite& site) {
  const int64_t n = keys.shape().size(keys.dim() - 1);
  const Tensor j = ArangeTensor(n, DType::kI64, keys, site);
  const Tensor i = unsqueeze(j, 1, site);
  const Tensor xi = unsqueeze(keys, -1, site);  // [..., n, 1]
  const Tensor xj = unsqueeze(keys, -2, site);  // [..., 1, n]
  // Element i's rank counts the j that come before it: those before it in the order, and
  // those earlier in the row that it does not come before (ties).
  const Tensor counted = where(lt(j, i, site), logical_not(Before(xi, xj, descending, site), site),
                               Before(xj, xi, descending, site), site);
  const Tensor rank = sum(counted, {-1}, /*keepdim=*/false, site);  // bool sums to i64
  const std::vector<int64_t> sizes(keys.shape().sizes().begin(), keys.shape().sizes().end());
  const Tensor zeros = expand(ConstantTensor(0, DType::kI64, keys, site), sizes, site);
  return scatter_add(zeros, -1, rank, expand(j, sizes, site), site);
}

// The indices of the first k (> 0) in the order along the last dimension of `keys`, by k
// passes: each takes the best value among the elements not taken yet (NaN aside), then
// the first element not taken that holds it, or a NaN where NaN comes first.
Tensor SelectFirstOfLastDim(const Tensor& keys, int64_t k, bool descending, const CallSite& site) {
  const int64_t n = keys.shape().size(keys.dim() - 1);
  const Tensor positions = ArangeTensor(n, DType::kI64, keys, site);
  const bool floating = IsFloating(keys.dtype());
  const Tensor nan = floating ? ne(keys, keys, site) : Tensor();
  // What a taken element (or a NaN) shows to the max or min: it never wins over another.
  const auto worst = [&]() -> Scalar {
    if (floating) return descending ? -INFINITY : INFINITY;
    if (keys.dtype() == DType::kI32) {
      return descending ? std::numeric_limits<int32_t>::lowest()
                        : std::numeric_limits<int32_t>::max();
    }
    return descending ? std::numeric_limits<int64_t>::lowest()
                      : std::numeric_limits<int64_t>::max();
  }();
  const auto as_i32 = [&](const Tensor& b) { return CastTo(b, DType::kI32, site); };
  Tensor taken;  // bool, undefined before the first pass
  std::vector<Tensor> picked;
  for (int64_t pass = 0; pass < k; ++pass) {
    Tensor hidden = taken;
    if (floating) hidden = hidden.defined() ? logical_or(hidden, nan, site) : nan;
    const Tensor candidates = hidden.defined() ? where(hidden, worst, keys, site) : keys;
    const Tensor best = descending ? max(candidates, {-1}, /*keepdim=*/true, site)
                                   : min(candidates, {-1}, /*keepdim=*/true, site);
    Tensor holds_best = eq(keys, best, site);
    Tensor open_nan = nan;
    if (taken.defined()) {
      const Tensor open = logical_not(taken, site);
      holds_best = logical_and(holds_best, open, site);
      if (floating) open_nan = logical_and(nan, open, site);
    }
    // argmax finds the first of the highest score: 2 for what this pass takes before the
    // rest (a NaN not taken yet when descending, the best value when ascending), 1 for it.
    Tensor score = as_i32(holds_best);
    if (floating) {
      score = descending ? add(mul(as_i32(open_nan), 2, site), score, site)
                         : add(mul(score, 2, site), as_i32(open_nan), site);
    }
    picked.push_back(argmax(score, -1, /*keepdim=*/true, site));
    const Tensor now_taken = eq(positions, picked.back(), site);
    taken = taken.defined() ? logical_or(taken, now_taken, site) : now_taken;
  }
  return concat(picked, -1, site);
}

// The first `k` of x along `axis` in the order, as values and indices.
SortResult FirstInOrder(const Tensor& x, int64_t axis, int64_t k, bool descending,
                        const CallSite& site) {
  const int64_t last = x.dim() - 1;
  const auto to_last = [&](const Tensor& t) {
    return axis == last ? t : transpose(t, axis, last, site);
  };
  const Tensor moved = to_last(x);
  // Comparisons need numbers: bool orders as 0 and 1.
  const Tensor keys = moved.dtype() == DType::kBool ? CastTo(moved, DType::kI32, site) : moved;
  const int64_t n = x.shape().size(axis);
  Tensor indices;
  if (k > 0 && k <= kMaxSelectionPasses && 4 * k <= n) {
    indices = SelectFirstOfLastDim(keys, k, descending, site);
  } else {
    indices = OrderOfLastDim(keys, descending, site);
    if (k < n) indices = slice(indices, -1, 0, k, 1, site);
  }
  return {to_last(gather(moved, -1, indices, site)), to_last(indices)};
}

}  // namespace

SortResult sort(const Tensor& x, int64_t dim, bool descending, CallSite site) {
  CheckOperand("sort", x);
  const int64_t axis = NormalizeDim("sort", dim, x.shape());
  return FirstInOrder(x, axis, x.shape().size(axis), descending, site);
}

Tensor argsort(const Tensor& x, int64_t dim, bool descending, CallSite site) {
  CheckOperand("argsort", x);
  const int64_t axis = NormalizeDim("argsort", dim, x.shape());
  return FirstInOrder(x, axis, x.shape().size(axis), descending, site).indices;
}

SortResult topk(const Tensor& x, int64_t k, int64_t dim, bool largest, CallSite site) {
  CheckOperand("topk", x);
  const int64_t axis = NormalizeDim("topk", dim, x.shape());
  if (k < 0 || k > x.shape().size(axis)) {
    ThrowOpError("topk: k = ", k, " is out of range for dimension ", axis, " of ",
                 x.shape().ToString(), " (expected 0..", x.shape().size(axis), ")");
  }
  return FirstInOrder(x, axis, k, largest, site);
}

}  // namespace kiln
