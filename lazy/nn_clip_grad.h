#pragma once
// Gradient clipping (torch.nn.utils.clip_grad_norm_ and clip_grad_value_), recorded as
// lazy ops: the norm and the scaling run inside the step's graph with no read back to
// the host, and the bounds are runtime scalars, so changing them recompiles nothing.
//
//   loss.backward();
//   kiln::Tensor norm = kiln::nn::clip_grad_norm_(model.parameters(), 1.0);
//   opt.step();
//   kiln::mark_step();  // forward, backward, clipping and update: one graph
#include <limits>
#include <vector>

#include "lazy/tensor.h"

namespace kiln::nn {

// Scales the gradients of `parameters` (those that have one) by
// min(1, max_norm / (total_norm + 1e-6)), total_norm being the norm_type-norm of all of
// them taken together (norm_type > 0; infinity: the largest magnitude). Returns
// total_norm as a 0-d tensor (f64 when a gradient is f64, else f32; 0 when no parameter
// has a gradient). A NaN or infinite gradient makes the norm non-finite and the scaled
// gradients NaN, as torch's default (error_if_nonfinite=False).
Tensor clip_grad_norm_(const std::vector<Tensor>& parameters, double max_norm,
                       double norm_type = 2.0, CallSite site = {});

// Clamps every gradient of `parameters` to [-clip_value, clip_value] (clip_value >= 0).
void clip_grad_value_(const std::vector<Tensor>& parameters, double clip_value, CallSite site = {});

}  // namespace kiln::nn
