#pragma once
// The cuda backend over a CudaDevice (backends/cuda/cuda_device.h): buffers in device
// memory, host copies, and graphs compiled by the fusion planner and the CUDA emitter
// (backends/cuda/cuda_executable.h).
//
// GetBackend("cuda_emulated") is this backend over the EmulatedDevice: the generated CUDA
// source checked by NVRTC and run on the CPU, so parity tests cover the CUDA kernels on
// any machine.
#include <memory>
#include <string>

#include "backends/backend.h"
#include "backends/cuda/cuda_device.h"

namespace kiln::cuda {

class CudaBackend : public Backend {
 public:
  // `name` is what name() returns ("cuda", "cuda_emulated").
  CudaBackend(const char* name, std::unique_ptr<CudaDevice> device)
      : name_(name), device_(std::move(device)) {}

  const char* name() const override { return name_; }
  absl::StatusOr<BufferPtr> Allocate(const Shape& shape) override;
  absl::StatusOr<BufferPtr> CopyIn(const Shape& shape, const void* host) override;
  absl::Status CopyOut(const Buffer& buffer, void* host) override;
  absl::StatusOr<std::unique_ptr<Executable>> Compile(const Graph& graph) override;
  Hash128 CodeKey() const override;

  CudaDevice* device() const { return device_.get(); }

 private:
  const char* name_;
  std::unique_ptr<CudaDevice> device_;
};

}  // namespace kiln::cuda
