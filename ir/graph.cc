#include "ir/graph.h"

#include <atomic>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "ir/ir_text.h"

namespace kiln {
namespace {

std::atomic<uint64_t> next_epoch{1};

}  // namespace

Graph Graph::Build(std::vector<Value> outputs) {
  Graph g;
  g.outputs_ = std::move(outputs);
  const uint64_t epoch = next_epoch.fetch_add(1, std::memory_order_relaxed);
  HashBuilder h;
  for (const Value& out : g.outputs_) h.Add(out.hash());

  // Iterative DFS: (node, next operand to visit).
  std::vector<std::pair<const Node*, int>> stack;
  auto visit_param_use = [&](const Node* leaf) {
    h.Add(static_cast<uint64_t>(leaf->visit_index_));
  };
  auto push = [&](const Node* n) {
    if (n->visit_epoch_ == epoch) return false;
    n->visit_epoch_ = epoch;
    stack.emplace_back(n, 0);
    return true;
  };
  for (const Value& out : g.outputs_) {
    push(out.node.get());
    while (!stack.empty()) {
      auto& [node, next] = stack.back();
      if (next < node->num_operands()) {
        const Node* operand = node->operands_[next++].node.get();
        const bool fresh = push(operand);
        if (!fresh && IsParameter(operand->op())) visit_param_use(operand);
        continue;
      }
      const Node* done = node;
      stack.pop_back();
      if (IsParameter(done->op())) {
        done->visit_index_ = static_cast<int32_t>(g.parameters_.size());
        g.parameters_.push_back(done);
        visit_param_use(done);
      }
      g.post_order_.push_back(done);
    }
  }
  g.hash_ = h.Finish();
  return g;
}

bool IsSizeAttribute(OpKind op, std::string_view attr_name) {
  switch (op) {
    case OpKind::kReshape:
    case OpKind::kExpand:
    case OpKind::kRandUniform:
      return attr_name == "sizes";
    case OpKind::kSlice:
      return attr_name == "start" || attr_name == "end";
    case OpKind::kPad:
      return attr_name == "pads";
    case OpKind::kArange:
      return attr_name == "size";
    default:
      return false;
  }
}

Hash128 NodeStructureKey(const Node& node,
                         const absl::flat_hash_map<const Node*, int>& position_of) {
  HashBuilder h;
  h.Add(static_cast<uint64_t>(node.op()));
  for (const auto& [name, value] : node.attrs().entries()) {
    if (IsSizeAttribute(node.op(), name)) continue;
    Attributes one;
    one.Set(name, value);
    one.AddToHash(h);
  }
  for (const Value& v : node.operands()) {
    h.Add(static_cast<uint64_t>(position_of.at(v.node.get()))).Add(static_cast<uint64_t>(v.index));
  }
  h.Add(static_cast<uint64_t>(node.shape().dtype())).Add(node.shape().sizes().size());
  return h.Finish();
}

Hash128 Graph::StructureHash() const {
  absl::flat_hash_map<const Node*, int> index;
  HashBuilder h;
  for (const Node* node : post_order_) {
    index[node] = static_cast<int>(index.size());
    h.Add(NodeStructureKey(*node, index));
  }
  for (const Value& out : outputs_) {
    h.Add(static_cast<uint64_t>(index.at(out.node.get()))).Add(static_cast<uint64_t>(out.index));
  }
  return h.Finish();
}

bool operator==(const Graph& a, const Graph& b) {
  return a.hash_ == b.hash_ && PrintGraph(a) == PrintGraph(b);
}

}  // namespace kiln
