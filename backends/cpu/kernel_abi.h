#pragma once
// How the cpu backend calls a generated kernel (codegen/cpp_emitter.h): the entry point's
// type and the error record a failed check fills in.
#include <cstdint>

namespace kiln::cpu {

// kiln_kN(buffers, sizes, scalars, threads, phase, error): phase 0 runs the loops before
// the kernel's matmuls, phase 1 those after them.
using KernelFn = void (*)(void* const*, const int64_t*, const double*, int, int, void*);

// Matches KilnError in the generated preamble.
struct KernelError {
  int32_t check = -1;  // the failed check, or -1
  int32_t order = 0;
  int64_t value = 0;
  int64_t position = 0;
};

}  // namespace kiln::cpu
