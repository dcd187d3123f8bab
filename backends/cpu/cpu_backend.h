#pragma once
// The cpu backend: the fusion planner, kernel IR and C++ emitter turn a graph into one
// C++ translation unit, the host compiler builds and loads it (backends/cpu/host_compiler.h,
// cached in memory and on disk), and matmuls run in OpenBLAS.
//
//   Backend* cpu = GetBackend("cpu").value();
//   auto exe = cpu->Compile(graph).value();   // plan -> IR -> source -> .so
//   auto out = exe->Run(args).value();        // kernels in plan order
//
// Threads: KILN_NUM_THREADS (0 = every core) for both the generated OpenMP loops and
// OpenBLAS.
#include <cstddef>
#include <memory>

#include "backends/backend.h"

namespace kiln::cpu {

// Host memory aligned to 64 bytes (a cache line, and the widest vector load), from the
// caching HostAllocator (backends/cpu/host_allocator.h): a run's buffers reuse the
// blocks, and the pages, that the previous run freed.
class CpuBuffer : public Buffer {
 public:
  // A buffer from the host allocator, or OutOfMemory (backends/backend.h).
  static absl::StatusOr<std::shared_ptr<CpuBuffer>> Create(Shape shape);
  // Takes `data`, an allocator block of shape.byte_size() bytes; use Create.
  CpuBuffer(Shape shape, void* data);
  ~CpuBuffer() override;
  void* data() { return data_; }
  const void* data() const { return data_; }

 private:
  void* data_ = nullptr;
  size_t bytes_ = 0;  // as requested from the allocator, which needs it back on Free
};

// Makes every newly allocated buffer (including a run's intermediates and outputs, and
// blocks reused from the allocator's cache) start filled with 0xFF bytes (NaN for floats,
// -1 for integers), so a test sees any element a kernel forgot to write. Off by default;
// process-wide.
// The emulated cuda device's buffers (host memory too) follow the same setting.
void SetPoisonAllocationsForTesting(bool poison);
bool PoisonAllocationsForTesting();

class CpuBackend : public Backend {
 public:
  const char* name() const override { return "cpu"; }
  absl::StatusOr<BufferPtr> Allocate(const Shape& shape) override;
  absl::StatusOr<BufferPtr> CopyIn(const Shape& shape, const void* host) override;
  absl::Status CopyOut(const Buffer& buffer, void* host) override;
  absl::StatusOr<std::unique_ptr<Executable>> Compile(const Graph& graph) override;
  // The compiler, its flags and the thread count change the built code or how it runs.
  Hash128 CodeKey() const override;
};

// The number of threads kernels and BLAS use: KILN_NUM_THREADS, or every core.
int NumThreads();

}  // namespace kiln::cpu
