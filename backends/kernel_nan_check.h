#pragma once
// KILN_CHECK_NAN (backends/nan_check.h) for the backends that run a graph as kernels (cpu,
// cuda): what they keep to name the kernel, the value and the IR behind a NaN or infinity.
//
//   KernelNanCheck check(graph, members);        // at compile time, when check_nan is set
//   RETURN_IF_ERROR(check.Argument(p, shape, host));            // before the run
//   RETURN_IF_ERROR(check.KernelOutput(step, k, b, host));      // after each step
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "backends/kernel_step.h"
#include "ir/graph.h"

namespace kiln {

class KernelNanCheck {
 public:
  // `members[k]`: the node positions step k computes (its fusion-plan kernel's nodes).
  KernelNanCheck(const Graph& graph, std::vector<std::vector<int>> members);

  // OK, or the error for the first non-finite element of `host`, a host copy of the value
  // that `step` (step number `k`) wrote into its buffer `b`.
  absl::Status KernelOutput(const KernelStep& step, int k, const codegen::BufferArg& b,
                            const void* host) const;
  // OK, or the error for the first non-finite element of `host`, a host copy of argument
  // `param`.
  absl::Status Argument(int param, const Shape& shape, const void* host) const;

 private:
  std::string graph_hash_;
  std::vector<std::string> node_lines_;  // the graph's IR, a line per node position
  std::vector<std::vector<int>> members_;
  std::vector<int> parameter_nodes_;  // per parameter: its node position
};

}  // namespace kiln
