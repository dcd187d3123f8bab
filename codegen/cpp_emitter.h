#pragma once
// The C++ emitter: prints kernel IR (codegen/kernel_ir.h) as one translation unit with
// one extern "C" function per kernel, compiled by the host compiler with OpenMP.
//
//   KernelIR k0: nest parallel i0 < n0, i1 < n1;       extern "C" void kiln_k0(void* const* bufs,
//                store b1[i0*n1+i1] = exp(b0[..])          const int64_t* sizes, const double*
//                                                          scalars, int nt, int phase,
//                                                          KilnError* err) {
//                                                   const float* __restrict b0 = ...;
//                                                   const int64_t n0 = sizes[0];
//                                                   const int64_t n1 = sizes[1];
//                                                   #pragma omp parallel for num_threads(nt) ...
//                                                   for (int64_t i0 = 0; i0 < n0; ++i0) {
//                                                     for (int64_t i1 = 0; i1 < n1; ++i1) {
//                                                       const float v3 = km::ExpF(b0[...]);
//                                                       b1[...] = v3; } } }
//
// Every function has the same plain C signature, so the backend calls any kernel through
// one function-pointer type:
//   bufs    the kernel's buffers (KernelIR::buffers), inputs, outputs and scratch;
//   sizes   the runtime size symbols (KernelIR::size_values); bounds and strides computed
//           from them alone are computed once, at the top of the function;
//   scalars the runtime scalar leaves, as f64, converted inside like a cast;
//   nt      OpenMP threads;  phase  0: the loops before the kernel's BLAS calls, 1: after;
//   err     the first failed check (an index out of range, ...), check = -1 when none.
// Each expression is placed in the outermost loop whose variables it uses, so a row's
// reduction runs once per row and a loop-invariant load is hoisted. f32 sums accumulate
// in f32 in blocks of 1024 (a simd loop stores a block's values, codegen/kernel_sums.h
// adds them with vector accumulators and a tree, blocks are added in order), which keeps
// the error of a long sum near that of a pairwise sum. The source depends only on
// the IR, never on runtime sizes, so equal IR shares one compiled library.
//
// A column reduction (NestKind::kColumnReduce: reduced leading dimensions, kept contiguous
// last one) is printed by cpp_reduce_emitter.cc as task loops over chunks of rows, each
// with heap arrays of partial results per column and an inner `omp simd` loop over the
// columns, then a combine loop over the columns; see kernel_ir.h.
//
// f32 exp/log/tanh/erf/sigmoid call codegen/kernel_math.h, which vectorises without
// -ffast-math; max/min reductions are OpenMP simd reductions with a NaN flag; an f32
// division by a row's reduction multiplies by its reciprocal.
#include <string>
#include <vector>

#include "codegen/kernel_ir.h"

namespace kiln::codegen {

// The helpers every generated unit starts with: the text of codegen/kernel_numerics.h
// (casts, wrapping integer arithmetic, NaN-propagating max/min), codegen/kernel_math.h
// (f32 exp, log, tanh, erf, sigmoid) and codegen/kernel_sums.h (block sums), and the
// error record. It includes no header. The struct
// layout of KilnError is { int32 check; int32 order; int64 value; int64 position; }.
std::string CppPreamble();

// One kernel's function.
std::string EmitCppKernel(const KernelIR& kernel);

// A whole translation unit: the preamble and every kernel's function.
std::string EmitCppSource(const std::vector<KernelIR>& kernels);

}  // namespace kiln::codegen
