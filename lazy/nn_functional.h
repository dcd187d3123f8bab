#pragma once
// Stateless building blocks of the nn modules (torch.nn.functional): the affine map of
// Linear, a softmax that ignores masked entries, dropout and drop_path, softplus,
// leaky_relu, normalize and one_hot. Built from the
// primitive ops, so autograd and every backend handle them without special cases.
#include <cstdint>

#include "lazy/generator.h"
#include "lazy/tensor.h"

namespace kiln::nn {

// y = x W^T + b for x [..., in], weight [out, in] (PyTorch's layout), bias [out] or
// undefined. Leading dimensions of x are kept: they are flattened into one matrix
// product. Throws kiln::Error naming "linear" and the shapes on a mismatch.
Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias = Tensor(),
              CallSite site = {});

// softmax(x) along `dim` over the entries where `mask` (bool, broadcastable to x) is
// true; masked entries get probability 0. A row with no unmasked entry is all zeros
// (plain softmax of an all -inf row gives NaN), and its gradient is zero as well:
//
//   x = [1, 2, 3], mask = [1, 1, 0]  ->  [0.269, 0.731, 0]
//   x = [1, 2, 3], mask = [0, 0, 0]  ->  [0, 0, 0]
//
// Computed as e = where(mask, exp(where(mask, x - m, 0)), 0) / where(s > 0, s, 1), with m
// the row max over unmasked entries (0 for an empty row, and detached: softmax does not
// depend on it) and s = sum(e), so nothing masked ever reaches an exp or a division that
// could overflow and turn a zero gradient into NaN. An undefined mask is plain softmax.
Tensor masked_softmax(const Tensor& x, const Tensor& mask, int64_t dim, CallSite site = {});

// Inverted dropout (torch.nn.functional.dropout): when `training`, each element is kept
// with probability 1 - p and scaled by 1 / (1 - p), else zeroed: x * keep / (1 - p), so
// a NaN stays NaN. The mask is drawn inside the graph (rand_like under a key from `gen`):
// computed in the kernel that applies it, nothing uploaded, and a new mask every step
// recompiles nothing. Not training, or p = 0: x itself. p in [0, 1]; floating x.
Tensor dropout(const Tensor& x, double p, Generator& gen, bool training = true, CallSite site = {});

// Stochastic depth (timm's drop_path): when `training`, each sample (index along the first
// dimension) is kept whole with probability 1 - p and scaled by 1 / (1 - p), else zeroed;
// applied to a residual branch, it drops the branch for that sample. The per-sample mask
// is drawn inside the graph, as dropout's. Not training, or p = 0: x itself. p in [0, 1];
// floating x with at least one dimension.
Tensor drop_path(const Tensor& x, double p, Generator& gen, bool training = true,
                 CallSite site = {});

// log(1 + exp(beta x)) / beta, and x itself where beta x > threshold (where the two agree
// to rounding), as torch.nn.functional.softplus. beta > 0. Integer inputs in f32.
Tensor softplus(const Tensor& x, double beta = 1, double threshold = 20, CallSite site = {});
// x where x > 0, else negative_slope * x (torch.nn.functional.leaky_relu); the gradient
// at 0 is negative_slope, as in torch. Floating x.
Tensor leaky_relu(const Tensor& x, double negative_slope = 0.01, CallSite site = {});
// x / max(||x||_p, eps) along `dim` (torch.nn.functional.normalize), p > 0. A vector of
// norm below eps is divided by eps, with the gradient torch gives it. Floating x.
Tensor normalize(const Tensor& x, double p = 2, int64_t dim = 1, double eps = 1e-12,
                 CallSite site = {});

// Labels [...] (i32 or i64) as i64 rows [..., num_classes] with a 1 at each label
// (torch.nn.functional.one_hot). num_classes must be given: inferring it would read the
// labels. A label outside [0, num_classes) is an error when the graph runs.
Tensor one_hot(const Tensor& labels, int64_t num_classes, CallSite site = {});

}  // namespace kiln::nn
