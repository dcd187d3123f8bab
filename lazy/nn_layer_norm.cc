// nn::LayerNorm and nn::RMSNorm on top of kiln::layer_norm and kiln::rms_norm.
#include "lazy/nn_layer_norm.h"

#include <functional>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "lazy/composite_ops.h"
#include "lazy/creation.h"
#include "lazy/nn_init.h"
#include "lazy/ops.h"
#include "util/error.h"

namespace kiln::nn {

namespace {

void CheckNormalizedShape(const char* module, const std::vector<int64_t>& normalized_shape,
                          std::optional<double> eps) {
  bool valid = !normalized_shape.empty();
  for (int64_t size : normalized_shape) valid = valid && size > 0;
  if (!valid) {
    throw Error(absl::StrCat(module, ": normalized_shape must be non-empty with positive sizes, ",
                             "got [", absl::StrJoin(normalized_shape, ","), "]"));
  }
  if (eps.has_value() && !(*eps >= 0)) {
    throw Error(absl::StrCat(module, ": eps must be non-negative, got ", *eps));
  }
}

// norm(x, weight) over the trailing `normalized_shape` dimensions of x. Without a weight,
// the functional norms normalise the last dimension only: the normalised dimensions are
// flattened into one and restored after.
Tensor OverTrailing(const char* module, const std::vector<int64_t>& normalized_shape,
                    const Tensor& x, const Tensor& weight,
                    const std::function<Tensor(const Tensor&, const Tensor&)>& norm,
                    const CallSite& site) {
  if (!x.defined()) throw Error(absl::StrCat(module, ": the input is undefined"));
  const int64_t n = static_cast<int64_t>(normalized_shape.size());
  bool matches = x.dim() >= n;
  for (int64_t i = 0; matches && i < n; ++i) {
    matches = x.size(x.dim() - n + i) == normalized_shape[i];
  }
  if (!matches) {
    throw Error(absl::StrCat(module, "([", absl::StrJoin(normalized_shape, ","),
                             "]): expected an input whose trailing dimensions are [",
                             absl::StrJoin(normalized_shape, ","), "], got ",
                             x.shape().ToString()));
  }
  if (weight.defined() || n == 1) return norm(x, weight);
  std::vector<int64_t> flat_sizes(x.sizes().begin(), x.sizes().end() - n);
  int64_t count = 1;
  for (int64_t size : normalized_shape) count *= size;
  flat_sizes.push_back(count);
  const Tensor y = norm(reshape(x, flat_sizes, site), Tensor());
  return reshape(y, std::vector<int64_t>(x.sizes().begin(), x.sizes().end()), site);
}

}  // namespace

LayerNorm::LayerNorm(std::vector<int64_t> normalized_shape, double eps, bool elementwise_affine)
    : Module("LayerNorm"), normalized_shape_(std::move(normalized_shape)), eps_(eps) {
  CheckNormalizedShape("LayerNorm", normalized_shape_, eps);
  if (elementwise_affine) {
    weight_ = register_parameter("weight", init::ones_(zeros(normalized_shape_)));
    bias_ = register_parameter("bias", init::zeros_(zeros(normalized_shape_)));
  }
}

Tensor LayerNorm::forward(const Tensor& x, CallSite site) const {
  return OverTrailing(
      "LayerNorm", normalized_shape_, x, weight_,
      [&](const Tensor& in, const Tensor& w) { return layer_norm(in, w, bias_, eps_, site); },
      site);
}

RMSNorm::RMSNorm(std::vector<int64_t> normalized_shape, std::optional<double> eps,
                 bool elementwise_affine)
    : Module("RMSNorm"), normalized_shape_(std::move(normalized_shape)), eps_(eps) {
  CheckNormalizedShape("RMSNorm", normalized_shape_, eps);
  if (elementwise_affine) {
    weight_ = register_parameter("weight", init::ones_(zeros(normalized_shape_)));
  }
}

Tensor RMSNorm::forward(const Tensor& x, CallSite site) const {
  return OverTrailing(
      "RMSNorm", normalized_shape_, x, weight_,
      [&](const Tensor& in, const Tensor& w) { return rms_norm(in, w, eps_, site); }, site);
}

}  // namespace kiln::nn
