// nn::cross_entropy with per-sample weights, and the elementwise losses (mse, binary
// cross entropy with logits, l1, smooth l1).
#include "lazy/nn_loss.h"

#include <string_view>

#include "lazy/op_utils.h"
#include "lazy/ops.h"

namespace kiln::nn {

using internal::ApplyReduction;
using internal::ThrowOpError;

namespace {

// An elementwise loss's operands: a floating input and a target of the same shape.
void CheckPair(std::string_view op, const Tensor& input, const Tensor& target) {
  internal::CheckOperand(op, input);
  internal::CheckOperand(op, target, "target");
  internal::CheckSameBackend(op, {&input, &target});
  if (!IsFloating(input.dtype())) {
    ThrowOpError(op, ": expected a floating input, got ", input.shape().ToString());
  }
  if (input.sizes() != target.sizes()) {
    ThrowOpError(op, ": input ", input.shape().ToString(), " and target ",
                 target.shape().ToString(), " must have the same shape");
  }
}

}  // namespace

Tensor cross_entropy(const Tensor& logits, const Tensor& labels, const Tensor& weights,
                     Reduction reduction, CallSite site) {
  if (!weights.defined()) return kiln::cross_entropy(logits, labels, reduction, site);
  internal::CheckOperand("cross_entropy", logits, "logits");
  internal::CheckOperand("cross_entropy", weights, "weights");
  internal::CheckSameBackend("cross_entropy", {&logits, &labels, &weights});
  if (weights.dim() != 1 || logits.dim() != 2 || weights.size(0) != logits.size(0)) {
    ThrowOpError("cross_entropy: expected weights [N] for logits [N, C] ",
                 logits.shape().ToString(), ", got ", weights.shape().ToString());
  }
  Tensor nll = kiln::cross_entropy(logits, labels, Reduction::kNone, site);
  Tensor w = internal::CastTo(weights, nll.dtype(), site);
  Tensor weighted = mul(nll, w, site);
  switch (reduction) {
    case Reduction::kNone:
      return weighted;
    case Reduction::kSum:
      return sum(weighted, {}, false, site);
    case Reduction::kMean: {
      Tensor total = sum(w, {}, false, site);
      // All weights 0: the numerator is 0 too; divide by 1 instead of 0.
      Tensor safe_total = where(ne(total, Scalar(0.0), site), total, Scalar(1.0), site);
      return div(sum(weighted, {}, false, site), safe_total, site);
    }
  }
  return weighted;
}

Tensor mse_loss(const Tensor& input, const Tensor& target, Reduction reduction, CallSite site) {
  CheckPair("mse_loss", input, target);
  Tensor diff = sub(input, target, site);
  return ApplyReduction(mul(diff, diff, site), reduction, site);
}

Tensor binary_cross_entropy_with_logits(const Tensor& input, const Tensor& target,
                                        Reduction reduction, const Tensor& pos_weight,
                                        CallSite site) {
  constexpr const char* kOp = "binary_cross_entropy_with_logits";
  CheckPair(kOp, input, target);
  if (pos_weight.defined()) {
    internal::CheckOperand(kOp, pos_weight, "pos_weight");
    internal::CheckSameBackend(kOp, {&input, &pos_weight});
    const Sizes& w = pos_weight.sizes();
    const Sizes& x = input.sizes();
    bool fits = w.size() <= x.size();
    for (size_t i = 1; fits && i <= w.size(); ++i) {
      fits = w[w.size() - i] == 1 || w[w.size() - i] == x[x.size() - i];
    }
    if (!fits) {
      ThrowOpError(kOp, ": pos_weight ", pos_weight.shape().ToString(),
                   " must broadcast to the input ", input.shape().ToString());
    }
  }
  const Tensor t = internal::CastTo(target, input.dtype(), site);
  // maximum, not relu: its gradient at 0 is 1/2, which gives torch's gradient there
  // (sigmoid(0) - t without pos_weight).
  const Tensor softplus_of_minus_x = add(log1p(exp(neg(abs(input, site), site), site), site),
                                         maximum(neg(input, site), 0.0, site), site);
  Tensor weighted = softplus_of_minus_x;
  if (pos_weight.defined()) {
    const Tensor w = internal::CastTo(pos_weight, input.dtype(), site);
    weighted = mul(add(mul(sub(w, 1.0, site), t, site), 1.0, site), softplus_of_minus_x, site);
  }
  const Tensor loss = add(mul(sub(1.0, t, site), input, site), weighted, site);
  return ApplyReduction(loss, reduction, site);
}

Tensor l1_loss(const Tensor& input, const Tensor& target, Reduction reduction, CallSite site) {
  CheckPair("l1_loss", input, target);
  return ApplyReduction(abs(sub(input, target, site), site), reduction, site);
}

Tensor smooth_l1_loss(const Tensor& input, const Tensor& target, Reduction reduction, double beta,
                      CallSite site) {
  CheckPair("smooth_l1_loss", input, target);
  if (!(beta >= 0)) {
    ThrowOpError("smooth_l1_loss: expected beta >= 0, got ", beta, " for ",
                 input.shape().ToString());
  }
  const Tensor d = abs(sub(input, target, site), site);
  if (beta == 0) return ApplyReduction(d, reduction, site);
  const Tensor quadratic = div(mul(d, d, site), 2 * beta, site);
  return ApplyReduction(where(lt(d, beta, site), quadratic, sub(d, 0.5 * beta, site), site),
                        reduction, site);
}

Tensor huber_loss(const Tensor& input, const Tensor& target, Reduction reduction, double delta,
                  CallSite site) {
  CheckPair("huber_loss", input, target);
  if (!(delta > 0)) {
    ThrowOpError("huber_loss: expected delta > 0, got ", delta, " for ", input.shape().ToString());
  }
  const Tensor d = abs(sub(input, target, site), site);
  const Tensor quadratic = mul(mul(d, d, site), 0.5, site);
  const Tensor linear = mul(sub(d, 0.5 * delta, site), delta, site);
  return ApplyReduction(where(lt(d, delta, site), quadratic, linear, site), reduction, site);
}

}  // namespace kiln::nn
