#pragma once
// kiln::optim::ModelEma: an exponential moving average of a model's weights (timm's
// ModelEmaV3; DeiT and most ViT recipes evaluate the average rather than the last step):
//
//   kiln::optim::ModelEma ema(*model, /*decay=*/0.999);
//   for (...) {
//     ...; opt.step();
//     ema.update(*model);          // recorded: runs in the training step's graph
//     kiln::mark_step();
//   }
//   ema.copy_to(*eval_model);      // evaluate the averaged weights
//
// update records average = decay * average + (1 - decay) * value for every floating
// parameter and buffer (other buffers take the value) as lazy ops, with the decay a
// runtime scalar: a decay that changes every step (a warm-up) never recompiles. The
// averages start as materialised copies of the model's values, made at construction
// (as optimizer state is, and for the same reason: see lazy/materialized_tensor.h).
#include <vector>

#include "lazy/nn_module.h"
#include "lazy/state_dict.h"

namespace kiln::optim {

class ModelEma {
 public:
  // Averages of `model`'s parameters and buffers, starting at their current values.
  // Throws kiln::Error unless decay is in [0, 1].
  explicit ModelEma(const nn::Module& model, double decay = 0.9999);

  // Folds `model`'s current values into the averages with the constructor's decay, or
  // with `decay`. `model` must have the names, shapes and dtypes of the averages (the
  // model given at construction, or one of its architecture); otherwise throws
  // kiln::Error and changes nothing.
  void update(const nn::Module& model);
  void update(const nn::Module& model, double decay);

  // The averages by the model's names: handles to the live tensors (save them with
  // save_safetensors, load them into a model with load_state_dict).
  const StateDict& state_dict() const { return averages_; }
  // Replaces the averages (Module::load_state_dict's rules: the keys, shapes and dtypes
  // must match; nothing changes otherwise).
  void load_state_dict(const StateDict& state);
  // Loads the averages into `model` (Module::load_state_dict).
  void copy_to(nn::Module& model) const;

  double decay() const { return decay_; }

 private:
  // The tensor of `state` for each average, in order (internal::MatchStateDict).
  std::vector<const Tensor*> Match(const char* who, const StateDict& state) const;

  double decay_;
  StateDict averages_;
};

}  // namespace kiln::optim
