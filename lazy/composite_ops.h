#pragma once
// Composite ops built from the primitive ops (so every backend and the fusion planner
// see only primitives). Numerically stable forms: softmax subtracts the row max,
// log_softmax is x - max - log(sum(exp(x - max))).
#include <cstdint>
#include <optional>
#include <string_view>

#include "lazy/tensor.h"

namespace kiln {

// A row that is entirely -inf (fully masked) gives NaN, as in PyTorch. Its gradient is
// softmax's own, p * (g - sum(g * p)), from the output alone (what the backward keeps of
// the forward is p, not the exponentials and their sum).
Tensor softmax(const Tensor& x, int64_t dim, CallSite site = {});
Tensor log_softmax(const Tensor& x, int64_t dim, CallSite site = {});
// log(sum(exp(x))) over `dims` (empty = all), as max + log(sum(exp(x - max))) so that
// nothing overflows; an infinite max is not subtracted, so a row of -inf gives -inf and
// one holding +inf gives +inf (as torch.logsumexp). Its gradient is softmax(x).
Tensor logsumexp(const Tensor& x, std::vector<int64_t> dims = {}, bool keepdim = false,
                 CallSite site = {});
// Normalises over the trailing dimensions covered by `weight` (or the last dimension
// when weight is undefined): (x - mean) / sqrt(var + eps) * weight + bias, with the
// biased variance, as torch.nn.functional.layer_norm. weight/bias may be undefined.
Tensor layer_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, double eps = 1e-5,
                  CallSite site = {});

// x / sqrt(mean(x^2) + eps) * weight over the trailing dimensions covered by `weight` (or
// the last dimension when weight is undefined), as torch.nn.functional.rms_norm; eps
// defaults to the dtype's machine epsilon, as in torch.
Tensor rms_norm(const Tensor& x, const Tensor& weight = Tensor(),
                std::optional<double> eps = std::nullopt, CallSite site = {});

enum class GeluApproximation { kNone, kTanh };
// kNone: x * 0.5 * (1 + erf(x / sqrt(2))); kTanh: the tanh approximation.
Tensor gelu(const Tensor& x, GeluApproximation approximate = GeluApproximation::kNone,
            CallSite site = {});

enum class Reduction { kNone, kMean, kSum };
// logits [N, C] (floating), labels [N] (i32/i64, each in [0, C)): the negative log
// likelihood of log_softmax(logits). Labels out of range are reported when the graph
// runs (the gather's range check).
Tensor cross_entropy(const Tensor& logits, const Tensor& labels,
                     Reduction reduction = Reduction::kMean, CallSite site = {});

namespace internal {

// A per-element loss as `reduction` asks: itself, its sum, or its mean over every element.
Tensor ApplyReduction(const Tensor& loss, Reduction reduction, const CallSite& site);

// For p = softmax(x) along `axis` (masked entries 0), computed under NoGradGuard: records
// softmax's backward, dx = p * (g - sum(g * p, axis)), as p's gradient function.
void RecordSoftmaxGradient(const Tensor& x, const Tensor& p, int64_t axis, const CallSite& site);

}  // namespace internal
}  // namespace kiln
