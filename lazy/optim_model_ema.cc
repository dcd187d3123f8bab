// optim::ModelEma: averages updated in place by lazy ops.
#include "lazy/optim_model_ema.h"

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "lazy/grad_mode.h"
#include "lazy/materialized_tensor.h"
#include "util/error.h"

namespace kiln::optim {
namespace {

double CheckDecay(double decay) {
  if (!(decay >= 0 && decay <= 1)) {
    throw Error(absl::StrCat("ModelEma: decay must be in [0, 1], got ", decay));
  }
  return decay;
}

}  // namespace

ModelEma::ModelEma(const nn::Module& model, double decay) : decay_(CheckDecay(decay)) {
  for (const auto& [name, value] : model.state_dict()) {
    averages_.emplace(name, internal::MaterializedCopy(value));
  }
}

void ModelEma::update(const nn::Module& model) { update(model, decay_); }

void ModelEma::update(const nn::Module& model, double decay) {
  CheckDecay(decay);
  const StateDict current = model.state_dict();
  const std::vector<const Tensor*> values = Match("ModelEma::update", current);
  NoGradGuard no_grad;
  size_t i = 0;
  for (auto& [name, average] : averages_) {
    const Tensor& value = *values[i++];
    if (IsFloating(average.dtype())) {
      average.assign_(average * decay + value * (1 - decay));
    } else {
      average.assign_(value);
    }
  }
}

void ModelEma::load_state_dict(const StateDict& state) {
  const std::vector<const Tensor*> sources = Match("ModelEma::load_state_dict", state);
  NoGradGuard no_grad;
  size_t i = 0;
  for (auto& [name, average] : averages_) average.assign_(*sources[i++]);
}

std::vector<const Tensor*> ModelEma::Match(const char* who, const StateDict& state) const {
  const std::vector<std::pair<std::string, Tensor>> targets(averages_.begin(), averages_.end());
  return internal::MatchStateDict(who, "average", targets, state);
}

void ModelEma::copy_to(nn::Module& model) const { model.load_state_dict(averages_); }

}  // namespace kiln::optim
