#pragma once
// OpenBLAS kernel choice. A DYNAMIC_ARCH OpenBLAS (Debian's) picks its kernels by CPU
// model at load time, and a model newer than the library (0.3.21 on Emerald Rapids, say)
// falls back to its generic SSE3 "Prescott" kernels: sgemm then runs 5-6x below what the
// AVX-512 kernels reach on the same cores. SelectBlasKernels re-runs OpenBLAS's own
// selection with the newest kernel family the CPU's features support:
//
//   openblas_get_corename(): "Prescott" on an AVX-512 CPU -> "SkylakeX"
#include <string>

namespace kiln::cpu {

// Once per process, before the first BLAS call: when OpenBLAS fell back to its generic
// kernels and OPENBLAS_CORETYPE is unset, switches to the kernels this CPU supports.
// Not safe while another thread is inside OpenBLAS or reading the environment.
void SelectBlasKernels();

// OpenBLAS's kernel family now, e.g. "SkylakeX".
std::string BlasKernelName();

}  // namespace kiln::cpu
