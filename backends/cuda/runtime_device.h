#pragma once
// The CudaDevice (backends/cuda/cuda_device.h) of a real GPU, through the CUDA runtime.
//
//   ASSIGN_OR_RETURN(std::unique_ptr<CudaDevice> gpu, OpenRuntimeDevice());
//   // Unavailable "no CUDA device: cudaGetDeviceCount: cudaErrorInsufficientDriver ..."
//   // on a machine without a driver or a GPU.
//
// - cudart is linked statically and loads the driver (libcuda) itself at run time: kiln
//   never links libcuda, so a binary built with CUDA starts everywhere and finds out here
//   whether a GPU exists. cuBLAS is loaded with dlopen when the device opens.
// - Device 0, one non-blocking stream. Launches, matmuls and copies to the device are
//   queued on it and return at once; CopyToHost waits for the stream, so the host blocks
//   only when it reads a result (item(), to_vector) or a kernel's checks.
// - Memory comes from a caching allocator: blocks are rounded up to a size class (512
//   bytes below 1 MiB, 2 MiB above) and a freed block goes to its class's free list,
//   reused by the next allocation of that class. With one stream, reuse is ordered after
//   the work that used the block, so no synchronisation is needed; after warm-up a
//   training step calls neither cudaMalloc nor cudaFree. When cudaMalloc fails, the free
//   lists are returned to the driver and it is tried once more; then the error names the
//   requested size. Counters: CudaAllocatorHits, CudaAllocatorMisses; gauge
//   CudaBytesReserved.
// - Modules: NVRTC compiles for the device's own architecture (sm_XY from its
//   properties; fast math only with KILN_CUDA_FAST_MATH=1), the CUBIN is loaded with
//   cudaLibraryLoadData and kernels found with cudaLibraryGetKernel; cudaLaunchKernel
//   launches them. CUBINs are cached by nvrtc_compiler.h (memory and disk).
// - Matmuls: cublasGemmStridedBatchedEx_64 (cublasGemmEx_64 per matrix when a broadcast batch
//   has no single stride); row-major results by computing the transposed product in
//   cuBLAS's column-major terms (operands swapped). TF32 tensor cores only with
//   KILN_ALLOW_TF32=1.
// - Every CUDA and cuBLAS call goes through a check macro: the error names the call, the
//   file and line, and the library's message.
#include <memory>

#include "absl/status/statusor.h"
#include "backends/cuda/cuda_device.h"

namespace kiln::cuda {

// Opens device 0, or Unavailable saying why not (no driver, no GPU, or a kiln built
// without the CUDA toolkit).
absl::StatusOr<std::unique_ptr<CudaDevice>> OpenRuntimeDevice();

}  // namespace kiln::cuda
