#pragma once
// Loss functions of the nn layer (torch.nn.functional losses). The unweighted
// cross entropy is kiln::cross_entropy (lazy/composite_ops.h); nn::cross_entropy adds
// per-sample weights, which is how padded samples of a fixed-size batch are left out:
//
//   // logits [N, C], labels [N], weights [N] with 0 for padding
//   Tensor loss = nn::cross_entropy(logits, labels, weights);   // sum(w nll) / sum(w)
#include "lazy/composite_ops.h"
#include "lazy/tensor.h"

namespace kiln::nn {

// Cross entropy of logits [N, C] (floating) against labels [N] (i32/i64 in [0, C)),
// each sample's loss multiplied by weights[i] (a [N] tensor of any dtype, converted to
// the logits' dtype; undefined = unweighted, exactly kiln::cross_entropy):
//   kNone: w * nll [N];  kSum: sum(w * nll);  kMean: sum(w * nll) / sum(w).
// kMean with all weights 0 (a fully padded batch) gives 0, not NaN, and zero gradients.
// A sample of weight 0 still needs a label in range and finite logits: it is computed,
// then multiplied by 0.
Tensor cross_entropy(const Tensor& logits, const Tensor& labels, const Tensor& weights,
                     Reduction reduction = Reduction::kMean, CallSite site = {});

// Squared error (input - target)^2 of two tensors of the same shape (floating input),
// reduced by `reduction` (kMean averages over every element).
Tensor mse_loss(const Tensor& input, const Tensor& target, Reduction reduction = Reduction::kMean,
                CallSite site = {});

// -(w t log sigmoid(x) + (1 - t) log(1 - sigmoid(x))) of logits x and targets t of the
// same shape (floating x; t converted to x's dtype), with w = pos_weight (broadcast to x's
// trailing dimensions, e.g. one weight per class) or 1 when undefined, computed as
// (1 - t) x + (1 + (w - 1) t) (log1p(exp(-|x|)) + max(-x, 0)), which never overflows
// (torch.nn.functional.binary_cross_entropy_with_logits).
Tensor binary_cross_entropy_with_logits(const Tensor& input, const Tensor& target,
                                        Reduction reduction = Reduction::kMean,
                                        const Tensor& pos_weight = Tensor(), CallSite site = {});

// |input - target| of two tensors of the same shape (floating input).
Tensor l1_loss(const Tensor& input, const Tensor& target, Reduction reduction = Reduction::kMean,
               CallSite site = {});

// 0.5 d^2 / beta where |d| < beta, else |d| - 0.5 beta, for d = input - target (torch's
// smooth_l1_loss); beta >= 0, and beta = 0 is l1_loss.
Tensor smooth_l1_loss(const Tensor& input, const Tensor& target,
                      Reduction reduction = Reduction::kMean, double beta = 1, CallSite site = {});

// 0.5 d^2 where |d| < delta, else delta (|d| - 0.5 delta), for d = input - target
// (torch's huber_loss: delta times smooth_l1_loss with beta = delta); delta > 0.
Tensor huber_loss(const Tensor& input, const Tensor& target, Reduction reduction = Reduction::kMean,
                  double delta = 1, CallSite site = {});

}  // namespace kiln::nn
