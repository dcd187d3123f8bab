#pragma once
// nn::Linear: y = x W^T + b over the last dimension (torch.nn.Linear).
//
//   nn::Linear fc(192, 576, gen);        // weight f32[576,192], bias f32[576]
//   Tensor y = fc.forward(x);            // x [B, L, 192] -> y [B, L, 576]
#include <cstdint>

#include "lazy/generator.h"
#include "lazy/nn_module.h"

namespace kiln::nn {

class Linear : public Module {
 public:
  // Parameters "weight" [out_features, in_features] and, when `bias`, "bias"
  // [out_features]. Initialisation follows ViT (not PyTorch's kaiming-uniform default):
  // weight ~ trunc_normal(std 0.02, cut at +-2 std) drawn from `gen`, bias = 0.
  Linear(int64_t in_features, int64_t out_features, Generator& gen, bool bias = true);

  // x [..., in_features] -> [..., out_features]. Throws kiln::Error naming the module
  // and the shapes when the last dimension is not in_features.
  Tensor forward(const Tensor& x, CallSite site = {}) const;

  const Tensor& weight() const { return weight_; }
  // Undefined when constructed without bias.
  const Tensor& bias() const { return bias_; }
  int64_t in_features() const { return in_features_; }
  int64_t out_features() const { return out_features_; }

 private:
  int64_t in_features_;
  int64_t out_features_;
  Tensor weight_;
  Tensor bias_;
};

}  // namespace kiln::nn
