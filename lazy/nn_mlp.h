#pragma once
// nn::MLP: the transformer feed-forward block drop2(fc2(drop1(act(fc1(x))))), named as
// timm's Mlp ("fc1", "act", "drop1", "fc2", "drop2"), so its state dict keys match timm
// checkpoints.
//
//   nn::MLP mlp(192, 768, 192, gen);     // fc1.weight f32[768,192], fc2.weight f32[192,768]
#include <cstdint>
#include <memory>

#include "lazy/composite_ops.h"
#include "lazy/generator.h"
#include "lazy/nn_activations.h"
#include "lazy/nn_dropout.h"
#include "lazy/nn_linear.h"
#include "lazy/nn_module.h"

namespace kiln::nn {

class MLP : public Module {
 public:
  // fc1 = Linear(in, hidden), act = GELU(approximation), fc2 = Linear(hidden, out), all
  // with biases and Linear's initialisation, drawn from `gen` in that order; drop1 and
  // drop2 = Dropout(drop, gen), seeded after the weights (timm's Mlp(drop=...)).
  MLP(int64_t in_features, int64_t hidden_features, int64_t out_features, Generator& gen,
      GeluApproximation approximation = GeluApproximation::kNone, double drop = 0);

  // x [..., in_features] -> [..., out_features].
  Tensor forward(const Tensor& x, CallSite site = {}) const;

  const std::shared_ptr<Linear>& fc1() const { return fc1_; }
  const std::shared_ptr<GELU>& act() const { return act_; }
  const std::shared_ptr<Linear>& fc2() const { return fc2_; }
  const std::shared_ptr<Dropout>& drop1() const { return drop1_; }
  const std::shared_ptr<Dropout>& drop2() const { return drop2_; }

 private:
  std::shared_ptr<Linear> fc1_;
  std::shared_ptr<GELU> act_;
  std::shared_ptr<Dropout> drop1_;
  std::shared_ptr<Linear> fc2_;
  std::shared_ptr<Dropout> drop2_;
};

}  // namespace kiln::nn
