#pragma once
// The cpu backend's compiled graph: the loaded library of generated kernels plus a
// by-value description of each kernel's arguments (which graph values its buffers hold,
// its runtime sizes and scalars, its checks and BLAS calls). Holds no pointer to the
// Graph, its nodes or their buffers, so a cached executable keeps no tensor alive.
//
//   plan: k0 (row) stores %3; k1 (matmul) loads %3 %1, stores %4
//   run:  allocate %3; kiln_k0(...); allocate %4; sgemm(...); free %3 (last reader k1)
//
// Runs of kernels over one batch dimension (attention's) run batch slice by batch slice
// instead, each slice through every kernel of the run (batch_sliced_groups.h).
//
// Input/output aliasing: Create lists, for each output, the parameters whose buffer it
// may be written over; Run writes it there when the caller donates that buffer
// (Argument::donated), so `w = w - lr * g` needs no second buffer for w:
//
//   plan: k3 (elementwise) loads %0 (param w) %9, stores %12 (output, like w)
//   run with args[0].donated:  kiln_k3 writes %12 into w's buffer; the result returns it
//
// A parameter p may take output o, stored by kernel k, when they have one shape and
// dtype, p is not itself an output, and either no kernel reads p from k on, or k is the
// last reader and reads p only at the elements it is writing (codegen/overwrite_in_place.h;
// those buffers are then emitted without __restrict). Only outputs stored after the last
// kernel that can fail (a check such as an index range, or a BLAS call on a dtype BLAS
// lacks) take one, so a failed run leaves every donated buffer as it was; to that end
// such kernels run as early as their inputs allow (a classifier's loss would otherwise
// come last and rule out every update). A parameter
// gives its buffer to one output at most. Counter "DonatedBuffers": outputs written over
// a donated buffer.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "backends/backend.h"
#include "backends/cpu/batch_sliced_groups.h"
#include "backends/cpu/host_compiler.h"
#include "backends/cpu/kernel_profile.h"
#include "backends/graph_parameters.h"
#include "backends/kernel_nan_check.h"
#include "backends/kernel_step.h"
#include "codegen/kernel_ir.h"
#include "ir/graph.h"

namespace kiln::cpu {

class CpuBuffer;

class CpuExecutable : public Executable {
 public:
  // Plans, lowers, emits and compiles `graph`. With KILN_DUMP_DIR set, also writes the
  // plan (<hash>.plan.txt, <hash>.plan.dot) and the source (<hash>.cc) there, named by
  // Graph::hash() like the executor's <hash>.kir. KILN_PROFILE, KILN_TRACE and
  // KILN_CHECK_NAN are read here, once: an executable created with the first two off never
  // reads the clock.
  static absl::StatusOr<std::unique_ptr<CpuExecutable>> Create(const Graph& graph);

  // Thread-safe: a run keeps its state on its own stack (the kernels are reentrant).
  absl::StatusOr<std::vector<BufferPtr>> Run(absl::Span<const Argument> args) override;

  // The generated translation unit (for tests and dumps).
  const std::string& source() const { return source_; }
  int num_kernels() const { return static_cast<int>(steps_.size()); }
  // Kernels that run slice by slice in a group (backends/cpu/batch_sliced_groups.h).
  int num_sliced_kernels() const;

 private:
  // One kernel, by value; `name` is its function's name.
  struct Step : KernelStep {
    KernelFn fn = nullptr;  // null when the kernel has no loops (a lone BLAS call)
  };

  CpuExecutable() = default;
  // Fills donations_ (see the header comment) and marks the buffers a kernel may write in
  // place as may_alias; before the source is emitted.
  // Binds step `k`'s buffers (allocating the outputs it stores into `owned`, except the
  // values `local` marks) and scalars; scratch buffers go to `scratch`.
  absl::Status Bind(int k, absl::Span<const Argument> args,
                    absl::Span<const CpuBuffer* const> params,
                    std::vector<std::shared_ptr<CpuBuffer>>& owned, absl::Span<const int> local,
                    std::vector<std::shared_ptr<CpuBuffer>>& scratch, std::vector<void*>& ptrs,
                    std::vector<double>& scalars) const;
  // KILN_CHECK_NAN: the error for the first NaN or infinity in what step `k` wrote (its
  // output buffers, bound in `ptrs`), or OK.
  absl::Status CheckFinite(int k, absl::Span<void* const> ptrs) const;
  // KILN_CHECK_NAN: the same for the graph's floating device_data arguments.
  absl::Status CheckFiniteArguments(absl::Span<const CpuBuffer* const> params) const;
  void PlanDonations(const Graph& graph, std::vector<codegen::KernelIR>& kernels,
                     const std::vector<int>& stored_by, const std::vector<int>& last_use,
                     const std::vector<bool>& is_output);

  std::shared_ptr<LoadedLibrary> library_;
  std::string source_;
  std::vector<Step> steps_;
  std::vector<SlicedGroup> groups_;
  std::vector<int> group_at_;  // per step: the group that starts there, or -1
  GraphParameters params_;
  std::vector<int> outputs_;        // node position of each graph output
  // Outputs that may be written over a donated parameter, in kernel order.
  struct Donation {
    int node;                 // the output's node position
    std::vector<int> params;  // candidate parameter indices, best first
  };
  std::vector<Donation> donations_;
  std::string graph_hash_;
  // Per-kernel timing: on when profiling or tracing was on at Create.
  bool timed_ = false;
  bool trace_ = false;
  std::shared_ptr<GraphProfile> profile_;  // null unless KILN_PROFILE was on at Create
  // What KILN_CHECK_NAN's errors print; null unless it was on at Create.
  std::unique_ptr<KernelNanCheck> nan_check_;
};

}  // namespace kiln::cpu
