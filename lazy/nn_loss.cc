// nn::cross_entropy with per-sample weights, and nn::mse_loss.
#include "lazy/nn_loss.h"

#include "lazy/op_utils.h"
#include "lazy/ops.h"

namespace kiln::nn {

using internal::ThrowOpError;

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
  internal::CheckOperand("mse_loss", input);
  internal::CheckOperand("mse_loss", target, "target");
  internal::CheckSameBackend("mse_loss", {&input, &target});
  if (!IsFloating(input.dtype())) {
    ThrowOpError("mse_loss: expected a floating input, got ", input.shape().ToString());
  }
  if (input.sizes() != target.sizes()) {
    ThrowOpError("mse_loss: input ", input.shape().ToString(), " and target ",
                 target.shape().ToString(), " must have the same shape");
  }
  Tensor diff = sub(input, target, site);
  Tensor squared = mul(diff, diff, site);
  switch (reduction) {
    case Reduction::kNone:
      return squared;
    case Reduction::kSum:
      return sum(squared, {}, false, site);
    case Reduction::kMean:
      return mean(squared, {}, false, site);
  }
  return squared;
}

}  // namespace kiln::nn
