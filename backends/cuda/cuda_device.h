#pragma once
// What the cuda backend needs from a device: memory, copies, loading generated code,
// launching its functions and matmuls. Two implementations: the CUDA runtime on a GPU,
// and the emulated device (backends/cuda/emulated_device.h), which runs the very same
// generated source on the CPU, so the backend's code paths and the kernels are tested
// on machines without a GPU.
//
//   CudaDevice* d = ...;
//   void* p = d->Allocate(bytes).value();
//   std::shared_ptr<CudaModule> m = d->LoadModule({kernel_source}, "graph_ab12").value();
//   const void* fn = m->Function("kiln_k0_n0").value();
//   d->Launch(fn, grid, block, args);       // args as for cudaLaunchKernel
//   d->CopyToHost(host, p, bytes);          // waits for the launches before it
#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "codegen/kernel_ir.h"

namespace kiln::cuda {

// Loaded generated code.
class CudaModule {
 public:
  virtual ~CudaModule() = default;
  // The handle Launch takes for the extern "C" __global__ function `name`.
  virtual absl::StatusOr<const void*> Function(const std::string& name) const = 0;
};

class CudaDevice {
 public:
  virtual ~CudaDevice() = default;

  // "cuda:0 (NVIDIA H100 ..., sm_90)" or "emulated (...)".
  virtual std::string Describe() const = 0;
  // At least 256-byte aligned; sizes are rounded up to a multiple of 256 bytes. Out of
  // memory: ResourceExhausted ending "allocating <bytes> bytes" (the caller names the shape).
  virtual absl::StatusOr<void*> Allocate(size_t bytes) = 0;
  virtual void Free(void* ptr, size_t bytes) = 0;
  virtual absl::Status CopyToDevice(void* dst, const void* host, size_t bytes) = 0;
  // Waits for the work queued before it.
  virtual absl::Status CopyToHost(void* host, const void* src, size_t bytes) = 0;
  virtual absl::Status CopyOnDevice(void* dst, const void* src, size_t bytes) = 0;
  // Compiles (or finds in the caches) and loads a graph's kernels: `kernels` holds each
  // kernel's functions (CudaKernelSource::source, without CudaPreamble()). Kept apart
  // so that a device may compile each kernel on its own: the GPU device does, and
  // kernels that several graphs share (the same layer in another bucket) are compiled
  // once.
  virtual absl::StatusOr<std::shared_ptr<CudaModule>> LoadModule(
      const std::vector<std::string>& kernels, const std::string& name) = 0;
  // Queues `function` on grid x block threads; `args` points at each parameter's value.
  virtual absl::Status Launch(const void* function, unsigned grid, unsigned block,
                              void** args) = 0;
  // out = op(a) x op(b) over device buffers (`buffers` indexed like the kernel's).
  virtual absl::Status Matmul(const codegen::MatmulCall& call, void* const* buffers) = 0;
  // The most blocks a grid-stride launch is given (more work loops inside).
  virtual unsigned MaxGridBlocks() const = 0;
  // Part of the compile-cache key: the architecture and options code is built for.
  virtual std::string CodeKey() const = 0;
};

}  // namespace kiln::cuda
