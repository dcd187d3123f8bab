#pragma once
// AdamW: Adam with decoupled weight decay, as torch.optim.AdamW (amsgrad off). Per
// parameter p with gradient g, at its t-th update (t counted per parameter):
//
//   p = p * (1 - lr * weight_decay)                 (decoupled: not through the moments)
//   m = beta1 * m + (1 - beta1) * g
//   v = beta2 * v + (1 - beta2) * g * g
//   p = p - lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
//
// The bias corrections 1 - beta^t are computed on the host in doubles and enter the
// graph, like lr, as runtime scalars: step t and step t + 1 run the same compiled code.
// m and v are made at construction as materialised zeros and updated in place.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "lazy/optim_optimizer.h"

namespace kiln::optim {

// The options of AdamW (torch.optim.AdamW's defaults); lr and weight_decay are
// per-group defaults.
struct AdamWOptions {
  double lr = 1e-3;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 1e-2;
};

class AdamW : public Optimizer {
 public:
  // The state of one parameter.
  struct State {
    Tensor exp_avg;     // m: zeros at construction, then updated in place
    Tensor exp_avg_sq;  // v: likewise
    int64_t step = 0;   // updates so far (a parameter without a gradient is not counted)
  };

  // One group holding `params` (each a leaf that requires grad). Throws kiln::Error for
  // bad options (betas outside [0, 1), negative lr, eps or weight decay) or parameters.
  AdamW(std::vector<Tensor> params, AdamWOptions options = {});
  // Several groups (e.g. from DecayGroupsByRank); unset group options take `options`'.
  AdamW(std::vector<ParamGroup> groups, AdamWOptions options = {});

  // The state of parameter `index` of group `group`.
  const State& state(size_t group, size_t index) const;
  // The options given at construction.
  const AdamWOptions& options() const { return options_; }

 private:
  void UpdateParameter(size_t group, size_t index, Tensor& param, const Tensor& grad) override;
  void AppendParameterState(size_t group, size_t index, const std::string& prefix,
                            std::vector<StateSlot>* slots) override;

  AdamWOptions options_;
  std::vector<std::vector<State>> state_;  // [group][index]
};

}  // namespace kiln::optim
