// group_norm as layer_norm over each sample's groups (x viewed as [N, groups, the rest]),
// then the per-channel affine map in x's own shape.
#include "lazy/nn_group_norm.h"

#include <string_view>
#include <vector>

#include "lazy/composite_ops.h"
#include "lazy/creation.h"
#include "lazy/nn_per_channel.h"
#include "lazy/op_utils.h"
#include "lazy/ops.h"

namespace kiln::nn {

using internal::ThrowOpError;

Tensor group_norm(const Tensor& x, int64_t num_groups, const Tensor& weight, const Tensor& bias,
                  double eps, CallSite site) {
  constexpr std::string_view kOp = "group_norm";
  const Shape& xs = internal::CheckOperand(kOp, x);
  if (weight.defined()) internal::CheckOperand(kOp, weight, "weight");
  if (bias.defined()) internal::CheckOperand(kOp, bias, "bias");
  internal::CheckSameBackend(kOp, {&x, &weight, &bias});
  if (xs.rank() < 2 || !IsFloating(xs.dtype())) {
    ThrowOpError(kOp, ": expected a floating input [N, C, ...], got ", xs.ToString());
  }
  const int64_t c = xs.size(1);
  if (num_groups <= 0 || c % num_groups != 0) {
    ThrowOpError(kOp, ": expected num_groups > 0 dividing the input's ", c, " channels, got ",
                 num_groups, " (input ", xs.ToString(), ")");
  }
  internal::CheckPerChannel(kOp, "weight", weight, x);
  internal::CheckPerChannel(kOp, "bias", bias, x);
  const int64_t n = xs.size(0);
  const int64_t per_group = n * num_groups == 0 ? 0 : xs.numel() / (n * num_groups);
  Tensor y = reshape(
      layer_norm(reshape(x, {n, num_groups, per_group}, site), Tensor(), Tensor(), eps, site),
      std::vector<int64_t>(xs.sizes().begin(), xs.sizes().end()), site);
  if (weight.defined()) y = mul(y, internal::PerChannel(weight, x, site), site);
  if (bias.defined()) y = add(y, internal::PerChannel(bias, x, site), site);
  return y;
}

GroupNorm::GroupNorm(int64_t num_groups, int64_t num_channels, double eps, bool affine)
    : Module("GroupNorm"), num_groups_(num_groups), eps_(eps) {
  if (num_groups <= 0 || num_channels <= 0 || num_channels % num_groups != 0) {
    ThrowOpError("GroupNorm: expected num_groups > 0 dividing num_channels > 0, got num_groups ",
                 num_groups, ", num_channels ", num_channels);
  }
  if (affine) {
    weight_ = register_parameter("weight", full_data({num_channels}, 1.0));
    bias_ = register_parameter("bias", full_data({num_channels}, 0.0));
  }
}

Tensor GroupNorm::forward(const Tensor& x, CallSite site) const {
  return group_norm(x, num_groups_, weight_, bias_, eps_, site);
}

}  // namespace kiln::nn
