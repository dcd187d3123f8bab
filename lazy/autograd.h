#pragma once
// Reverse-mode autograd over lazy tensors. Every differentiable op recorded while
// GradMode is on and some operand requires grad also records a GradNode: the forward IR
// node plus, per operand, where that operand's gradient goes. backward() walks these
// GradNodes from the loss and records each op's backward formula as ordinary lazy ops,
// so forward, backward and the optimizer update all land in one pending graph and
// nothing runs before the barrier.
//
//   y = x * w   (w requires grad)       IR:        mul(x, w)
//                                       GradNode:  {node = mul, inputs = [-, w's leaf]}
//   y.sum().backward()  records         w.grad = sum_to(w.shape, expand(1) * x)
//
// The gradient graph is kept apart from the IR because the IR cannot tell a detached use
// of a value from a differentiable one, and ops traced under NoGradGuard must not get
// gradients even though their IR is identical.
//
// Like PyTorch, backward() frees the graph it walked unless retain_graph is set: each
// GradNode drops its forward IR node. A live loss tensor would otherwise keep the whole
// forward graph, and through it the old value of every parameter, alive past the
// optimizer step, and the barrier could not update parameters in place
// (lazy/graph_executor.cc). A second backward() through a freed GradNode throws.
#include <functional>
#include <memory>
#include <vector>

#include "absl/container/inlined_vector.h"
#include "absl/types/span.h"
#include "ir/node.h"
#include "lazy/tensor.h"

namespace kiln {

class Backend;

namespace autograd {

struct GradNode;

// Autograd state of a tensor that requires grad (a TensorImpl holds none otherwise).
struct AutogradMeta {
  // The op that produced the tensor; null for a leaf, whose gradients accumulate below.
  std::shared_ptr<GradNode> grad_fn;
  // Leaves only: the sum of the gradients of every backward() so far (undefined if none).
  Tensor grad;
};

// Where the gradient of one operand goes: into the GradNode that produced it, into a
// leaf's accumulated gradient, or nowhere (both null) when the operand needs none.
struct GradEdge {
  std::shared_ptr<GradNode> node;
  std::shared_ptr<AutogradMeta> leaf;
  explicit operator bool() const { return node != nullptr || leaf != nullptr; }
};

// A composite op's own backward: the gradient of each input (undefined: zero) from the
// forward values it saved and the gradient of the output.
using CustomBackward =
    std::function<std::vector<Tensor>(const std::vector<Tensor>& saved, const Tensor& grad)>;

// One recorded differentiable op. Holds the IR node (not the operand tensors), so saved
// forward values are recomputed from IR after a barrier rather than kept as live outputs.
struct GradNode {
  // Releases sole-owned input chains iteratively: a long trace would otherwise be
  // destroyed recursively and overflow the stack.
  ~GradNode();

  NodePtr node;              // null once a backward() without retain_graph has walked this node
  OpKind op = OpKind::kAdd;  // node's op, kept for messages after the node is freed
  Backend* backend = nullptr;
  absl::InlinedVector<GradEdge, 3> inputs;  // one per operand of `node`
  // A composite recorded by RecordCustomGradient: `node` is its output, `inputs` its
  // inputs (with their shapes), `custom` its backward over the values `saved`.
  CustomBackward custom;
  std::vector<Value> saved;
  std::vector<Shape> input_shapes;
};

// Whether the op has a backward formula (comparisons, argmax and leaves have none).
bool IsDifferentiable(OpKind op);

// Called for a recorded op when some operand requires grad: attaches a GradNode to
// `result` if gradients are being recorded and the op is differentiable. A null operand
// is one recorded without a tensor (a runtime scalar leaf): it gets no gradient.
void RecordGradient(absl::Span<const Tensor* const> operands, const Tensor& result);

// For a composite op computed under NoGradGuard from `inputs`: attaches a GradNode to
// `result` whose backward is `backward` over the forward values `saved` (the composite's
// intermediate ops then need no gradient of their own, and keep nothing for one), if
// gradients are being recorded and some input requires grad.
//
//   Tensor p;
//   { NoGradGuard g; p = div(e, sum(e)); }
//   RecordCustomGradient({&x}, p, {p}, [](const auto& saved, const Tensor& g) {
//     return std::vector<Tensor>{saved[0] * (g - sum(g * saved[0]))};
//   });
void RecordCustomGradient(absl::Span<const Tensor* const> inputs, const Tensor& result,
                          const std::vector<Tensor>& saved, CustomBackward backward);

// The work behind Tensor::backward: accumulates d(root)/d(leaf) * gradient into every
// leaf that requires grad and that root depends on, then frees the walked GradNodes'
// forward nodes unless `retain_graph`. Throws, recording nothing, when the walk meets a
// node an earlier backward freed.
void RunBackward(const Tensor& root, const Tensor& gradient, bool retain_graph,
                 const CallSite& site);

}  // namespace autograd
}  // namespace kiln
