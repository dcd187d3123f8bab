#include "lazy/nn_clip_grad.h"

#include <cmath>

#include "lazy/creation.h"
#include "lazy/op_utils.h"
#include "lazy/ops.h"

namespace kiln::nn {
namespace {

using internal::CastTo;
using internal::ThrowOpError;

// The parameters that have a gradient.
std::vector<Tensor> WithGradients(const std::vector<Tensor>& parameters) {
  std::vector<Tensor> out;
  for (const Tensor& p : parameters) {
    if (p.defined() && p.requires_grad() && p.is_leaf() && p.grad().defined()) out.push_back(p);
  }
  return out;
}

}  // namespace

Tensor clip_grad_norm_(const std::vector<Tensor>& parameters, double max_norm, double norm_type,
                       CallSite site) {
  if (!(max_norm >= 0)) {
    ThrowOpError("clip_grad_norm_: expected max_norm >= 0, got ", max_norm);
  }
  if (!(norm_type > 0)) {
    ThrowOpError("clip_grad_norm_: expected norm_type > 0 (or infinity), got ", norm_type);
  }
  const std::vector<Tensor> with_grads = WithGradients(parameters);
  DType dtype = DType::kF32;
  for (const Tensor& p : with_grads) {
    if (p.dtype() == DType::kF64) dtype = DType::kF64;
  }
  if (with_grads.empty()) return zeros({}, dtype, site);
  const bool largest = std::isinf(norm_type);
  // Per gradient: the largest magnitude, or the sum of |g|^p; then one total.
  Tensor total;
  for (const Tensor& p : with_grads) {
    const Tensor g = p.grad();
    Tensor part;
    if (largest) {
      part = max(abs(g, site), {}, false, site);
    } else if (norm_type == 2) {
      part = sum(mul(g, g, site), {}, false, site);
    } else {
      part = sum(pow(abs(g, site), norm_type, site), {}, false, site);
    }
    part = CastTo(part, dtype, site);
    if (!total.defined()) {
      total = part;
    } else {
      total = largest ? maximum(total, part, site) : add(total, part, site);
    }
  }
  if (!largest) total = norm_type == 2 ? sqrt(total, site) : pow(total, 1 / norm_type, site);
  const Tensor scale = clamp(div(max_norm, add(total, 1e-6, site), site), std::nullopt, 1.0, site);
  for (const Tensor& p : with_grads) {
    p.set_grad(mul(p.grad(), CastTo(scale, p.dtype(), site), site));
  }
  return total;
}

void clip_grad_value_(const std::vector<Tensor>& parameters, double clip_value, CallSite site) {
  if (!(clip_value >= 0)) {
    ThrowOpError("clip_grad_value_: expected clip_value >= 0, got ", clip_value);
  }
  for (const Tensor& p : WithGradients(parameters)) {
    p.set_grad(clamp(p.grad(), -clip_value, clip_value, site));
  }
}

}  // namespace kiln::nn
