#pragma once
// The backward formula of every differentiable op, written with the lazy tensor API so
// gradients are ordinary pending IR. Internal to lazy/autograd.cc.
#include "absl/types/span.h"
#include "ir/node.h"
#include "lazy/tensor.h"

namespace kiln {

class Backend;

namespace autograd {

// What a backward formula sees of the forward op.
class ForwardOp {
 public:
  ForwardOp(NodePtr node, Backend* backend)
      : node_(std::move(node)), backend_(backend), site_(node_->location()) {}

  const Node& node() const { return *node_; }
  OpKind kind() const { return node_->op(); }
  const Attributes& attrs() const { return node_->attrs(); }
  // Operand i and the forward result, as tensors over the forward IR.
  Tensor operand(int i) const;
  Tensor output() const;
  // Backward ops are attributed to the forward op's call site.
  const CallSite& site() const { return site_; }

 private:
  NodePtr node_;
  Backend* backend_;
  CallSite site_;
};

// Sets grads[i] to the gradient of operand i for every i with needs[i], given `grad`,
// the gradient of the output (same shape and dtype as the output). Each gradient has
// exactly its operand's shape and dtype (broadcast dimensions are summed back). Entries
// left undefined mean "zero".
void OpGradients(const ForwardOp& op, const Tensor& grad, absl::Span<const bool> needs,
                 absl::Span<Tensor> grads);

// Sums `grad` over the dimensions that broadcasting added or expanded so that it has
// `sizes`: the gradient of an implicit broadcast.
Tensor SumToSizes(const Tensor& grad, const Sizes& sizes, const CallSite& site);

}  // namespace autograd
}  // namespace kiln
