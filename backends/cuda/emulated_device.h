#pragma once
// A CudaDevice (backends/cuda/cuda_device.h) that runs generated CUDA source on the CPU,
// for machines without a GPU. Loading a module does two things:
//   1. where kiln has NVRTC, it compiles the kernels for sm_80 and sm_90 exactly as a GPU
//      would need them (one unit per graph, through the CUBIN caches), and fails when
//      NVRTC rejects them or a kernel spills registers (the resources ptxas reported are
//      kept: nvrtc_checks());
//   2. it compiles all of them as one unit of host C++ after backends/cuda/cuda_emulation.h
//      (blocks one after another, a block's threads as cooperative fibers meeting at
//      barriers, warp shuffles and atomics emulated) with the host compiler and its
//      caches (backends/cpu/host_compiler.h), and launches run that code.
// Memory is host memory; matmuls run in the cpu backend's BLAS. Grids are capped at a few
// blocks so that every grid-stride loop goes round more than once on small shapes.
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "backends/cuda/cuda_device.h"
#include "backends/cuda/nvrtc_compiler.h"
#include "util/mutex.h"

namespace kiln::cuda {

// The architectures every emulated module is also compiled for with NVRTC.
inline const std::vector<std::string>& EmulatedCheckArchitectures() {
  static const std::vector<std::string> archs = {"sm_80", "sm_90"};
  return archs;
}

class EmulatedDevice : public CudaDevice {
 public:
  std::string Describe() const override;
  absl::StatusOr<void*> Allocate(size_t bytes) override;
  void Free(void* ptr, size_t bytes) override;
  absl::Status CopyToDevice(void* dst, const void* host, size_t bytes) override;
  absl::Status CopyToHost(void* host, const void* src, size_t bytes) override;
  absl::Status CopyOnDevice(void* dst, const void* src, size_t bytes) override;
  absl::StatusOr<std::shared_ptr<CudaModule>> LoadModule(const std::vector<std::string>& kernels,
                                                         const std::string& name) override;
  absl::Status Launch(const void* function, unsigned grid, unsigned block, void** args) override;
  absl::Status Matmul(const codegen::MatmulCall& call, void* const* buffers) override;
  unsigned MaxGridBlocks() const override { return 8; }
  std::string CodeKey() const override;

  // The order in which launches resume the threads of a block: 0 (the default) in thread
  // order, another value in an order shuffled from that seed, which exposes a kernel that
  // relies on an order the hardware does not promise (a missing barrier). For tests.
  void SetScheduleSeed(uint64_t seed) { schedule_seed_ = seed; }

  // Whether modules loaded from now on are also compiled with NVRTC (step 1 above; the
  // default where kiln has NVRTC). Off for runs that test only what the kernels compute and
  // cannot afford NVRTC's compile time, such as the test suite's differential fuzzing.
  void SetCheckWithNvrtc(bool check) { check_with_nvrtc_ = check; }

  // What ptxas reported for every kernel NVRTC compiled so far (one entry per kernel
  // and architecture), for tests and the benchmark report.
  std::vector<KernelResources> nvrtc_checks() const;

 private:
  std::atomic<uint64_t> schedule_seed_{0};
  std::atomic<bool> check_with_nvrtc_{true};
  mutable Mutex mu_;
  std::vector<KernelResources> checks_ ABSL_GUARDED_BY(mu_);
};

// The text of backends/cuda/cuda_emulation.h, which a unit compiled for the CPU starts with.
const char* CudaEmulationHeader();

}  // namespace kiln::cuda
