#include "backends/kernel_nan_check.h"

#include <optional>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "backends/nan_check.h"
#include "ir/ir_text.h"

namespace kiln {

KernelNanCheck::KernelNanCheck(const Graph& graph, std::vector<std::vector<int>> members)
    : graph_hash_(graph.hash().ToString()),
      node_lines_(PrintNodeLines(graph)),
      members_(std::move(members)) {
  absl::flat_hash_map<const Node*, int> position;
  for (size_t i = 0; i < graph.post_order().size(); ++i) position[graph.post_order()[i]] = i;
  for (const Node* param : graph.parameters()) parameter_nodes_.push_back(position.at(param));
}

absl::Status KernelNanCheck::KernelOutput(const KernelStep& step, int k,
                                          const codegen::BufferArg& b, const void* host) const {
  const Shape shape(b.dtype, b.shape);
  const std::optional<NonFinite> found = FindNonFinite(shape, host);
  if (!found) return absl::OkStatus();
  std::vector<std::string> computes;
  for (int node : members_[k]) computes.push_back(node_lines_[node]);
  return NonFiniteError(absl::StrCat("kernel ", step.name, " (", codegen::KernelKindName(step.kind),
                                     ") of graph ", graph_hash_, " wrote"),
                        shape, *found, node_lines_[b.node], computes);
}

absl::Status KernelNanCheck::Argument(int param, const Shape& shape, const void* host) const {
  const std::optional<NonFinite> found = FindNonFinite(shape, host);
  if (!found) return absl::OkStatus();
  return NonFiniteError(absl::StrCat("argument ", param, " of graph ", graph_hash_, " holds"),
                        shape, *found, node_lines_[parameter_nodes_[param]], {});
}

}  // namespace kiln
