#pragma once
// What a compiled graph keeps of its parameters (by value, so it holds no Node): their
// shapes and ops, and where each sits in the graph's post order. Shared by the backends
// that compile a graph into kernels (cpu, cuda).
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/types/span.h"
#include "backends/backend.h"
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

// The buffers of `args` for a graph with parameters `params`, checked before anything
// runs: one argument per parameter, and for each device_data one a BufferT that `ours`
// accepts (a buffer of this device), with the parameter's shape. nullptr for scalars.
// InvalidArgument naming `backend` otherwise.
template <typename BufferT, typename Ours>
absl::StatusOr<std::vector<const BufferT*>> CheckArguments(const GraphParameters& params,
                                                           absl::Span<const Argument> args,
                                                           const char* backend, Ours ours) {
  if (args.size() != params.shapes.size()) {
    return absl::InvalidArgumentError(absl::StrCat(backend, ": the graph has ",
                                                   params.shapes.size(), " parameters but ",
                                                   args.size(), " arguments were given"));
  }
  std::vector<const BufferT*> buffers(args.size(), nullptr);
  for (size_t i = 0; i < args.size(); ++i) {
    if (params.ops[i] != OpKind::kDeviceData) continue;
    const Shape& want = params.shapes[i];
    if (args[i].buffer == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat(
          backend, ": argument ", i, " for a ", want.ToString(), " device_data has no buffer"));
    }
    const auto* buffer = dynamic_cast<const BufferT*>(args[i].buffer);
    if (buffer == nullptr || !ours(*buffer)) {
      return absl::InvalidArgumentError(
          absl::StrCat(backend, ": argument ", i, " is not a buffer of this ", backend, " device"));
    }
    if (!(buffer->shape() == want)) {
      return absl::InvalidArgumentError(
          absl::StrCat(backend, ": argument ", i, " is ", buffer->shape().ToString(),
                       " but the graph's parameter ", i, " is ", want.ToString()));
    }
    buffers[i] = buffer;
  }
  return buffers;
}

}  // namespace kiln
