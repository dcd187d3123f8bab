#include "lazy/autograd.h"

#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "lazy/autograd_formulas.h"
#include "lazy/creation.h"
#include "lazy/grad_mode.h"
#include "lazy/ops.h"
#include "lazy/tensor_impl.h"
#include "util/error.h"

namespace kiln::autograd {
namespace {

GradEdge EdgeOf(const Tensor* t) {
  if (t == nullptr) return {};
  const std::shared_ptr<AutogradMeta>& meta = t->impl()->autograd();
  if (meta == nullptr) return {};
  if (meta->grad_fn != nullptr) return {meta->grad_fn, nullptr};
  return {nullptr, meta};
}

void Accumulate(AutogradMeta& leaf, const Tensor& grad, const CallSite& site) {
  leaf.grad = leaf.grad.defined() ? add(leaf.grad, grad, site) : grad;
}

// A formula bug would otherwise surface far away, as a shape error in a later op.
void CheckGradient(const GradNode& node, int operand, const Tensor& grad) {
  const Shape& expected =
      node.custom ? node.input_shapes[operand] : node.node->operand(operand).shape();
  if (!(grad.shape() == expected)) {
    throw Error(absl::StrCat("backward of ", OpName(node.op), node.custom ? " (a composite)" : "",
                             ": the gradient of operand ", operand, " is ", grad.shape().ToString(),
                             ", expected ", expected.ToString()));
  }
}

}  // namespace

bool IsDifferentiable(OpKind op) {
  switch (op) {
    case OpKind::kDeviceData:
    case OpKind::kScalar:
    case OpKind::kConstant:
    case OpKind::kArange:
    case OpKind::kRandUniform:
    case OpKind::kLogicalNot:
    case OpKind::kEq:
    case OpKind::kNe:
    case OpKind::kLt:
    case OpKind::kLe:
    case OpKind::kGt:
    case OpKind::kGe:
    case OpKind::kLogicalAnd:
    case OpKind::kLogicalOr:
    case OpKind::kArgmax:
      return false;
    default:
      return true;
  }
}

void RecordGradient(absl::Span<const Tensor* const> operands, const Tensor& result) {
  if (!GradMode::enabled()) return;
  const Value& value = result.impl()->pending();
  if (!IsFloating(value.shape().dtype()) || !IsDifferentiable(value.node->op())) return;
  auto node = std::make_shared<GradNode>();
  node->node = value.node;
  node->op = value.node->op();
  node->backend = result.impl()->backend();
  for (const Tensor* operand : operands) node->inputs.push_back(EdgeOf(operand));
  auto meta = std::make_shared<AutogradMeta>();
  meta->grad_fn = std::move(node);
  result.impl()->set_autograd(std::move(meta));
}

void RecordCustomGradient(absl::Span<const Tensor* const> inputs, const Tensor& result,
                          const std::vector<Tensor>& saved, CustomBackward backward) {
  if (!GradMode::enabled() || !IsFloating(result.dtype())) return;
  auto node = std::make_shared<GradNode>();
  bool any = false;
  for (const Tensor* input : inputs) {
    node->inputs.push_back(EdgeOf(input));
    node->input_shapes.push_back(input->shape());
    any = any || static_cast<bool>(node->inputs.back());
  }
  if (!any) return;
  const Value& value = result.impl()->pending();
  node->node = value.node;
  node->op = value.node->op();
  node->backend = result.impl()->backend();
  node->custom = std::move(backward);
  for (const Tensor& t : saved) node->saved.push_back(t.value());
  auto meta = std::make_shared<AutogradMeta>();
  meta->grad_fn = std::move(node);
  result.impl()->set_autograd(std::move(meta));
}

GradNode::~GradNode() {
  std::vector<std::shared_ptr<GradNode>> pending;
  const auto take_sole_owned = [&](absl::InlinedVector<GradEdge, 3>& inputs) {
    for (GradEdge& edge : inputs) {
      if (edge.node != nullptr && edge.node.use_count() == 1)
        pending.push_back(std::move(edge.node));
    }
  };
  take_sole_owned(inputs);
  while (!pending.empty()) {
    std::shared_ptr<GradNode> node = std::move(pending.back());
    pending.pop_back();
    take_sole_owned(node->inputs);
  }
}

Tensor ForwardOp::operand(int i) const { return MakePendingTensor(node_->operand(i), backend_); }

Tensor ForwardOp::output() const { return MakePendingTensor(Value{node_, 0}, backend_); }

void RunBackward(const Tensor& root, const Tensor& gradient, bool retain_graph,
                 const CallSite& site) {
  if (!root.defined()) throw Error("backward: the tensor is undefined");
  const std::shared_ptr<AutogradMeta>& root_meta = root.impl()->autograd();
  if (root_meta == nullptr) {
    throw Error(absl::StrCat("backward: the tensor ", root.shape().ToString(),
                             " does not require grad (no input of the ops that produced it "
                             "requires grad, or they ran under NoGradGuard)"));
  }
  Tensor seed = gradient;
  if (!seed.defined()) {
    if (root.numel() != 1) {
      throw Error(
          absl::StrCat("backward: a gradient can be implied only for a one-element "
                       "output; pass one for ",
                       root.shape().ToString()));
    }
    seed = full(std::vector<int64_t>(root.sizes().begin(), root.sizes().end()), Scalar(1.0),
                root.dtype(), site);
  } else if (!(seed.shape() == root.shape())) {
    throw Error(absl::StrCat("backward: the gradient ", seed.shape().ToString(),
                             " does not match the output ", root.shape().ToString()));
  } else if (seed.impl()->backend() != root.impl()->backend()) {
    throw Error(absl::StrCat("backward: the gradient ", seed.shape().ToString(), " is on ",
                             seed.impl()->backend()->name(), " but the output is on ",
                             root.impl()->backend()->name()));
  }
  NoGradGuard no_grad;  // gradients of gradients are not recorded
  if (root_meta->grad_fn == nullptr) {
    Accumulate(*root_meta, seed, site);
    return;
  }

  // How many edges point at each GradNode: a node runs once all of its consumers have
  // passed it their gradient contributions (Kahn's order over the gradient graph).
  // Also checks, before anything is recorded, that no node was freed.
  absl::flat_hash_map<const GradNode*, int> pending_consumers;
  std::vector<GradNode*> walked = {root_meta->grad_fn.get()};
  std::vector<GradNode*> stack = {root_meta->grad_fn.get()};
  pending_consumers[root_meta->grad_fn.get()] = 0;
  while (!stack.empty()) {
    GradNode* node = stack.back();
    stack.pop_back();
    if (node->node == nullptr) {
      throw Error(absl::StrCat(
          "backward: trying to backward through the graph a second time: the graph of ",
          OpName(node->op), " was freed by an earlier backward(); pass retain_graph=true to ",
          "the earlier backward() to keep it"));
    }
    for (const GradEdge& edge : node->inputs) {
      if (edge.node == nullptr) continue;
      auto [it, inserted] = pending_consumers.try_emplace(edge.node.get(), 0);
      ++it->second;
      if (inserted) {
        stack.push_back(edge.node.get());
        walked.push_back(edge.node.get());
      }
    }
  }

  absl::flat_hash_map<const GradNode*, Tensor> grads;
  grads[root_meta->grad_fn.get()] = seed;
  std::vector<const GradNode*> ready = {root_meta->grad_fn.get()};
  absl::InlinedVector<bool, 3> needs;
  absl::InlinedVector<Tensor, 3> input_grads;
  while (!ready.empty()) {
    const GradNode* node = ready.back();
    ready.pop_back();
    Tensor grad;
    if (auto it = grads.find(node); it != grads.end()) {
      grad = std::move(it->second);
      grads.erase(it);
    }
    const size_t n = node->inputs.size();
    needs.assign(n, false);
    input_grads.assign(n, Tensor());
    const ForwardOp op(node->node, node->backend);
    if (grad.defined() && node->custom) {
      std::vector<Tensor> saved;
      for (const Value& v : node->saved) saved.push_back(MakePendingTensor(v, node->backend));
      std::vector<Tensor> custom = node->custom(saved, grad);
      for (size_t i = 0; i < n && i < custom.size(); ++i) input_grads[i] = std::move(custom[i]);
    } else if (grad.defined()) {
      for (size_t i = 0; i < n; ++i) needs[i] = static_cast<bool>(node->inputs[i]);
      OpGradients(op, grad, needs, absl::MakeSpan(input_grads));
    }
    for (size_t i = 0; i < n; ++i) {
      const GradEdge& edge = node->inputs[i];
      if (!edge) continue;
      const Tensor& g = input_grads[i];
      if (g.defined()) CheckGradient(*node, static_cast<int>(i), g);
      if (edge.leaf != nullptr) {
        if (g.defined()) Accumulate(*edge.leaf, g, op.site());
        continue;
      }
      if (g.defined()) {
        Tensor& sum = grads[edge.node.get()];
        sum = sum.defined() ? add(sum, g, op.site()) : g;
      }
      if (--pending_consumers[edge.node.get()] == 0) ready.push_back(edge.node.get());
    }
  }
  if (!retain_graph) {
    for (GradNode* node : walked) {
      node->node = nullptr;
      node->saved.clear();
    }
  }
}

}  // namespace kiln::autograd
