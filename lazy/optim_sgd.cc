#include "lazy/optim_sgd.h"

#include <limits>
#include <utility>

#include "absl/strings/str_cat.h"
#include "lazy/materialized_tensor.h"
#include "lazy/ops.h"
#include "util/error.h"

namespace kiln::optim {

SGD::SGD(std::vector<Tensor> params, SGDOptions options)
    : SGD(std::vector<ParamGroup>{ParamGroup{.params = std::move(params)}}, options) {}

SGD::SGD(std::vector<ParamGroup> groups, SGDOptions options)
    : Optimizer("SGD", std::move(groups), options.lr, options.weight_decay), options_(options) {
  CheckOption("momentum", options_.momentum, 0, std::numeric_limits<double>::infinity(), false);
  if (options_.nesterov && options_.momentum == 0) {
    throw Error("SGD: nesterov needs a momentum > 0, got momentum 0");
  }
  // State is made here rather than at the first step: see lazy/materialized_tensor.h.
  momentum_.resize(param_groups().size());
  if (options_.momentum == 0) return;
  for (size_t g = 0; g < momentum_.size(); ++g) {
    for (const Tensor& p : param_groups()[g].params)
      momentum_[g].push_back(internal::MaterializedZeros(p));
  }
}

Tensor SGD::momentum_buffer(size_t group, size_t index) const {
  if (group >= momentum_.size() || index >= param_groups()[group].params.size()) {
    throw Error(absl::StrCat("SGD: no parameter ", index, " in group ", group));
  }
  return momentum_[group].empty() ? Tensor() : momentum_[group][index];
}

void SGD::AppendParameterState(size_t group, size_t index, const std::string& prefix,
                               std::vector<StateSlot>* slots) {
  if (momentum_[group].empty()) return;
  slots->push_back({.name = prefix + "momentum_buffer", .tensor = &momentum_[group][index]});
}

void SGD::UpdateParameter(size_t group, size_t index, Tensor& param, const Tensor& grad) {
  const double weight_decay = this->weight_decay(group);
  Tensor d = grad;
  if (weight_decay != 0) d = d + weight_decay * param;
  if (options_.momentum != 0) {
    Tensor& buf = momentum_[group][index];
    buf.assign_(buf * options_.momentum + d);
    d = options_.nesterov ? d + options_.momentum * buf : buf;
  }
  param.assign_(param - lr(group) * d);
}

}  // namespace kiln::optim
