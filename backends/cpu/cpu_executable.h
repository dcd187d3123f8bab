#pragma once
// The cpu backend's compiled graph: the loaded library of generated kernels plus a
// by-value description of each kernel's arguments (which graph values its buffers hold,
// its runtime sizes and scalars, its checks and BLAS calls). Holds no pointer to the
// Graph, its nodes or their buffers, so a cached executable keeps no tensor alive.
//
//   plan: k0 (row) stores %3; k1 (matmul) loads %3 %1, stores %4
//   run:  allocate %3; kiln_k0(...); allocate %4; sgemm(...); free %3 (last reader k1)
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "backends/backend.h"
#include "backends/cpu/host_compiler.h"
#include "backends/cpu/kernel_profile.h"
#include "codegen/kernel_ir.h"
#include "ir/graph.h"

namespace kiln::cpu {

class CpuExecutable : public Executable {
 public:
  // Plans, lowers, emits and compiles `graph`. With KILN_DUMP_DIR set, also writes the
  // plan (<hash>.plan.txt, <hash>.plan.dot) and the source (<hash>.cc) there, named by
  // Graph::hash() like the executor's <hash>.kir. KILN_PROFILE and KILN_TRACE are read
  // here, once: an executable created with both off never reads the clock.
  static absl::StatusOr<std::unique_ptr<CpuExecutable>> Create(const Graph& graph);

  // Thread-safe: a run keeps its state on its own stack (the kernels are reentrant).
  absl::StatusOr<std::vector<BufferPtr>> Run(absl::Span<const Argument> args) override;

  // The generated translation unit (for tests and dumps).
  const std::string& source() const { return source_; }
  int num_kernels() const { return static_cast<int>(steps_.size()); }

 private:
  using KernelFn = void (*)(void* const*, const int64_t*, const double*, int, int, void*);

  // One kernel, by value.
  struct Step {
    std::string name;  // the kernel's function name (also for a lone BLAS call)
    codegen::KernelKind kind = codegen::KernelKind::kElementwise;
    KernelFn fn = nullptr;  // null when the kernel has no loops (a lone BLAS call)
    std::vector<codegen::BufferArg> buffers;
    std::vector<int64_t> sizes;
    std::vector<int> scalar_params;  // index into Run's arguments
    std::vector<codegen::Check> checks;
    std::vector<codegen::MatmulCall> matmuls;
    std::vector<int> release;  // node positions whose last reader is this kernel
  };

  CpuExecutable() = default;
  absl::Status ReportCheck(const Step& step, const void* error) const;

  std::shared_ptr<LoadedLibrary> library_;
  std::string source_;
  std::vector<Step> steps_;
  std::vector<Shape> param_shapes_;
  std::vector<OpKind> param_ops_;
  std::vector<int> param_of_node_;  // node position -> parameter index, or -1
  std::vector<int> outputs_;        // node position of each graph output
  int num_nodes_ = 0;
  std::string graph_hash_;
  // Per-kernel timing: on when profiling or tracing was on at Create.
  bool timed_ = false;
  bool trace_ = false;
  std::shared_ptr<GraphProfile> profile_;  // null unless KILN_PROFILE was on at Create
};

}  // namespace kiln::cpu
