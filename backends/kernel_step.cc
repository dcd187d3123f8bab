#include "backends/kernel_step.h"

#include <utility>

namespace kiln {

KernelStep TakeKernelStep(codegen::KernelIR& ir, const GraphParameters& params) {
  KernelStep step;
  step.name = ir.name;
  step.kind = ir.kind;
  step.buffers = std::move(ir.buffers);
  step.sizes = std::move(ir.size_values);
  for (int node : ir.scalar_nodes) step.scalar_params.push_back(params.of_node[node]);
  step.checks = std::move(ir.checks);
  step.matmuls = std::move(ir.matmuls);
  return step;
}

std::vector<std::vector<int>> Releases(const std::vector<int>& stored_by,
                                       const std::vector<int>& last_use, int never,
                                       size_t num_steps) {
  std::vector<std::vector<int>> releases(num_steps);
  for (size_t p = 0; p < last_use.size(); ++p) {
    if (last_use[p] >= 0 && last_use[p] != never && stored_by[p] >= 0) {
      releases[last_use[p]].push_back(static_cast<int>(p));
    }
  }
  return releases;
}

}  // namespace kiln
