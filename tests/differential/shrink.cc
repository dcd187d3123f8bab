#include "tests/differential/shrink.h"

#include <optional>
#include <vector>

#include "absl/container/flat_hash_map.h"

namespace kiln::differential {
namespace {

// Owning pointers for the nodes of `graph`, which lists them only by address.
absl::flat_hash_map<const Node*, NodePtr> Owners(const Graph& graph) {
  absl::flat_hash_map<const Node*, NodePtr> owners;
  for (const Value& out : graph.outputs()) owners.emplace(out.node.get(), out.node);
  for (const Node* node : graph.post_order()) {
    for (const Value& operand : node->operands()) {
      owners.emplace(operand.node.get(), operand.node);
    }
  }
  return owners;
}

// `graph` with `target` replaced by `replacement` and only the outputs in `outputs`;
// nullopt when a rebuilt node no longer type-checks.
std::optional<Graph> Rewrite(const Graph& graph, const Node* target, const Value& replacement,
                             const std::vector<int>& outputs) {
  const absl::flat_hash_map<const Node*, NodePtr> owners = Owners(graph);
  absl::flat_hash_map<const Node*, Value> rebuilt;
  for (const Node* node : graph.post_order()) {
    if (node == target) {
      rebuilt[node] = replacement;
      continue;
    }
    Operands operands;
    bool changed = false;
    for (const Value& operand : node->operands()) {
      const Value& now = rebuilt.at(operand.node.get());
      changed = changed || !(now == operand);
      operands.push_back(now);
    }
    if (!changed) {
      rebuilt[node] = Value{owners.at(node), 0};
      continue;
    }
    absl::StatusOr<NodePtr> copy =
        Node::Create(node->op(), std::move(operands), Attributes(node->attrs()), node->location());
    if (!copy.ok()) return std::nullopt;
    rebuilt[node] = Value{*std::move(copy), 0};
  }
  std::vector<Value> kept;
  for (int o : outputs) {
    kept.push_back(rebuilt.at(graph.outputs()[o].node.get()));
  }
  return Graph::Build(std::move(kept));
}

std::vector<int> AllOutputs(const Graph& graph) {
  std::vector<int> all;
  for (int o = 0; o < static_cast<int>(graph.outputs().size()); ++o) all.push_back(o);
  return all;
}

bool IsOutput(const Graph& graph, const Node* node) {
  for (const Value& out : graph.outputs()) {
    if (out.node.get() == node) return true;
  }
  return false;
}

// One shrinking step that still fails, or nullopt.
std::optional<Graph> ShrinkOnce(const Graph& graph,
                                const std::function<bool(const Graph&)>& fails) {
  const std::vector<int> outputs = AllOutputs(graph);
  const std::vector<const Node*>& nodes = graph.post_order();
  for (auto it = nodes.rbegin(); it != nodes.rend(); ++it) {
    const Node* node = *it;
    if (IsLeaf(node->op())) continue;
    std::vector<Value> candidates;
    // A new parameter cuts everything that only fed this node; an output stays computed.
    if (!IsOutput(graph, node)) {
      candidates.push_back(Value{Node::CreateDeviceData(node->shape(), nullptr), 0});
    }
    // An operand of the same shape takes its place; any operand may become an output.
    for (const Value& operand : node->operands()) {
      if (operand.shape() == node->shape() || IsOutput(graph, node)) candidates.push_back(operand);
    }
    for (const Value& replacement : candidates) {
      std::optional<Graph> smaller = Rewrite(graph, node, replacement, outputs);
      if (smaller.has_value() && smaller->num_nodes() < graph.num_nodes() && fails(*smaller)) {
        return smaller;
      }
    }
  }
  return std::nullopt;
}

}  // namespace

Graph ShrinkGraph(const Graph& graph, const std::function<bool(const Graph&)>& fails) {
  Graph best = graph;
  if (best.outputs().size() > 1) {
    for (int o = 0; o < static_cast<int>(best.outputs().size()); ++o) {
      std::optional<Graph> one = Rewrite(best, nullptr, Value(), {o});
      if (one.has_value() && fails(*one)) {
        best = *std::move(one);
        break;
      }
    }
  }
  while (std::optional<Graph> smaller = ShrinkOnce(best, fails)) best = *std::move(smaller);
  return best;
}

}  // namespace kiln::differential
