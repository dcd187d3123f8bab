#include "lazy/autograd_formulas.h"

#include <vector>

#include "absl/strings/str_cat.h"
#include "lazy/ops.h"
#include "lazy/tensor_impl.h"
#include "util/error.h"

namespace kiln::autograd {

Tensor SumToSizes(const Tensor& grad, const Sizes& sizes, const CallSite& site) {
  const Sizes& from = grad.sizes();
  if (from == sizes) return grad;
  const int64_t lead = static_cast<int64_t>(from.size()) - static_cast<int64_t>(sizes.size());
  std::vector<int64_t> dims;
  for (int64_t d = 0; d < static_cast<int64_t>(from.size()); ++d) {
    if (d < lead || (sizes[d - lead] == 1 && from[d] != 1)) dims.push_back(d);
  }
  Tensor summed = dims.empty() ? grad : sum(grad, dims, /*keepdim=*/true, site);
  return reshape(summed, std::vector<int64_t>(sizes.begin(), sizes.end()), site);
}

void OpGradients(const ForwardOp& op, const Tensor& grad, absl::Span<const bool> needs,
                 absl::Span<Tensor> grads) {
  const CallSite& site = op.site();
  // The operand's sizes: binary ops broadcast, so their gradients are summed back.
  const auto to_operand = [&](int i, const Tensor& g) {
    return SumToSizes(g, op.node().operand(i).shape().sizes(), site);
  };
  switch (op.kind()) {
    case OpKind::kNeg:
      grads[0] = neg(grad, site);
      return;
    case OpKind::kExp:
      grads[0] = mul(grad, op.output(), site);
      return;
    case OpKind::kAdd:
      if (needs[0]) grads[0] = to_operand(0, grad);
      if (needs[1]) grads[1] = to_operand(1, grad);
      return;
    case OpKind::kSub:
      if (needs[0]) grads[0] = to_operand(0, grad);
      if (needs[1]) grads[1] = to_operand(1, neg(grad, site));
      return;
    case OpKind::kMul:
      if (needs[0]) grads[0] = to_operand(0, mul(grad, op.operand(1), site));
      if (needs[1]) grads[1] = to_operand(1, mul(grad, op.operand(0), site));
      return;
    case OpKind::kSum: {
      const Shape& in = op.node().operand(0).shape();
      Tensor g = grad;
      if (!op.attrs().GetBool("keepdim")) {
        std::vector<int64_t> kept(in.sizes().begin(), in.sizes().end());
        for (int64_t d : op.attrs().GetInts("dims")) kept[d] = 1;
        g = reshape(g, kept, site);
      }
      grads[0] = expand(g, std::vector<int64_t>(in.sizes().begin(), in.sizes().end()), site);
      return;
    }
    default:
      throw Error(absl::StrCat("backward: ", OpName(op.kind()), " has no gradient formula"));
  }
}

}  // namespace kiln::autograd
