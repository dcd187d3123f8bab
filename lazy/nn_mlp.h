#pragma once
// nn::MLP: the transformer feed-forward block fc2(act(fc1(x))), named as timm's Mlp
// ("fc1", "act", "fc2"), so its state dict keys match timm checkpoints.
//
//   nn::MLP mlp(192, 768, 192, gen);     // fc1.weight f32[768,192], fc2.weight f32[192,768]
#include <cstdint>
#include <memory>

#include "lazy/composite_ops.h"
#include "lazy/generator.h"
#include "lazy/nn_gelu.h"
#include "lazy/nn_linear.h"
#include "lazy/nn_module.h"

namespace kiln::nn {

class MLP : public Module {
 public:
  // fc1 = Linear(in, hidden), act = GELU(approximation), fc2 = Linear(hidden, out), all
  // with biases and Linear's initialisation, drawn from `gen` in that order.
  MLP(int64_t in_features, int64_t hidden_features, int64_t out_features, Generator& gen,
      GeluApproximation approximation = GeluApproximation::kNone);

  // x [..., in_features] -> [..., out_features].
  Tensor forward(const Tensor& x, CallSite site = {}) const;

  const std::shared_ptr<Linear>& fc1() const { return fc1_; }
  const std::shared_ptr<GELU>& act() const { return act_; }
  const std::shared_ptr<Linear>& fc2() const { return fc2_; }

 private:
  std::shared_ptr<Linear> fc1_;
  std::shared_ptr<GELU> act_;
  std::shared_ptr<Linear> fc2_;
};

}  // namespace kiln::nn
