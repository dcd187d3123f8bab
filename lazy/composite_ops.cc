// softmax, log_softmax, layer_norm, gelu and cross_entropy, written in terms of the
// primitive ops so every backend and the fusion planner only ever see primitives.
#include "lazy/composite_ops.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numbers>
#include <optional>
#include <string_view>
#include <vector>

#include "lazy/autograd.h"
#include "lazy/grad_mode.h"
#include "lazy/op_utils.h"
#include "lazy/ops.h"
#include "lazy/scalar_tensor.h"
#include "lazy/tensor_impl.h"

namespace kiln {
namespace {

using internal::CastTo;
using internal::CheckOperand;
using internal::CheckSameBackend;
using internal::ConstantTensor;
using internal::NormalizeDim;
using internal::NormalizeDims;
using internal::ThrowOpError;

// Integer and bool inputs are computed in f32, like the float-only unary ops.
Tensor AsFloating(const Tensor& x, const CallSite& site) {
  return IsFloating(x.dtype()) ? x : CastTo(x, DType::kF32, site);
}

// The trailing dimensions a norm normalises over: those `weight` covers (which must be x's
// trailing sizes), or the last one when weight is undefined. x must be floating, rank >= 1.
std::vector<int64_t> NormalizedDims(std::string_view op, const Tensor& x, const Tensor& weight) {
  const Shape& shape = x.shape();
  if (!IsFloating(shape.dtype())) {
    ThrowOpError(op, ": expected a floating input, got ", shape.ToString());
  }
  if (shape.rank() == 0) {
    ThrowOpError(op, ": expected an input with at least 1 dimension, got ", shape.ToString());
  }
  if (!weight.defined()) return {shape.rank() - 1};
  const int64_t n = weight.dim();
  bool match = n > 0 && n <= shape.rank();
  for (int64_t i = 0; match && i < n; ++i) {
    match = shape.size(shape.rank() - n + i) == weight.size(i);
  }
  if (!match) {
    ThrowOpError(op, ": weight ", weight.shape().ToString(),
                 " must match the trailing dimensions of the input ", shape.ToString());
  }
  std::vector<int64_t> dims;
  for (int64_t d = shape.rank() - n; d < shape.rank(); ++d) dims.push_back(d);
  return dims;
}

}  // namespace

namespace internal {

Tensor ApplyReduction(const Tensor& loss, Reduction reduction, const CallSite& site) {
  switch (reduction) {
    case Reduction::kNone:
      return loss;
    case Reduction::kSum:
      return sum(loss, {}, false, site);
    case Reduction::kMean:
      return mean(loss, {}, false, site);
  }
  return loss;
}

void RecordSoftmaxGradient(const Tensor& x, const Tensor& p, int64_t axis, const CallSite& site) {
  const Tensor* inputs[] = {&x};
  autograd::RecordCustomGradient(
      inputs, p, {p}, [axis, site](const std::vector<Tensor>& saved, const Tensor& g) {
        const Tensor& out = saved[0];
        Tensor dot = sum(mul(g, out, site), {axis}, /*keepdim=*/true, site);
        return std::vector<Tensor>{mul(out, sub(g, dot, site), site)};
      });
}

}  // namespace internal

Tensor softmax(const Tensor& x, int64_t dim, CallSite site) {
  CheckOperand("softmax", x);
  const int64_t axis = NormalizeDim("softmax", dim, x.shape());
  Tensor p;
  {
    NoGradGuard no_grad;
    Tensor in = AsFloating(x, site);
    if (in.numel() == 0) {
      // An empty row has no max to subtract; its softmax is empty too.
      p = exp(in, site);
    } else {
      Tensor e = exp(sub(in, max(in, {axis}, /*keepdim=*/true, site), site), site);
      p = div(e, sum(e, {axis}, /*keepdim=*/true, site), site);
    }
  }
  internal::RecordSoftmaxGradient(x, p, axis, site);
  return p;
}

Tensor log_softmax(const Tensor& x, int64_t dim, CallSite site) {
  CheckOperand("log_softmax", x);
  const int64_t axis = NormalizeDim("log_softmax", dim, x.shape());
  Tensor in = AsFloating(x, site);
  if (in.numel() == 0) return exp(in, site);
  // Detached as in softmax: the shift cancels out of the result.
  Tensor shifted = sub(in, max(in, {axis}, /*keepdim=*/true, site).detach(), site);
  Tensor log_sum = log(sum(exp(shifted, site), {axis}, /*keepdim=*/true, site), site);
  return sub(shifted, log_sum, site);
}

Tensor logsumexp(const Tensor& x, std::vector<int64_t> dims, bool keepdim, CallSite site) {
  CheckOperand("logsumexp", x);
  const std::vector<int64_t> axes = NormalizeDims("logsumexp", dims, x.shape());
  const Tensor in = AsFloating(x, site);
  // An empty sum: log(0) = -inf, with no max to take.
  if (in.numel() == 0) return log(sum(exp(in, site), axes, keepdim, site), site);
  // Detached as in softmax: the shift cancels out of the result and its gradient.
  const Tensor m = max(in, axes, /*keepdim=*/true, site).detach();
  const Tensor shift = where(lt(abs(m, site), INFINITY, site), m, 0, site);
  const Tensor log_sum =
      log(sum(exp(sub(in, shift, site), site), axes, /*keepdim=*/true, site), site);
  const Tensor result = add(log_sum, shift, site);
  if (keepdim) return result;
  std::vector<int64_t> sizes;
  for (int64_t d = 0; d < x.dim(); ++d) {
    if (std::find(axes.begin(), axes.end(), d) == axes.end()) sizes.push_back(x.shape().size(d));
  }
  return reshape(result, sizes, site);
}

Tensor layer_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, double eps,
                  CallSite site) {
  CheckOperand("layer_norm", x);
  if (weight.defined()) CheckOperand("layer_norm", weight, "weight");
  if (bias.defined()) CheckOperand("layer_norm", bias, "bias");
  CheckSameBackend("layer_norm", {&x, &weight, &bias});
  const std::vector<int64_t> dims = NormalizedDims("layer_norm", x, weight);
  const Shape& shape = x.shape();
  const Sizes normalized(shape.sizes().end() - dims.size(), shape.sizes().end());
  if (bias.defined() && bias.sizes() != normalized) {
    ThrowOpError("layer_norm: bias ", bias.shape().ToString(), " must have the sizes ",
                 Shape(shape.dtype(), normalized).SizesString(),
                 " of the normalised dimensions of ", shape.ToString());
  }
  std::vector<int64_t> leading;
  for (int64_t d = 0; d < dims.front(); ++d) leading.push_back(d);

  Tensor mu, rstd, y;
  {
    NoGradGuard no_grad;
    mu = mean(x, dims, /*keepdim=*/true, site);
    Tensor centered = sub(x, mu, site);
    Tensor var = mean(mul(centered, centered, site), dims, /*keepdim=*/true, site);
    rstd = rsqrt(add(var, Scalar(eps), site), site);
    y = mul(centered, rstd, site);
    if (weight.defined()) y = mul(y, weight, site);
    if (bias.defined()) y = add(y, bias, site);
  }
  // The backward keeps x and the per-row mean and 1/std, and recomputes the normalised
  // x from them, rather than keeping the centred and normalised x of the forward:
  //   dx = rstd (gw - mean(gw) - xhat mean(gw xhat)), gw = g w;
  //   dw = sum over rows of g xhat; db = sum over rows of g.
  std::vector<const Tensor*> inputs = {&x};
  if (weight.defined()) inputs.push_back(&weight);
  if (bias.defined()) inputs.push_back(&bias);
  std::vector<Tensor> saved = {x, mu, rstd};
  if (weight.defined()) saved.push_back(weight);
  const bool has_weight = weight.defined(), has_bias = bias.defined();
  autograd::RecordCustomGradient(
      inputs, y, saved,
      [dims, leading, has_weight, has_bias, site](const std::vector<Tensor>& saved,
                                                  const Tensor& g) {
        const Tensor xhat = mul(sub(saved[0], saved[1], site), saved[2], site);
        const Tensor gw = has_weight ? mul(g, saved[3], site) : g;
        const Tensor mean_gw = mean(gw, dims, /*keepdim=*/true, site);
        const Tensor mean_gwx = mean(mul(gw, xhat, site), dims, /*keepdim=*/true, site);
        std::vector<Tensor> grads = {
            mul(saved[2], sub(sub(gw, mean_gw, site), mul(xhat, mean_gwx, site), site), site)};
        // Summed over the rows (the leading dimensions), if there are any.
        const auto over_rows = [&](const Tensor& t) {
          return leading.empty() ? t : sum(t, leading, /*keepdim=*/false, site);
        };
        if (has_weight) grads.push_back(over_rows(mul(g, xhat, site)));
        if (has_bias) grads.push_back(over_rows(g));
        return grads;
      });
  return y;
}

Tensor rms_norm(const Tensor& x, const Tensor& weight, std::optional<double> eps, CallSite site) {
  CheckOperand("rms_norm", x);
  if (weight.defined()) CheckOperand("rms_norm", weight, "weight");
  CheckSameBackend("rms_norm", {&x, &weight});
  const std::vector<int64_t> dims = NormalizedDims("rms_norm", x, weight);
  if (eps.has_value() && !(*eps >= 0)) {
    ThrowOpError("rms_norm: expected eps >= 0, got ", *eps, " for ", x.shape().ToString());
  }
  // torch's default: the dtype's machine epsilon.
  const double e = eps.value_or(x.dtype() == DType::kF64 ? std::numeric_limits<double>::epsilon()
                                                         : std::numeric_limits<float>::epsilon());
  const Tensor mean_square = mean(mul(x, x, site), dims, /*keepdim=*/true, site);
  const Tensor y = mul(x, rsqrt(add(mean_square, e, site), site), site);
  return weight.defined() ? mul(y, weight, site) : y;
}

Tensor gelu(const Tensor& x, GeluApproximation approximate, CallSite site) {
  CheckOperand("gelu", x);
  Tensor in = AsFloating(x, site);
  // Fixed coefficients are baked constants: they never change, and code generation can
  // fold them.
  const auto c = [&](double value) { return ConstantTensor(value, in.dtype(), in, site); };
  Tensor half_x = mul(in, c(0.5), site);
  if (approximate == GeluApproximation::kNone) {
    Tensor e = erf(mul(in, c(1.0 / std::numbers::sqrt2), site), site);
    return mul(half_x, add(e, c(1.0), site), site);
  }
  // 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))), as 0.5 x + 0.5 x tanh(...): the
  // backward then needs only tanh(...) and 0.5 x, which the fusion planner recomputes from
  // x (kMaxRecomputedOps) instead of storing tanh for it.
  const double k = std::sqrt(2.0 / std::numbers::pi);
  Tensor cube = mul(mul(in, in, site), in, site);
  Tensor inner = mul(add(in, mul(cube, c(0.044715), site), site), c(k), site);
  return add(half_x, mul(half_x, tanh(inner, site), site), site);
}

Tensor cross_entropy(const Tensor& logits, const Tensor& labels, Reduction reduction,
                     CallSite site) {
  CheckOperand("cross_entropy", logits, "logits");
  CheckOperand("cross_entropy", labels, "labels");
  CheckSameBackend("cross_entropy", {&logits, &labels});
  const Shape& ls = logits.shape();
  const Shape& ys = labels.shape();
  if (ls.rank() != 2 || !IsFloating(ls.dtype())) {
    ThrowOpError("cross_entropy: expected floating logits [N, C], got ", ls.ToString());
  }
  if (ys.rank() != 1 || !IsIntegral(ys.dtype())) {
    ThrowOpError("cross_entropy: expected i32 or i64 labels [N], got ", ys.ToString(),
                 " for logits ", ls.ToString());
  }
  if (ys.size(0) != ls.size(0)) {
    ThrowOpError("cross_entropy: logits ", ls.ToString(), " and labels ", ys.ToString(),
                 " disagree on N (", ls.size(0), " vs ", ys.size(0), ")");
  }
  if (ls.size(1) == 0) {
    ThrowOpError("cross_entropy: logits ", ls.ToString(), " have no classes");
  }
  Tensor log_probs = log_softmax(logits, 1, site);
  Tensor picked = gather(log_probs, 1, unsqueeze(labels, 1, site), site);
  Tensor nll = neg(reshape(picked, {ls.size(0)}, site), site);
  return internal::ApplyReduction(nll, reduction, site);
}

}  // namespace kiln
