#include "backends/cpu/blas_kernels.h"

#include <cblas.h>
#include <dlfcn.h>

#include <cstdlib>
#include <mutex>
#include <string_view>

namespace kiln::cpu {
namespace {

// The kernel family OPENBLAS_CORETYPE should name for this CPU, or null to keep
// OpenBLAS's choice.
const char* SupportedCore() {
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
      __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl")) {
    return "SkylakeX";
  }
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return "Haswell";
  return nullptr;
}

}  // namespace

void SelectBlasKernels() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (std::getenv("OPENBLAS_CORETYPE") != nullptr) return;  // the user's choice
    if (std::string_view(openblas_get_corename()) != "Prescott") return;
    const char* core = SupportedCore();
    if (core == nullptr) return;
    // Exported by DYNAMIC_ARCH builds only, hence looked up rather than linked: quit
    // forgets the choice, init makes it again from OPENBLAS_CORETYPE.
    using Fn = void (*)();
    const auto quit = reinterpret_cast<Fn>(dlsym(RTLD_DEFAULT, "gotoblas_dynamic_quit"));
    const auto init = reinterpret_cast<Fn>(dlsym(RTLD_DEFAULT, "gotoblas_dynamic_init"));
    if (quit == nullptr || init == nullptr) return;
    setenv("OPENBLAS_CORETYPE", core, /*overwrite=*/0);
    quit();
    init();
    unsetenv("OPENBLAS_CORETYPE");
  });
}

std::string BlasKernelName() { return openblas_get_corename(); }

}  // namespace kiln::cpu
