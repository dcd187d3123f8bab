#pragma once
// State tensors made beside live ones (optimizer moments, weight averages): each with a
// buffer of its own on the live tensor's backend, not a pending op. Why materialised: state
// that is a plain buffer and older than the step's tensors makes the first training step
// trace the same graph as every later one (mark_step orders its outputs by tensor
// creation, so state made during the first step would follow that step's gradients and
// hash differently).
#include "lazy/tensor.h"

namespace kiln::internal {

// Zeros shaped like `like`, on its backend.
Tensor MaterializedZeros(const Tensor& like);
// `value`'s value in a buffer of its own, on its backend (runs `value`'s pending work).
Tensor MaterializedCopy(const Tensor& value);

}  // namespace kiln::internal
