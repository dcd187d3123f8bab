// sum, mean, prod, var, max, min and argmax. The IR reduces over explicit, sorted, non-negative
// axes; the conveniences (negative axes, "all dims", dtype rules) are resolved here.
#include <algorithm>
#include <optional>
#include <vector>

#include "lazy/op_utils.h"
#include "lazy/ops.h"
#include "lazy/tensor_impl.h"

namespace kiln {
namespace {

using internal::CastTo;
using internal::CheckOperand;
using internal::NormalizeDim;
using internal::NormalizeDims;
using internal::ReshapeTo;
using internal::ThrowOpError;

Tensor RecordReduce(OpKind op, const Tensor& x, std::vector<int64_t> dims, bool keepdim,
                    const CallSite& site) {
  return RecordOp(op, {x}, Attributes().Set("dims", std::move(dims)).Set("keepdim", keepdim), site);
}

// sum and prod: as in PyTorch, bool and integers accumulate in i64, so that counts do not
// overflow.
Tensor SumOrProd(OpKind op, const Tensor& x, const std::vector<int64_t>& dims, bool keepdim,
                 const CallSite& site) {
  const std::string_view name = OpName(op);
  CheckOperand(name, x);
  std::vector<int64_t> axes = NormalizeDims(name, dims, x.shape());
  const DType dtype = IsFloating(x.dtype()) ? x.dtype() : DType::kI64;
  return RecordReduce(op, CastTo(x, dtype, site), std::move(axes), keepdim, site);
}

// max and min have no identity, so an empty extent is an error (as in PyTorch).
void CheckNonEmpty(std::string_view op, const Tensor& x, const std::vector<int64_t>& dims) {
  for (int64_t d : dims) {
    if (x.shape().size(d) == 0) {
      ThrowOpError(op, ": cannot reduce over dimension ", d, " of ", x.shape().ToString(),
                   ", which has size 0");
    }
  }
}

// max/min: bool has no numeric reduction in the IR, so it goes through i32 and back.
Tensor MaxMin(OpKind op, const Tensor& x, const std::vector<int64_t>& dims, bool keepdim,
              const CallSite& site) {
  const std::string_view name = OpName(op);
  CheckOperand(name, x);
  std::vector<int64_t> axes = NormalizeDims(name, dims, x.shape());
  CheckNonEmpty(name, x, axes);
  if (x.dtype() != DType::kBool) return RecordReduce(op, x, std::move(axes), keepdim, site);
  Tensor as_int = CastTo(x, DType::kI32, site);
  return CastTo(RecordReduce(op, as_int, std::move(axes), keepdim, site), DType::kBool, site);
}

// The index of the first largest (or smallest) value along `dim`, or into the flattened
// tensor when dim is absent; errors name `op`.
Tensor ArgExtreme(std::string_view op, const Tensor& x, std::optional<int64_t> dim, bool keepdim,
                  bool smallest, const CallSite& site) {
  CheckOperand(op, x);
  const Shape& shape = x.shape();
  std::optional<int64_t> axis;
  if (dim.has_value()) {
    axis = NormalizeDim(op, *dim, shape);
    CheckNonEmpty(op, x, {*axis});
  } else if (shape.numel() == 0) {
    ThrowOpError(op, ": cannot take the ", op, " of ", shape.ToString(), ", which is empty");
  }
  Tensor input = x.dtype() == DType::kBool ? CastTo(x, DType::kI32, site) : x;
  // The smallest is the largest of the order reversed: -x for floats (NaN stays NaN and
  // is found first, as in torch), -1 - x for integers (which cannot overflow).
  if (smallest) input = IsFloating(input.dtype()) ? neg(input, site) : sub(-1, input, site);
  if (axis.has_value()) {
    return RecordOp(OpKind::kArgmax, {input},
                    Attributes().Set("dim", *axis).Set("keepdim", keepdim), site);
  }
  Tensor flat = ReshapeTo(input, {shape.numel()}, site);
  Tensor index = RecordOp(OpKind::kArgmax, {flat},
                          Attributes().Set("dim", int64_t{0}).Set("keepdim", false), site);
  if (!keepdim) return index;
  return ReshapeTo(index, std::vector<int64_t>(shape.rank(), 1), site);
}

// var and std (errors name `op`): two passes, the mean first, which stays accurate when
// the mean is large.
Tensor Variance(std::string_view op, const Tensor& x, const std::vector<int64_t>& dims,
                bool keepdim, int64_t correction, const CallSite& site) {
  CheckOperand(op, x);
  if (!IsFloating(x.dtype())) {
    ThrowOpError(op, ": expected a floating dtype, got ", x.shape().ToString(), "; cast first");
  }
  if (correction < 0) ThrowOpError(op, ": expected a correction >= 0, got ", correction);
  std::vector<int64_t> axes = NormalizeDims(op, dims, x.shape());
  int64_t n = 1;
  for (int64_t a : axes) n *= x.shape().size(a);
  Tensor centered = sub(x, mean(x, axes, /*keepdim=*/true, site), site);
  Tensor squares = sum(mul(centered, centered, site), axes, keepdim, site);
  return div(squares, static_cast<double>(std::max<int64_t>(0, n - correction)), site);
}

// any / all: whether the count of non-zero (zero) elements over the dims is above 0 (is
// 0). A count, not a max or min, so that reducing nothing gives false and true, as torch.
Tensor AnyAll(std::string_view op, const Tensor& x, const std::vector<int64_t>& dims, bool keepdim,
              const CallSite& site) {
  CheckOperand(op, x);
  std::vector<int64_t> axes = NormalizeDims(op, dims, x.shape());
  const bool is_any = op == "any";
  const Tensor counted = is_any ? CastTo(x, DType::kBool, site) : logical_not(x, site);
  const Tensor count = sum(counted, std::move(axes), keepdim, site);
  return is_any ? gt(count, 0, site) : eq(count, 0, site);
}

}  // namespace

Tensor sum(const Tensor& x, std::vector<int64_t> dims, bool keepdim, CallSite site) {
  return SumOrProd(OpKind::kSum, x, dims, keepdim, site);
}

Tensor mean(const Tensor& x, std::vector<int64_t> dims, bool keepdim, CallSite site) {
  CheckOperand("mean", x);
  if (!IsFloating(x.dtype())) {
    ThrowOpError("mean: expected a floating dtype, got ", x.shape().ToString(), "; cast first");
  }
  std::vector<int64_t> axes = NormalizeDims("mean", dims, x.shape());
  return RecordReduce(OpKind::kMean, x, std::move(axes), keepdim, site);
}

Tensor prod(const Tensor& x, std::vector<int64_t> dims, bool keepdim, CallSite site) {
  return SumOrProd(OpKind::kProd, x, dims, keepdim, site);
}

Tensor var(const Tensor& x, std::vector<int64_t> dims, bool keepdim, int64_t correction,
           CallSite site) {
  return Variance("var", x, dims, keepdim, correction, site);
}

Tensor std(const Tensor& x, std::vector<int64_t> dims, bool keepdim, int64_t correction,
           CallSite site) {
  const Tensor v = Variance("std", x, dims, keepdim, correction, site);
  // The gradient of sqrt at 0 is infinite; where the variance is 0 every deviation is 0
  // too, and torch's gradient there is 0. The square root of 1 in its place keeps the
  // unused branch finite, so that no 0 * inf reaches the gradient.
  const Tensor zero = eq(v, 0, site);
  return where(zero, 0, sqrt(where(zero, 1, v, site), site), site);
}

Tensor any(const Tensor& x, std::vector<int64_t> dims, bool keepdim, CallSite site) {
  return AnyAll("any", x, dims, keepdim, site);
}

Tensor all(const Tensor& x, std::vector<int64_t> dims, bool keepdim, CallSite site) {
  return AnyAll("all", x, dims, keepdim, site);
}

Tensor max(const Tensor& x, std::vector<int64_t> dims, bool keepdim, CallSite site) {
  return MaxMin(OpKind::kMax, x, dims, keepdim, site);
}

Tensor min(const Tensor& x, std::vector<int64_t> dims, bool keepdim, CallSite site) {
  return MaxMin(OpKind::kMin, x, dims, keepdim, site);
}

Tensor argmax(const Tensor& x, std::optional<int64_t> dim, bool keepdim, CallSite site) {
  return ArgExtreme("argmax", x, dim, keepdim, /*smallest=*/false, site);
}

Tensor argmin(const Tensor& x, std::optional<int64_t> dim, bool keepdim, CallSite site) {
  return ArgExtreme("argmin", x, dim, keepdim, /*smallest=*/true, site);
}

}  // namespace kiln
