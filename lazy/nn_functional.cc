// nn::linear and nn::masked_softmax in terms of the primitive ops.
#include "lazy/nn_functional.h"

#include <cmath>
#include <limits>
#include <string_view>
#include <vector>

#include "lazy/composite_ops.h"
#include "lazy/creation.h"
#include "lazy/grad_mode.h"
#include "lazy/op_utils.h"
#include "lazy/ops.h"
#include "lazy/scalar_tensor.h"

namespace kiln::nn {

using internal::NormalizeDim;
using internal::ThrowOpError;

namespace {

// dropout's and drop_path's operands: a floating x and p in [0, 1].
void CheckDropProbability(std::string_view op, const Tensor& x, double p) {
  internal::CheckOperand(op, x);
  if (!(p >= 0 && p <= 1)) {
    ThrowOpError(op, ": expected a probability p in [0, 1], got ", p, " for ",
                 x.shape().ToString());
  }
  if (!IsFloating(x.dtype())) {
    ThrowOpError(op, ": expected a floating dtype, got ", x.shape().ToString());
  }
}

// x where `uniform` < 1 - p, scaled by 1 / (1 - p), and 0 elsewhere: dropout and drop_path
// given their uniform draws.
Tensor KeepScaled(const Tensor& x, const Tensor& uniform, double p, const CallSite& site) {
  const Tensor keep = lt(uniform, 1 - p, site);
  return mul(x, mul(internal::CastTo(keep, x.dtype(), site), 1 / (1 - p), site), site);
}

}  // namespace

Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias, CallSite site) {
  internal::CheckOperand("linear", x);
  internal::CheckOperand("linear", weight, "weight");
  if (bias.defined()) internal::CheckOperand("linear", bias, "bias");
  internal::CheckSameBackend("linear", {&x, &weight, &bias});
  const Shape& xs = x.shape();
  const Shape& ws = weight.shape();
  if (xs.dtype() == DType::kBool || ws.dtype() == DType::kBool) {
    ThrowOpError("linear: bool operands are not supported, got input ", xs.ToString(),
                 " and weight ", ws.ToString(), "; cast to a numeric dtype first");
  }
  if (ws.rank() != 2) {
    ThrowOpError("linear: expected a weight [out, in], got ", ws.ToString());
  }
  const int64_t in = ws.size(1);
  const int64_t out = ws.size(0);
  if (xs.rank() == 0 || xs.size(xs.rank() - 1) != in) {
    ThrowOpError("linear: expected an input [..., ", in, "] for weight ", ws.ToString(), ", got ",
                 xs.ToString());
  }
  if (bias.defined()) {
    if (bias.dim() != 1 || bias.size(0) != out) {
      ThrowOpError("linear: expected a bias [", out, "] for weight ", ws.ToString(), ", got ",
                   bias.shape().ToString());
    }
  }
  Tensor wt = transpose(weight, 0, 1, site);
  Tensor y;
  if (xs.rank() <= 2) {
    y = matmul(x, wt, site);
  } else {
    // One [rows, in] x [in, out] product rather than a batched one.
    std::vector<int64_t> sizes(xs.sizes().begin(), xs.sizes().end());
    int64_t rows = 1;
    for (size_t i = 0; i + 1 < sizes.size(); ++i) rows *= sizes[i];
    Tensor flat = reshape(x, {rows, in}, site);
    sizes.back() = out;
    y = reshape(matmul(flat, wt, site), sizes, site);
  }
  if (bias.defined()) y = add(y, bias, site);
  return y;
}

Tensor masked_softmax(const Tensor& x, const Tensor& mask, int64_t dim, CallSite site) {
  if (!mask.defined()) return softmax(x, dim, site);
  internal::CheckOperand("masked_softmax", x);
  internal::CheckOperand("masked_softmax", mask, "mask");
  internal::CheckSameBackend("masked_softmax", {&x, &mask});
  const Shape& xs = x.shape();
  if (!IsFloating(xs.dtype())) {
    ThrowOpError("masked_softmax: expected a floating input, got ", xs.ToString());
  }
  if (mask.dtype() != DType::kBool) {
    ThrowOpError("masked_softmax: expected a bool mask, got ", mask.shape().ToString(),
                 " for input ", xs.ToString());
  }
  const Shape* shapes[] = {&xs, &mask.shape()};
  if (internal::BroadcastOrThrow("masked_softmax", shapes) != xs.sizes()) {
    ThrowOpError("masked_softmax: mask ", mask.shape().ToString(), " must broadcast to the input ",
                 xs.ToString());
  }
  const int64_t axis = NormalizeDim("masked_softmax", dim, xs);
  const double inf = std::numeric_limits<double>::infinity();
  Tensor p;
  {
    NoGradGuard no_grad;
    // The row max over unmasked entries; -inf (no entry) becomes 0.
    Tensor row_max = max(where(mask, x, Scalar(-inf), site), {axis}, /*keepdim=*/true, site);
    Tensor shift = where(eq(row_max, Scalar(-inf), site), Scalar(0.0), row_max, site);
    Tensor shifted = where(mask, sub(x, shift, site), Scalar(0.0), site);
    Tensor e = where(mask, exp(shifted, site), Scalar(0.0), site);
    Tensor denom = sum(e, {axis}, /*keepdim=*/true, site);
    Tensor safe_denom = where(gt(denom, Scalar(0.0), site), denom, Scalar(1.0), site);
    p = div(e, safe_denom, site);
  }
  // Masked entries have p = 0, so their gradient is 0.
  internal::RecordSoftmaxGradient(x, p, axis, site);
  return p;
}

Tensor dropout(const Tensor& x, double p, Generator& gen, bool training, CallSite site) {
  CheckDropProbability("dropout", x, p);
  if (!training || p == 0) return x;
  if (p == 1) return mul(x, 0.0, site);
  return KeepScaled(x, rand_like(x, gen, site), p, site);
}

Tensor drop_path(const Tensor& x, double p, Generator& gen, bool training, CallSite site) {
  CheckDropProbability("drop_path", x, p);
  if (x.dim() == 0) {
    ThrowOpError("drop_path: expected at least one (sample) dimension, got ", x.shape().ToString());
  }
  if (!training || p == 0) return x;
  if (p == 1) return mul(x, 0.0, site);
  std::vector<int64_t> per_sample(x.dim(), 1);
  per_sample[0] = x.size(0);
  return KeepScaled(x, internal::RandUniformTensor(std::move(per_sample), x.dtype(), gen, x, site),
                    p, site);
}

Tensor softplus(const Tensor& x, double beta, double threshold, CallSite site) {
  internal::CheckOperand("softplus", x);
  if (!(beta > 0)) {
    ThrowOpError("softplus: expected beta > 0, got ", beta, " for ", x.shape().ToString());
  }
  const Tensor xf = IsFloating(x.dtype()) ? x : internal::CastTo(x, DType::kF32, site);
  const Tensor bx = mul(xf, beta, site);
  const Tensor linear = gt(bx, threshold, site);
  // 0 in place of a linear element keeps exp from overflowing there, and so the unused
  // branch's infinities out of the gradient.
  const Tensor safe = where(linear, 0, bx, site);
  return where(linear, xf, div(log1p(exp(safe, site), site), beta, site), site);
}

Tensor leaky_relu(const Tensor& x, double negative_slope, CallSite site) {
  internal::CheckOperand("leaky_relu", x);
  if (!IsFloating(x.dtype())) {
    ThrowOpError("leaky_relu: expected a floating input, got ", x.shape().ToString());
  }
  return where(gt(x, 0, site), x, mul(x, negative_slope, site), site);
}

Tensor normalize(const Tensor& x, double p, int64_t dim, double eps, CallSite site) {
  internal::CheckOperand("normalize", x);
  if (!IsFloating(x.dtype())) {
    ThrowOpError("normalize: expected a floating input, got ", x.shape().ToString());
  }
  if (!(p > 0) || !(eps >= 0)) {
    ThrowOpError("normalize: expected p > 0 and eps >= 0, got p=", p, " eps=", eps, " for ",
                 x.shape().ToString());
  }
  const int64_t axis = NormalizeDim("normalize", dim, x.shape());
  // max(||x||, eps) = max(sum |x|^p, eps^p)^(1/p): the clamp comes before the root, whose
  // gradient at 0 would be infinite.
  const Tensor powers = p == 2 ? mul(x, x, site) : pow(abs(x, site), p, site);
  const Tensor clamped =
      maximum(sum(powers, {axis}, /*keepdim=*/true, site), std::pow(eps, p), site);
  const Tensor norm = p == 2 ? sqrt(clamped, site) : pow(clamped, 1 / p, site);
  return div(x, norm, site);
}

Tensor one_hot(const Tensor& labels, int64_t num_classes, CallSite site) {
  internal::CheckOperand("one_hot", labels, "labels");
  if (labels.dtype() != DType::kI32 && labels.dtype() != DType::kI64) {
    ThrowOpError("one_hot: expected i32 or i64 labels, got ", labels.shape().ToString());
  }
  if (num_classes <= 0) {
    ThrowOpError("one_hot: expected num_classes > 0, got ", num_classes, " for labels ",
                 labels.shape().ToString());
  }
  std::vector<int64_t> sizes(labels.sizes().begin(), labels.sizes().end());
  sizes.push_back(num_classes);
  std::vector<int64_t> one_per_label = sizes;
  one_per_label.back() = 1;
  // A scatter rather than a comparison: its range check reports a label outside
  // [0, num_classes) when the graph runs.
  const Tensor zeros = expand(internal::ConstantTensor(0, DType::kI64, labels, site), sizes, site);
  const Tensor ones =
      expand(internal::ConstantTensor(1, DType::kI64, labels, site), one_per_label, site);
  return scatter_add(zeros, -1, unsqueeze(labels, -1, site), ones, site);
}

}  // namespace kiln::nn
