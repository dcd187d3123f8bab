#pragma once
// Parameter groups: the tensors an optimizer updates, split into groups that differ in
// their options (learning rate, weight decay), as torch.optim's param_groups.
//
// The usual split for AdamW puts weight decay on matrices and embeddings only, never on
// biases, LayerNorm scales or position grids of rank < 2:
//
//   params = {w1 f32[64,32], b1 f32[64], ln f32[64], w2 f32[10,64]}
//   DecayGroupsByRank(params, 0.05)
//     -> {{w1, w2}, weight_decay 0.05}, {{b1, ln}, weight_decay 0}
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "lazy/tensor.h"

namespace kiln::optim {

// One group of parameters and the options they share. An unset option takes the
// optimizer's value; once inside an optimizer both are set.
struct ParamGroup {
  std::vector<Tensor> params = {};
  std::optional<double> lr = std::nullopt;
  std::optional<double> weight_decay = std::nullopt;
};

// Splits `params` into a group of the tensors of rank >= 2 with `weight_decay` and a
// group of the rest with weight decay 0, keeping the order within each group. A group
// that would be empty is left out.
std::vector<ParamGroup> DecayGroupsByRank(const std::vector<Tensor>& params, double weight_decay);
// The same for named parameters (what nn modules' named_parameters() returns); the
// names do not take part in the split.
std::vector<ParamGroup> DecayGroupsByRank(
    const std::vector<std::pair<std::string, Tensor>>& named_params, double weight_decay);

}  // namespace kiln::optim
