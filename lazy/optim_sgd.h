#pragma once
// Stochastic gradient descent with momentum and L2 weight decay, as torch.optim.SGD
// with dampening 0. Per parameter p with gradient g, each step:
//
//   d = g + weight_decay * p                (L2: added to the gradient)
//   buf = momentum * buf + d                (buf starts at 0, so step 1 gives buf = d)
//   d = nesterov ? d + momentum * buf : buf (when momentum != 0)
//   p = p - lr * d
//
// lr is a runtime scalar: a schedule changing it every step never recompiles.
#include <cstddef>
#include <vector>

#include "lazy/optim_optimizer.h"

namespace kiln::optim {

// The options of SGD; lr and weight_decay are per-group defaults.
struct SGDOptions {
  double lr = 1e-3;
  // 0 disables momentum (and its state).
  double momentum = 0;
  double weight_decay = 0;
  // Nesterov momentum; needs momentum > 0.
  bool nesterov = false;
};

class SGD : public Optimizer {
 public:
  // One group holding `params` (each a leaf that requires grad). Throws kiln::Error for
  // bad options or parameters (see Optimizer).
  SGD(std::vector<Tensor> params, SGDOptions options = {});
  // Several groups; unset group options take `options`' lr and weight_decay.
  SGD(std::vector<ParamGroup> groups, SGDOptions options = {});

  // The momentum buffer of parameter `index` of group `group`: undefined without
  // momentum; otherwise made (zeros) at construction and the same tensor every step.
  Tensor momentum_buffer(size_t group, size_t index) const;
  // The options given at construction.
  const SGDOptions& options() const { return options_; }

 private:
  void UpdateParameter(size_t group, size_t index, Tensor& param, const Tensor& grad) override;
  void AppendParameterState(size_t group, size_t index, const std::string& prefix,
                            std::vector<StateSlot>* slots) override;

  SGDOptions options_;
  std::vector<std::vector<Tensor>> momentum_;  // [group][index]; empty rows without momentum
};

}  // namespace kiln::optim
