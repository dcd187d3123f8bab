// FusionPlan's printed forms: one line per kernel, and Graphviz clusters.
#include <algorithm>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "codegen/fusion_plan.h"

namespace kiln::codegen {
namespace {

std::string Positions(const Graph& graph, const std::vector<int>& positions, bool with_ops) {
  std::string out;
  for (int p : positions) {
    absl::StrAppend(&out, out.empty() ? "" : " ", "%", p);
    if (with_ops) absl::StrAppend(&out, ":", OpName(graph.post_order()[p]->op()));
  }
  return out;
}

}  // namespace

const char* KernelKindName(KernelKind kind) {
  switch (kind) {
    case KernelKind::kElementwise:
      return "elementwise";
    case KernelKind::kRow:
      return "row";
    case KernelKind::kMatmul:
      return "matmul";
    case KernelKind::kScatterAdd:
      return "scatter_add";
  }
  return "?";
}

std::string FusionPlan::ToString(const Graph& graph) const {
  std::string out;
  for (size_t i = 0; i < kernels.size(); ++i) {
    const Kernel& k = kernels[i];
    absl::StrAppend(&out, "kernel ", i, " (", KernelKindName(k.kind),
                    "): ", Positions(graph, k.nodes, true), " | loads ",
                    Positions(graph, k.loads, false), " | stores ",
                    Positions(graph, k.stores, false), " | ", k.boundary, "\n");
  }
  return out;
}

std::string FusionPlan::ToDot(const Graph& graph) const {
  const auto& order = graph.post_order();
  std::string out = "digraph fusion_plan {\n  node [shape=box];\n";
  for (size_t i = 0; i < order.size(); ++i) {
    if (IsParameter(order[i]->op())) {
      absl::StrAppend(&out, "  n", i, " [label=\"%", i, " ", OpName(order[i]->op()),
                      "\" style=dashed];\n");
    }
  }
  // A node inlined into several kernels is drawn once per kernel (k<kernel>_n<pos>).
  for (size_t i = 0; i < kernels.size(); ++i) {
    const Kernel& k = kernels[i];
    absl::StrAppend(&out, "  subgraph cluster_", i, " {\n    label=\"kernel ", i, " (",
                    KernelKindName(k.kind), ")\";\n");
    for (int p : k.nodes) {
      const bool stored = std::find(k.stores.begin(), k.stores.end(), p) != k.stores.end();
      absl::StrAppend(&out, "    k", i, "_n", p, " [label=\"%", p, " ", OpName(order[p]->op()), " ",
                      order[p]->shape().ToString(), "\"", stored ? " penwidth=2" : "", "];\n");
    }
    absl::StrAppend(&out, "  }\n");
  }
  // Edges: inside a kernel between members; into a kernel from the loaded node's home.
  absl::flat_hash_map<const Node*, int> position;
  for (size_t i = 0; i < order.size(); ++i) position[order[i]] = static_cast<int>(i);
  absl::flat_hash_map<int, std::string> home;  // stored position -> its dot id
  for (size_t i = 0; i < order.size(); ++i) {
    if (IsParameter(order[i]->op())) home[static_cast<int>(i)] = absl::StrCat("n", i);
  }
  for (size_t i = 0; i < kernels.size(); ++i) {
    const Kernel& k = kernels[i];
    for (int s : k.stores) {
      if (!IsParameter(order[s]->op())) home[s] = absl::StrCat("k", i, "_n", s);
    }
    absl::flat_hash_set<int> members(k.nodes.begin(), k.nodes.end());
    for (int p : k.nodes) {
      for (const Value& v : order[p]->operands()) {
        const int o = position.at(v.node.get());
        const std::string from = members.contains(o) ? absl::StrCat("k", i, "_n", o) : home[o];
        if (!from.empty()) absl::StrAppend(&out, "  ", from, " -> k", i, "_n", p, ";\n");
      }
    }
  }
  absl::StrAppend(&out, "}\n");
  return out;
}

}  // namespace kiln::codegen
