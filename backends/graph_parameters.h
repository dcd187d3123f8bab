#pragma once
// What a compiled graph keeps of its parameters (by value, so it holds no Node): their
// shapes and ops, and where each sits in the graph's post order. Shared by the backends
// that compile a graph into kernels (cpu, cuda).
#include <vector>

#include "absl/status/statusor.h"
#include "ir/graph.h"

namespace kiln {

struct GraphParameters {
  std::vector<Shape> shapes;  // per parameter
  std::vector<OpKind> ops;    // per parameter: kDeviceData or kScalar
  std::vector<int> of_node;   // post-order position -> parameter index, or -1
  int num_nodes = 0;          // nodes in the post order
};

// The parameters of `graph`; Unimplemented (naming `backend`) for a reserved dtype.
absl::StatusOr<GraphParameters> IndexParameters(const Graph& graph, const char* backend);

}  // namespace kiln
