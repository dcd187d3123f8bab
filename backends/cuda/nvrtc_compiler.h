#pragma once
// NVRTC as a library: CUDA C++ source in, CUBIN for one GPU architecture out, with what
// ptxas reports per kernel (registers, spills). NVRTC needs no GPU and no driver, so this
// runs on any machine with the CUDA toolkit: the cuda backend compiles for its device's
// architecture, and the emulated backend compiles every graph's kernels for sm_80 and
// sm_90 as a check before running them on the CPU.
//
//   ASSIGN_OR_RETURN(CubinResult r, CompileCuda(CudaPreamble() + source, "sm_90"));
//   r.cubin             the binary, for cudaLibraryLoadData
//   r.kernels[0]        {"kiln_k0_n0", registers 24, spill stores 0, spill loads 0}
//
// Options: -default-device (the pasted numerics header has no __device__ markings),
// C++17, no fast math unless KILN_CUDA_FAST_MATH=1 (util/config.h). A compile error is
// an InvalidArgument holding the NVRTC log.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace kiln::cuda {

// What ptxas reported for one __global__ function.
struct KernelResources {
  std::string name;
  int registers = 0;
  int64_t spill_stores = 0;  // bytes
  int64_t spill_loads = 0;   // bytes
};

struct CubinResult {
  std::string cubin;
  std::string log;  // the whole NVRTC log (ptxas -v included)
  std::vector<KernelResources> kernels;
};

// Whether this kiln was built with NVRTC (the CUDA toolkit was found at build time).
bool HaveNvrtc();

// NVRTC's version as "major.minor" ("" without NVRTC).
std::string NvrtcVersion();

// Compiles `source` for `arch` (e.g. "sm_90"). `name` names the program in messages.
absl::StatusOr<CubinResult> CompileCuda(const std::string& source, const std::string& arch,
                                        const std::string& name = "kiln.cu");

// CompileCuda through two caches, keyed by the source, the architecture, the options
// (KILN_CUDA_FAST_MATH), NVRTC's version and kiln's: this process's memory, then the
// on-disk cache (KILN_CACHE_DIR, as for host libraries), which keeps the CUBIN and the
// resources ptxas reported. Counters: CubinMemoryHit, CubinDiskHit, CubinCompiled.
absl::StatusOr<std::shared_ptr<const CubinResult>> CompileCudaCached(const std::string& source,
                                                                     const std::string& arch,
                                                                     const std::string& name);

// CompileCudaCached for each of `sources` (whole units) on up to one thread per core,
// since NVRTC is thread-safe and a graph's kernels are compiled independently. `name`
// names unit k "<name>_<k>.cu" in messages. The first error, in source order, is
// returned.
absl::StatusOr<std::vector<std::shared_ptr<const CubinResult>>> CompileCudaUnits(
    const std::vector<std::string>& sources, const std::string& arch, const std::string& name);

// Parses ptxas -v output (one "Compiling entry function" block per kernel).
std::vector<KernelResources> ParsePtxasInfo(const std::string& log);

}  // namespace kiln::cuda
