#include "backends/graph_parameters.h"

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"

namespace kiln {

absl::StatusOr<GraphParameters> IndexParameters(const Graph& graph, const char* backend) {
  GraphParameters params;
  const auto& order = graph.post_order();
  params.num_nodes = static_cast<int>(order.size());
  absl::flat_hash_map<const Node*, int> pos;
  for (int i = 0; i < params.num_nodes; ++i) pos[order[i]] = i;
  params.of_node.assign(order.size(), -1);
  for (size_t i = 0; i < graph.parameters().size(); ++i) {
    const Node* p = graph.parameters()[i];
    params.of_node[pos.at(p)] = static_cast<int>(i);
    params.shapes.push_back(p->shape());
    params.ops.push_back(p->op());
    if (IsReserved(p->shape().dtype())) {
      return absl::UnimplementedError(absl::StrCat(backend, ": ", p->ShortString(), ": dtype ",
                                                   DTypeName(p->shape().dtype()),
                                                   " is reserved and not supported yet"));
    }
  }
  return params;
}

}  // namespace kiln
