// nn::MLP: fc1, GELU, dropout, fc2, dropout.
#include "lazy/nn_mlp.h"

#include "absl/strings/str_cat.h"
#include "util/error.h"

namespace kiln::nn {

MLP::MLP(int64_t in_features, int64_t hidden_features, int64_t out_features, Generator& gen,
         GeluApproximation approximation, double drop)
    : Module("MLP") {
  if (in_features <= 0 || hidden_features <= 0 || out_features <= 0) {
    throw Error(absl::StrCat("MLP: feature sizes must be positive, got in ", in_features,
                             ", hidden ", hidden_features, ", out ", out_features));
  }
  CheckDropRate("MLP", "drop", drop);
  fc1_ = register_module("fc1", std::make_shared<Linear>(in_features, hidden_features, gen));
  act_ = register_module("act", std::make_shared<GELU>(approximation));
  auto fc2 = std::make_shared<Linear>(hidden_features, out_features, gen);
  drop1_ = register_module("drop1", std::make_shared<Dropout>(drop, gen));
  fc2_ = register_module("fc2", std::move(fc2));
  drop2_ = register_module("drop2", std::make_shared<Dropout>(drop, gen));
}

Tensor MLP::forward(const Tensor& x, CallSite site) const {
  if (!x.defined()) throw Error("MLP: the input is undefined");
  if (x.dim() == 0 || x.size(-1) != fc1_->in_features()) {
    throw Error(absl::StrCat("MLP(", fc1_->in_features(), " -> ", fc1_->out_features(), " -> ",
                             fc2_->out_features(), "): expected an input [..., ",
                             fc1_->in_features(), "], got ", x.shape().ToString()));
  }
  const Tensor hidden = drop1_->forward(act_->forward(fc1_->forward(x, site), site), site);
  return drop2_->forward(fc2_->forward(hidden, site), site);
}

}  // namespace kiln::nn
