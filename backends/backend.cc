#include "backends/backend.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "backends/cpu/cpu_backend.h"
#include "backends/cuda/cuda_backend.h"
#include "backends/cuda/emulated_device.h"
#include "backends/cuda/runtime_device.h"
#include "backends/interp/interp_backend.h"

namespace kiln {

absl::Status OutOfMemory(const char* backend, const Shape& shape) {
  return absl::ResourceExhaustedError(absl::StrCat(
      backend, ": out of memory allocating ", shape.byte_size(), " bytes for ", shape.ToString()));
}

absl::StatusOr<Backend*> GetBackend(std::string_view name) {
  if (name == "interp") {
    static Backend* interp = new InterpBackend();  // process lifetime: buffers may outlive main
    return interp;
  }
  if (name == "cpu") {
    static Backend* cpu = new cpu::CpuBackend();  // process lifetime, like interp
    return cpu;
  }
  if (name == "cuda_emulated") {
    static Backend* emulated =  // process lifetime, like interp
        new cuda::CudaBackend("cuda_emulated", std::make_unique<cuda::EmulatedDevice>());
    return emulated;
  }
  if (name == "cuda") {
    // Opened once: a machine without a driver or GPU gives the same answer every time.
    static const absl::StatusOr<Backend*> cuda = []() -> absl::StatusOr<Backend*> {
      absl::StatusOr<std::unique_ptr<cuda::CudaDevice>> device = cuda::OpenRuntimeDevice();
      if (!device.ok()) {
        return absl::UnavailableError(absl::StrCat(
            "backend 'cuda' is unavailable: ", device.status().message(),
            "; available: interp, cpu, cuda_emulated (the CUDA kernels run on the CPU)"));
      }
      return new cuda::CudaBackend("cuda", *std::move(device));  // process lifetime
    }();
    return cuda;
  }
  return absl::NotFoundError(absl::StrCat("unknown backend '", std::string(name),
                                          "'; expected interp, cpu, cuda or cuda_emulated"));
}

}  // namespace kiln
