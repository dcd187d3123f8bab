// OpenBLAS runs kernels that use the CPU's vector units, not its generic fallback.
#include "backends/cpu/blas_kernels.h"

#include <dlfcn.h>

#include <cstdlib>

#include "backends/cpu/blas.h"
#include "gtest/gtest.h"

namespace kiln::cpu {
namespace {

TEST(BlasKernelsTest, NoGenericKernelsOnAvx2) {
  if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma")) {
    GTEST_SKIP() << "CPU without AVX2 and FMA";
  }
  if (std::getenv("OPENBLAS_CORETYPE") != nullptr) GTEST_SKIP() << "OPENBLAS_CORETYPE is set";
  if (dlsym(RTLD_DEFAULT, "gotoblas_dynamic_init") == nullptr) {
    GTEST_SKIP() << "OpenBLAS built for one CPU (no DYNAMIC_ARCH)";
  }
  SetBlasThreads(1);  // as the backend does before its first matmul
  EXPECT_NE(BlasKernelName(), "Prescott");
}

}  // namespace
}  // namespace kiln::cpu
