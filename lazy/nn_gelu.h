#pragma once
// nn::GELU: the Gaussian error linear unit as a module (torch.nn.GELU), so it can sit in
// a Sequential or be named inside an MLP. It has no parameters.
#include "lazy/composite_ops.h"
#include "lazy/nn_module.h"

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

}  // namespace kiln::nn
