#pragma once
// Group normalisation (torch.nn.functional.group_norm, torch.nn.GroupNorm): the channels of
// each sample split into groups, each group normalised over its channels and positions;
// no batch statistics, so training and evaluation agree.
//
//   nn::GroupNorm norm(8, 64);          // 8 groups of 8 channels; weight 1, bias 0 [64]
//   Tensor y = norm.forward(x);         // x [N, 64, ...]
#include <cstdint>

#include "lazy/nn_module.h"
#include "lazy/tensor.h"

namespace kiln::nn {

// x [N, C, ...] with C a multiple of num_groups: each sample's groups of C / num_groups
// channels normalised over those channels and every position, (x - mean) / sqrt(var + eps)
// with the biased variance, then * weight + bias per channel (weight and bias [C], either
// may be undefined). Floating operands of one dtype.
Tensor group_norm(const Tensor& x, int64_t num_groups, const Tensor& weight = Tensor(),
                  const Tensor& bias = Tensor(), double eps = 1e-5, CallSite site = {});

class GroupNorm : public Module {
 public:
  // With `affine`, parameters "weight" (ones) and "bias" (zeros) [num_channels].
  // num_groups > 0 must divide num_channels.
  GroupNorm(int64_t num_groups, int64_t num_channels, double eps = 1e-5, bool affine = true);

  Tensor forward(const Tensor& x, CallSite site = {}) const;

  // Undefined without affine.
  const Tensor& weight() const { return weight_; }
  const Tensor& bias() const { return bias_; }

 private:
  int64_t num_groups_;
  double eps_;
  Tensor weight_, bias_;
};

}  // namespace kiln::nn
