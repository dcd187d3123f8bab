#include "lazy/optim_param_groups.h"

namespace kiln::optim {

std::vector<ParamGroup> DecayGroupsByRank(const std::vector<Tensor>& params, double weight_decay) {
  ParamGroup decay{.weight_decay = weight_decay};
  ParamGroup no_decay{.weight_decay = 0.0};
  for (const Tensor& p : params) {
    // An undefined tensor goes with the rest; the optimizer then reports it.
    (p.defined() && p.dim() >= 2 ? decay : no_decay).params.push_back(p);
  }
  std::vector<ParamGroup> groups;
  if (!decay.params.empty()) groups.push_back(std::move(decay));
  if (!no_decay.params.empty()) groups.push_back(std::move(no_decay));
  return groups;
}

std::vector<ParamGroup> DecayGroupsByRank(
    const std::vector<std::pair<std::string, Tensor>>& named_params, double weight_decay) {
  std::vector<Tensor> params;
  params.reserve(named_params.size());
  for (const auto& [name, p] : named_params) params.push_back(p);
  return DecayGroupsByRank(params, weight_decay);
}

}  // namespace kiln::optim
