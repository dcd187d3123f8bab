#pragma once
// Whether a kernel may write one of its outputs over one of its inputs (a donated
// parameter buffer, backends/cpu/cpu_executable.h) and still compute what it would with
// separate buffers. Relies on how the C++ emitter orders work (codegen/cpp_emitter.cc,
// EmitNest): at each loop level every expression bound there, loads included, is
// computed before any store of that level, and an expression is placed at the outermost
// level whose variables it uses. So a load whose element offset is the store's own
// offset expression reads each element before the same iteration overwrites it:
//
//   safe:    b1[i0] = b0[i0] - lr * g[i0]          (b0's only load is at b1's offset)
//   unsafe:  b1[i0] = b0[i0 + 1] ...; sum(b0[..])  (another element, or a reduction)
//
// The emitted buffers must then drop __restrict (BufferArg::may_alias).
#include "codegen/kernel_ir.h"

namespace kiln::codegen {

// Holds for every kernel whose loads are all expressions in its nests (elementwise and
// row kernels: a row's reductions are expressions computed before the row's stores):
//
//   row kernel:  db = sum over i of g[i, j];  b1[j] = b0[j] - lr * db   (b0 read at j)
//
// A kColumnReduce nest qualifies with one sweep only: its element stores run in the sweep
// that reads the elements, its per-column stores after it.
//
// True when `ir` has no BLAS calls, `output` (a kOutput buffer)
// is written by exactly one plain (non-accumulating) store, and every load of `input` (a
// kInput buffer) sits in that store's loop nest at the store's offset expression, masked
// only by a condition on the same loop variables.
bool CanOverwriteInPlace(const KernelIR& ir, int input, int output);

}  // namespace kiln::codegen
