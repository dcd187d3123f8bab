#include "backends/cuda/emulated_device.h"

#include <cstdlib>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "backends/cpu/blas.h"
#include "backends/cpu/cpu_backend.h"
#include "backends/cpu/host_compiler.h"
#include "codegen/cuda_emitter.h"
#include "util/status_macros.h"

namespace kiln::cuda {
namespace {

constexpr char kEmulationHeader[] =
#include "backends/cuda/cuda_emulation.inc"
    ;

constexpr size_t kAlignment = 256;

// Emulated code checks results, not speed: -O1 compiles in two thirds of -O3's time and
// runs the fibers well enough. No -ffast-math, as everywhere.
constexpr char kEmulationFlags[] = "-std=c++17 -O1 -fno-math-errno -fPIC -shared";

// An emulated kernel: the launcher the emitter writes next to each __global__ function.
using EmulatedLauncher = const char* (*)(unsigned grid, unsigned block, void** args,
                                         uint64_t seed);

class EmulatedModule : public CudaModule {
 public:
  explicit EmulatedModule(std::shared_ptr<cpu::LoadedLibrary> library)
      : library_(std::move(library)) {}

  absl::StatusOr<const void*> Function(const std::string& name) const override {
    ASSIGN_OR_RETURN(void* launcher, library_->Symbol(name + "_emulate"));
    return static_cast<const void*>(launcher);
  }

 private:
  std::shared_ptr<cpu::LoadedLibrary> library_;
};

}  // namespace

const char* CudaEmulationHeader() { return kEmulationHeader; }

std::string EmulatedDevice::Describe() const { return "emulated CUDA device on the CPU"; }

absl::StatusOr<void*> EmulatedDevice::Allocate(size_t bytes) {
  const size_t rounded = (bytes + kAlignment - 1) / kAlignment * kAlignment;
  void* p = std::aligned_alloc(kAlignment, rounded == 0 ? kAlignment : rounded);
  if (p == nullptr) {
    return absl::ResourceExhaustedError(
        absl::StrCat("emulated cuda: out of memory allocating ", bytes, " bytes"));
  }
  if (cpu::PoisonAllocationsForTesting()) std::memset(p, 0xFF, rounded);
  return p;
}

void EmulatedDevice::Free(void* ptr, size_t) { std::free(ptr); }

absl::Status EmulatedDevice::CopyToDevice(void* dst, const void* host, size_t bytes) {
  if (bytes > 0) std::memcpy(dst, host, bytes);
  return absl::OkStatus();
}

absl::Status EmulatedDevice::CopyToHost(void* host, const void* src, size_t bytes) {
  if (bytes > 0) std::memcpy(host, src, bytes);
  return absl::OkStatus();
}

absl::Status EmulatedDevice::CopyOnDevice(void* dst, const void* src, size_t bytes) {
  if (bytes > 0) std::memmove(dst, src, bytes);
  return absl::OkStatus();
}

absl::StatusOr<std::shared_ptr<CudaModule>> EmulatedDevice::LoadModule(
    const std::vector<std::string>& kernels, const std::string& name) {
  const std::string preamble = codegen::CudaPreamble();
  std::string unit = preamble;
  for (const std::string& kernel : kernels) absl::StrAppend(&unit, kernel, "\n");
  if (check_with_nvrtc_ && HaveNvrtc()) {
    // One NVRTC unit per graph and architecture: the check is as strong as compiling each
    // kernel alone (as the GPU device does), for a fraction of NVRTC's fixed cost.
    for (const std::string& arch : EmulatedCheckArchitectures()) {
      ASSIGN_OR_RETURN(std::shared_ptr<const CubinResult> cubin,
                       CompileCudaCached(unit, arch, name + ".cu"));
      for (const KernelResources& r : cubin->kernels) {
        if (r.spill_stores > 0 || r.spill_loads > 0) {
          return absl::InternalError(absl::StrCat("cuda: kernel ", r.name, " of ", name,
                                                  " spills registers on ", arch, " (",
                                                  r.spill_stores, " bytes stored, ",
                                                  r.spill_loads, " loaded)"));
        }
      }
      MutexLock lock(&mu_);
      checks_.insert(checks_.end(), cubin->kernels.begin(), cubin->kernels.end());
    }
  }
  const std::string host_source =
      absl::StrCat("#define KILN_CUDA_EMULATION 1\n", kEmulationHeader, unit);
  ASSIGN_OR_RETURN(std::shared_ptr<cpu::LoadedLibrary> library,
                   cpu::CompileAndLoad(host_source, name + "_emulated", kEmulationFlags));
  return std::shared_ptr<CudaModule>(std::make_shared<EmulatedModule>(std::move(library)));
}

absl::Status EmulatedDevice::Launch(const void* function, unsigned grid, unsigned block,
                                    void** args) {
  const auto launcher = reinterpret_cast<EmulatedLauncher>(const_cast<void*>(function));
  if (const char* error = launcher(grid, block, args, schedule_seed_.load());
      error != nullptr) {
    return absl::InternalError(absl::StrCat("emulated cuda launch: ", error));
  }
  return absl::OkStatus();
}

absl::Status EmulatedDevice::Matmul(const codegen::MatmulCall& call, void* const* buffers) {
  return cpu::RunBlasMatmul(call, buffers);
}

std::string EmulatedDevice::CodeKey() const {
  return absl::StrCat("emulated|nvrtc ", NvrtcVersion());
}

std::vector<KernelResources> EmulatedDevice::nvrtc_checks() const {
  MutexLock lock(&mu_);
  return checks_;
}

}  // namespace kiln::cuda
