// nn::Linear: parameter setup and the input check; the math is nn::linear.
#include "lazy/nn_linear.h"

#include "absl/strings/str_cat.h"
#include "lazy/creation.h"
#include "lazy/nn_functional.h"
#include "lazy/nn_init.h"
#include "util/error.h"

namespace kiln::nn {

Linear::Linear(int64_t in_features, int64_t out_features, Generator& gen, bool bias)
    : Module("Linear"), in_features_(in_features), out_features_(out_features) {
  if (in_features <= 0 || out_features <= 0) {
    throw Error(absl::StrCat("Linear: in_features and out_features must be positive, got ",
                             in_features, " and ", out_features));
  }
  weight_ = register_parameter("weight",
                               init::trunc_normal_(zeros({out_features, in_features}), 0.02, gen));
  if (bias) bias_ = register_parameter("bias", init::zeros_(zeros({out_features})));
}

Tensor Linear::forward(const Tensor& x, CallSite site) const {
  if (!x.defined()) throw Error("Linear: the input is undefined");
  if (x.dim() == 0 || x.size(-1) != in_features_) {
    throw Error(absl::StrCat("Linear(", in_features_, " -> ", out_features_,
                             "): expected an input [..., ", in_features_, "], got ",
                             x.shape().ToString(), " (weight ", weight_.shape().ToString(), ")"));
  }
  return linear(x, weight_, bias_, site);
}

}  // namespace kiln::nn
