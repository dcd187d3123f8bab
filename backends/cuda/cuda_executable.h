#pragma once
// The cuda backend's compiled graph: the fusion plan lowered to kernel IR, printed as
// CUDA C++ (codegen/cuda_emitter.h), loaded as one module on a CudaDevice, and, per
// kernel, its launches (grid and block sizes fixed here from the graph's sizes), its
// matmuls and which graph values its buffers hold. Holds no pointer to the Graph or its
// buffers, so a cached executable keeps no tensor alive.
//
//   plan: k0 (row) stores %3; k1 (matmul) loads %3 %1, stores %4
//   run:  allocate %3; kiln_k0_n0<<<rows, 128>>>; allocate %4; gemm; free %3
//
// Launch sizes: a grid-stride launch gets 256 threads per block (fewer for small work)
// and at most the device's MaxGridBlocks(); a row launch gets one block per row, up to
// that cap, with a power of two from 32 to 256 threads, the smallest covering the row.
// A launch whose reductions leave most of the device idle (a row launch with fewer rows
// than half the grid cap, a column launch with fewer columns than half the threads of
// that grid) runs in its split form (codegen/cuda_emitter.h), in parts that fill the
// grid, each with at least a block's worth of a row's elements or 16 of a column's rows.
// A kernel with checks (an index range, ...) copies its error record back after it runs,
// which waits for the device; other kernels never wait.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "backends/backend.h"
#include "backends/cuda/cuda_device.h"
#include "backends/graph_parameters.h"
#include "backends/kernel_nan_check.h"
#include "backends/kernel_step.h"
#include "codegen/cuda_emitter.h"
#include "codegen/kernel_ir.h"
#include "ir/graph.h"

namespace kiln::cuda {

// Device memory holding one tensor, freed on the device it came from.
class CudaBuffer : public Buffer {
 public:
  // `data` from device->Allocate(bytes); owned from here on.
  CudaBuffer(Shape shape, CudaDevice* device, void* data, size_t bytes)
      : Buffer(std::move(shape)), device_(device), data_(data), bytes_(bytes) {}
  ~CudaBuffer() override { device_->Free(data_, bytes_); }
  void* data() const { return data_; }
  CudaDevice* device() const { return device_; }

 private:
  CudaDevice* device_;
  void* data_;
  size_t bytes_;
};

// A buffer for `shape` on `device` (at least 4 bytes, for the byte-wide atomics).
absl::StatusOr<std::shared_ptr<CudaBuffer>> AllocateCudaBuffer(CudaDevice* device,
                                                               const Shape& shape);

class CudaExecutable : public Executable {
 public:
  static absl::StatusOr<std::unique_ptr<CudaExecutable>> Create(const Graph& graph,
                                                                CudaDevice* device);

  // Runs one graph at a time per executable's device queue; thread-safe like the cpu's
  // (a run keeps its state on its own stack).
  absl::StatusOr<std::vector<BufferPtr>> Run(absl::Span<const Argument> args) override;

  // The generated unit (for tests and dumps).
  const std::string& source() const { return source_; }
  // A line per launch at the graph's sizes: "kiln_k0_n0: grid 8 x block 256, split 8".
  std::string LaunchPlan() const;

 private:
  struct Launch {
    std::string name;
    // One function, or the stages of a split row launch, run in order.
    std::vector<const void*> functions;
    unsigned grid = 0, block = 0;  // grid 0: nothing to do at these sizes
    int64_t split = 1;             // blocks per row
    size_t partial_bytes = 0;      // the split stages' partial results
    bool after_matmuls = false;
  };
  // One kernel, by value: a launch per loop nest.
  struct Step : KernelStep {
    std::vector<Launch> launches;
  };

  explicit CudaExecutable(CudaDevice* device) : device_(device) {}

  // KILN_CHECK_NAN: the outputs of step `k` (bound in `ptrs`) or the arguments, copied to
  // the host and checked.
  absl::Status CheckFinite(int k, absl::Span<void* const> ptrs) const;
  absl::Status CheckFiniteArguments(absl::Span<const CudaBuffer* const> params) const;

  CudaDevice* device_;
  std::shared_ptr<CudaModule> module_;
  std::string source_;
  std::vector<Step> steps_;
  GraphParameters params_;
  std::vector<int> outputs_;        // node position of each graph output
  // What KILN_CHECK_NAN's errors print; null unless it was on at Create.
  std::unique_ptr<KernelNanCheck> nan_check_;
};

}  // namespace kiln::cuda
