#pragma once
// Per-channel operands of the normalisation layers over x [N, C, ...] (batch_norm,
// group_norm): checked as [C] and broadcast as [C, 1, ...].
#include <string_view>

#include "lazy/tensor.h"

namespace kiln::internal {

// Throws naming `op` and `name` unless `t` is undefined or a [C] tensor of x's dtype.
void CheckPerChannel(std::string_view op, std::string_view name, const Tensor& t, const Tensor& x);

// v [C] as [C, 1, ...], to broadcast against x [N, C, ...].
Tensor PerChannel(const Tensor& v, const Tensor& x, const CallSite& site);

}  // namespace kiln::internal
