#pragma once
// Activations as modules (torch.nn.GELU, torch.nn.ReLU), so they can sit in a Sequential
// or be named inside an MLP. They have no parameters.
#include "lazy/composite_ops.h"
#include "lazy/nn_module.h"
#include "lazy/ops.h"

namespace kiln::nn {

class GELU : public Module {
 public:
  // kNone: the exact erf form (PyTorch's default); kTanh: the tanh approximation.
  explicit GELU(GeluApproximation approximation = GeluApproximation::kNone)
      : Module("GELU"), approximation_(approximation) {}

  // gelu(x), elementwise.
  Tensor forward(const Tensor& x, CallSite site = {}) const {
    return gelu(x, approximation_, site);
  }

  GeluApproximation approximation() const { return approximation_; }

 private:
  GeluApproximation approximation_;
};

class ReLU : public Module {
 public:
  ReLU() : Module("ReLU") {}

  // max(x, 0), elementwise.
  Tensor forward(const Tensor& x, CallSite site = {}) const { return relu(x, site); }
};

}  // namespace kiln::nn
