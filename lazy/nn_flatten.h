#pragma once
// nn::Flatten: dimensions start_dim..end_dim merged into one (torch.nn.Flatten), by default
// all but the batch's, so a Sequential can go from feature maps to a Linear.
#include <cstdint>

#include "lazy/nn_module.h"
#include "lazy/ops.h"

namespace kiln::nn {

class Flatten : public Module {
 public:
  explicit Flatten(int64_t start_dim = 1, int64_t end_dim = -1)
      : Module("Flatten"), start_dim_(start_dim), end_dim_(end_dim) {}

  // flatten(x, start_dim, end_dim): [N, C, H, W] -> [N, C H W] by default.
  Tensor forward(const Tensor& x, CallSite site = {}) const {
    return flatten(x, start_dim_, end_dim_, site);
  }

 private:
  int64_t start_dim_, end_dim_;
};

}  // namespace kiln::nn
