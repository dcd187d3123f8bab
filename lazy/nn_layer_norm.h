#pragma once
// nn::LayerNorm and nn::RMSNorm: normalise over the trailing `normalized_shape`
// dimensions (torch.nn.LayerNorm, with the biased variance; torch.nn.RMSNorm).
//
//   nn::LayerNorm norm({192}, 1e-6);     // weight = 1, bias = 0, both f32[192]
//   Tensor y = norm.forward(x);          // x [B, L, 192]
#include <cstdint>
#include <optional>
#include <vector>

#include "lazy/nn_module.h"

namespace kiln::nn {

class LayerNorm : public Module {
 public:
  // With `elementwise_affine`, parameters "weight" (ones) and "bias" (zeros) of shape
  // `normalized_shape`, which must be non-empty with positive sizes. eps defaults to
  // PyTorch's 1e-5 (timm's ViT uses 1e-6).
  explicit LayerNorm(std::vector<int64_t> normalized_shape, double eps = 1e-5,
                     bool elementwise_affine = true);

  // (x - mean) / sqrt(var + eps) * weight + bias over the trailing dimensions. Throws
  // kiln::Error naming the module and the shapes when they are not normalized_shape.
  Tensor forward(const Tensor& x, CallSite site = {}) const;

  // Undefined without elementwise_affine.
  const Tensor& weight() const { return weight_; }
  const Tensor& bias() const { return bias_; }
  const std::vector<int64_t>& normalized_shape() const { return normalized_shape_; }
  double eps() const { return eps_; }

 private:
  std::vector<int64_t> normalized_shape_;
  double eps_;
  Tensor weight_;
  Tensor bias_;
};

class RMSNorm : public Module {
 public:
  // With `elementwise_affine`, a parameter "weight" (ones) of shape `normalized_shape`,
  // which must be non-empty with positive sizes. eps defaults to the input dtype's machine
  // epsilon, as torch's.
  explicit RMSNorm(std::vector<int64_t> normalized_shape, std::optional<double> eps = std::nullopt,
                   bool elementwise_affine = true);

  // x / sqrt(mean(x^2) + eps) * weight over the trailing dimensions. Throws kiln::Error
  // naming the module and the shapes when they are not normalized_shape.
  Tensor forward(const Tensor& x, CallSite site = {}) const;

  const Tensor& weight() const { return weight_; }  // undefined without elementwise_affine
  const std::vector<int64_t>& normalized_shape() const { return normalized_shape_; }
  std::optional<double> eps() const { return eps_; }

 private:
  std::vector<int64_t> normalized_shape_;
  std::optional<double> eps_;
  Tensor weight_;
};

}  // namespace kiln::nn
