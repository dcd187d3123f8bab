#pragma once
// One kernel of a compiled graph, by value (no pointer into the Graph or its nodes): what
// a run needs to bind the kernel's buffers, sizes and scalars, report its failed checks,
// run its matmuls and free the values it reads last. Shared by the backends that compile
// a graph into kernels (cpu, cuda), which add how they call the kernel.
#include <cstdint>
#include <string>
#include <vector>

#include "backends/graph_parameters.h"
#include "codegen/kernel_ir.h"

namespace kiln {

struct KernelStep {
  std::string name;  // the kernel's name (also for a lone matmul)
  codegen::KernelKind kind = codegen::KernelKind::kElementwise;
  std::vector<codegen::BufferArg> buffers;
  std::vector<int64_t> sizes;
  std::vector<int> scalar_params;  // index into Run's arguments
  std::vector<codegen::Check> checks;
  std::vector<codegen::MatmulCall> matmuls;
  std::vector<int> release;  // node positions whose last reader is this kernel
};

// Moves the run-time description out of `ir` (its scalar leaves mapped to parameters);
// `release` is left empty (AssignReleases).
KernelStep TakeKernelStep(codegen::KernelIR& ir, const GraphParameters& params);

// The node positions each step releases after it runs: the values a kernel stores, at
// their last reader (`last_use`; a negative or `never` entry is never released).
std::vector<std::vector<int>> Releases(const std::vector<int>& stored_by,
                                       const std::vector<int>& last_use, int never,
                                       size_t num_steps);

}  // namespace kiln
