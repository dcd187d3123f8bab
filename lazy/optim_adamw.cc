#include "lazy/optim_adamw.h"

#include <cmath>
#include <limits>
#include <utility>

#include "absl/strings/str_cat.h"
#include "lazy/materialized_tensor.h"
#include "lazy/ops.h"
#include "lazy/precompile.h"
#include "util/error.h"

namespace kiln::optim {

AdamW::AdamW(std::vector<Tensor> params, AdamWOptions options)
    : AdamW(std::vector<ParamGroup>{ParamGroup{.params = std::move(params)}}, options) {}

AdamW::AdamW(std::vector<ParamGroup> groups, AdamWOptions options)
    : Optimizer("AdamW", std::move(groups), options.lr, options.weight_decay), options_(options) {
  CheckOption("beta1", options_.beta1, 0, 1, false);
  CheckOption("beta2", options_.beta2, 0, 1, false);
  CheckOption("eps", options_.eps, 0, std::numeric_limits<double>::infinity(), false);
  // State is made here rather than at the first step: see lazy/materialized_tensor.h.
  state_.resize(param_groups().size());
  for (size_t g = 0; g < state_.size(); ++g) {
    for (const Tensor& p : param_groups()[g].params) {
      state_[g].push_back({.exp_avg = internal::MaterializedZeros(p),
                           .exp_avg_sq = internal::MaterializedZeros(p)});
    }
  }
}

const AdamW::State& AdamW::state(size_t group, size_t index) const {
  if (group >= state_.size() || index >= state_[group].size()) {
    throw Error(absl::StrCat("AdamW: no parameter ", index, " in group ", group));
  }
  return state_[group][index];
}

void AdamW::AppendParameterState(size_t group, size_t index, const std::string& prefix,
                                 std::vector<StateSlot>* slots) {
  State& s = state_[group][index];
  slots->push_back({.name = prefix + "exp_avg", .tensor = &s.exp_avg});
  slots->push_back({.name = prefix + "exp_avg_sq", .tensor = &s.exp_avg_sq});
  slots->push_back({.name = prefix + "step", .count = &s.step});
}

void AdamW::UpdateParameter(size_t group, size_t index, Tensor& param, const Tensor& grad) {
  State& s = state_[group][index];
  const int64_t t = s.step + 1;
  if (!precompiling()) s.step = t;  // a step traced for precompile is not taken
  const double lr = this->lr(group);
  const double weight_decay = this->weight_decay(group);
  const double beta1 = options_.beta1;
  const double beta2 = options_.beta2;
  // Host-side doubles, passed as runtime scalars (never baked into the code).
  const double bias_correction1 = 1 - std::pow(beta1, static_cast<double>(t));
  const double bias_correction2 = 1 - std::pow(beta2, static_cast<double>(t));
  const double step_size = lr / bias_correction1;
  const double bias_correction2_sqrt = std::sqrt(bias_correction2);

  Tensor p = param;
  if (weight_decay != 0) p = p * (1 - lr * weight_decay);
  s.exp_avg.assign_(s.exp_avg * beta1 + grad * (1 - beta1));
  s.exp_avg_sq.assign_(s.exp_avg_sq * beta2 + grad * grad * (1 - beta2));
  const Tensor denom = sqrt(s.exp_avg_sq) / bias_correction2_sqrt + options_.eps;
  param.assign_(p - step_size * (s.exp_avg / denom));
}

}  // namespace kiln::optim
