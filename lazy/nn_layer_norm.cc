// nn::LayerNorm on top of kiln::layer_norm.
#include "lazy/nn_layer_norm.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "lazy/composite_ops.h"
#include "lazy/creation.h"
#include "lazy/nn_init.h"
#include "lazy/ops.h"
#include "util/error.h"

namespace kiln::nn {

LayerNorm::LayerNorm(std::vector<int64_t> normalized_shape, double eps, bool elementwise_affine)
    : Module("LayerNorm"), normalized_shape_(std::move(normalized_shape)), eps_(eps) {
  bool valid = !normalized_shape_.empty();
  for (int64_t size : normalized_shape_) valid = valid && size > 0;
  if (!valid) {
    throw Error(
        absl::StrCat("LayerNorm: normalized_shape must be non-empty with positive sizes, "
                     "got [",
                     absl::StrJoin(normalized_shape_, ","), "]"));
  }
  if (!(eps >= 0)) throw Error(absl::StrCat("LayerNorm: eps must be non-negative, got ", eps));
  if (elementwise_affine) {
    weight_ = register_parameter("weight", init::ones_(zeros(normalized_shape_)));
    bias_ = register_parameter("bias", init::zeros_(zeros(normalized_shape_)));
  }
}

Tensor LayerNorm::forward(const Tensor& x, CallSite site) const {
  if (!x.defined()) throw Error("LayerNorm: the input is undefined");
  const int64_t n = static_cast<int64_t>(normalized_shape_.size());
  bool matches = x.dim() >= n;
  for (int64_t i = 0; matches && i < n; ++i) {
    matches = x.size(x.dim() - n + i) == normalized_shape_[i];
  }
  if (!matches) {
    throw Error(absl::StrCat("LayerNorm([", absl::StrJoin(normalized_shape_, ","),
                             "]): expected an input whose trailing dimensions are [",
                             absl::StrJoin(normalized_shape_, ","), "], got ",
                             x.shape().ToString()));
  }
  if (weight_.defined()) return layer_norm(x, weight_, bias_, eps_, site);
  if (n == 1) return layer_norm(x, Tensor(), Tensor(), eps_, site);
  // Without a weight, layer_norm normalises the last dimension only: flatten the
  // normalised dimensions into one and restore them after.
  std::vector<int64_t> flat_sizes(x.sizes().begin(), x.sizes().end() - n);
  int64_t count = 1;
  for (int64_t size : normalized_shape_) count *= size;
  flat_sizes.push_back(count);
  Tensor y = layer_norm(reshape(x, flat_sizes, site), Tensor(), Tensor(), eps_, site);
  return reshape(y, std::vector<int64_t>(x.sizes().begin(), x.sizes().end()), site);
}

}  // namespace kiln::nn
