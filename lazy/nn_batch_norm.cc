// batch_norm from reductions over every dimension but the channel's; the running
// averages' update recorded on their tensors under NoGradGuard, so it runs in the graph
// of the step that computed the statistics.
#include "lazy/nn_batch_norm.h"

#include <string_view>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "lazy/creation.h"
#include "lazy/grad_mode.h"
#include "lazy/nn_init.h"
#include "lazy/nn_per_channel.h"
#include "lazy/op_utils.h"
#include "lazy/ops.h"
#include "lazy/scalar_tensor.h"

namespace kiln::nn {
namespace {

using internal::ThrowOpError;

struct Statistics {
  Tensor running_mean, running_var;
};

// Throws unless the operands fit batch normalisation of x [N, C, ...].
void CheckOperands(std::string_view op, const Tensor& x, const Statistics& stats,
                   const Tensor& weight, const Tensor& bias, bool training) {
  const Shape& xs = internal::CheckOperand(op, x);
  const std::pair<const Tensor*, const char*> per_channel[] = {
      {&stats.running_mean, "running_mean"},
      {&stats.running_var, "running_var"},
      {&weight, "weight"},
      {&bias, "bias"}};
  for (const auto& [t, name] : per_channel) {
    if (t->defined()) internal::CheckOperand(op, *t, name);
  }
  internal::CheckSameBackend(op, {&x, &stats.running_mean, &stats.running_var, &weight, &bias});
  if (xs.rank() < 2 || !IsFloating(xs.dtype())) {
    ThrowOpError(op, ": expected a floating input [N, C, ...], got ", xs.ToString());
  }
  for (const auto& [t, name] : per_channel) internal::CheckPerChannel(op, name, *t, x);
  if (stats.running_mean.defined() != stats.running_var.defined()) {
    ThrowOpError(op, ": running_mean and running_var must both be given or both be undefined");
  }
  if (!training && !stats.running_mean.defined()) {
    ThrowOpError(op, ": running_mean and running_var are needed in evaluation");
  }
  const int64_t c = xs.size(1);
  if (training && c > 0 && xs.numel() / c <= 1) {
    ThrowOpError(op, ": expected more than 1 value per channel when training, got input ",
                 xs.ToString());
  }
}

// batch_norm once checked. In training, updates `stats` (when defined) at the rate
// `factor` (a 0-d tensor of x's dtype).
Tensor Normalize(const Tensor& x, Statistics& stats, const Tensor& weight, const Tensor& bias,
                 bool training, const Tensor& factor, double eps, const CallSite& site) {
  Tensor mean, var;
  if (training) {
    std::vector<int64_t> dims = {0};
    for (int64_t d = 2; d < x.dim(); ++d) dims.push_back(d);
    mean = kiln::mean(x, dims, /*keepdim=*/true, site);
    var = kiln::var(x, dims, /*keepdim=*/true, /*correction=*/0, site);
    if (stats.running_mean.defined()) {
      NoGradGuard no_grad;
      const int64_t c = x.size(1), n = x.numel() / c;
      const Tensor keep = sub(1.0, factor, site);
      const auto update = [&](Tensor& running, const Tensor& stat) {
        running.assign_(
            add(mul(running, keep, site), mul(reshape(stat, {c}, site), factor, site), site), site);
      };
      update(stats.running_mean, mean);
      // The unbiased variance, as torch's.
      update(stats.running_var, mul(var, static_cast<double>(n) / (n - 1), site));
    }
  } else {
    mean = internal::PerChannel(stats.running_mean, x, site);
    var = internal::PerChannel(stats.running_var, x, site);
  }
  Tensor y = mul(sub(x, mean, site), rsqrt(add(var, eps, site), site), site);
  if (weight.defined()) y = mul(y, internal::PerChannel(weight, x, site), site);
  if (bias.defined()) y = add(y, internal::PerChannel(bias, x, site), site);
  return y;
}

}  // namespace

Tensor batch_norm(const Tensor& x, Tensor running_mean, Tensor running_var, const Tensor& weight,
                  const Tensor& bias, bool training, double momentum, double eps, CallSite site) {
  Statistics stats = {std::move(running_mean), std::move(running_var)};
  CheckOperands("batch_norm", x, stats, weight, bias, training);
  const Tensor factor = training ? internal::ScalarTensor(momentum, x.dtype(), x, site) : Tensor();
  return Normalize(x, stats, weight, bias, training, factor, eps, site);
}

BatchNorm::BatchNorm(const char* type_name, std::vector<int64_t> ranks, const char* expected,
                     int64_t num_features, BatchNormOptions options)
    : Module(type_name),
      ranks_(std::move(ranks)),
      expected_(expected),
      num_features_(num_features),
      options_(options) {
  if (num_features <= 0) {
    ThrowOpError(type_name, ": expected num_features > 0, got ", num_features);
  }
  if (options.affine) {
    weight_ = register_parameter("weight", full_data({num_features}, 1.0));
    bias_ = register_parameter("bias", full_data({num_features}, 0.0));
  }
  if (options.track_running_stats) {
    running_mean_ = register_buffer("running_mean", full_data({num_features}, 0.0));
    running_var_ = register_buffer("running_var", full_data({num_features}, 1.0));
    num_batches_tracked_ = register_buffer("num_batches_tracked", full_data({}, 0.0, DType::kI64));
  }
}

Tensor BatchNorm::forward(const Tensor& x, CallSite site) {
  const std::string& op = type_name();
  internal::CheckOperand(op, x);
  bool rank_ok = false;
  for (int64_t rank : ranks_) rank_ok |= x.dim() == rank;
  if (!rank_ok) ThrowOpError(op, ": expected an input ", expected_, ", got ", x.shape().ToString());
  if (x.size(1) != num_features_) {
    ThrowOpError(op, ": expected ", num_features_, " channels (num_features), got input ",
                 x.shape().ToString());
  }
  // Without running averages the batch's statistics are used in evaluation too.
  const bool batch_statistics = is_training() || !options_.track_running_stats;
  Statistics stats = {running_mean_, running_var_};  // handles to the buffers themselves
  CheckOperands(op, x, stats, weight_, bias_, batch_statistics);
  Tensor factor;
  if (is_training() && options_.track_running_stats) {
    NoGradGuard no_grad;
    num_batches_tracked_.assign_(add(num_batches_tracked_, 1, site), site);
    factor = options_.momentum ? internal::ScalarTensor(*options_.momentum, x.dtype(), x, site)
                               : div(1.0, cast(num_batches_tracked_, x.dtype(), site), site);
  }
  return Normalize(x, stats, weight_, bias_, batch_statistics, factor, options_.eps, site);
}

BatchNorm1d::BatchNorm1d(int64_t num_features, BatchNormOptions options)
    : BatchNorm("BatchNorm1d", {2, 3}, "[N, C] or [N, C, L]", num_features, options) {}

BatchNorm2d::BatchNorm2d(int64_t num_features, BatchNormOptions options)
    : BatchNorm("BatchNorm2d", {4}, "[N, C, H, W]", num_features, options) {}

}  // namespace kiln::nn
