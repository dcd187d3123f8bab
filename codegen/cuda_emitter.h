#pragma once
// The CUDA emitter: prints kernel IR (codegen/kernel_ir.h) as CUDA C++ for NVRTC, one
// __global__ function per loop nest (a kernel boundary is the grid-wide barrier between
// nests), plus how to launch each.
//
//   KernelIR k0 (row): nest rows i0 < n0 (parallel), i1 < n1;
//                      e4 = max over i2 of b0[i0*n1+i2]; b1[i0*n1+i1] = exp(b0[..] - e4)
//   ->
//   extern "C" __global__ void kiln_k0_n0(const float* __restrict__ b0,
//       float* __restrict__ b1, const int64_t n0, const int64_t n1, KilnError* err) {
//     for (int64_t row = blockIdx.x; row < n0; row += gridDim.x) {     // a block per row
//       const int64_t i0 = row;
//       float acc4 = kn::Lowest<float>();                              // the block's threads
//       for (int64_t r = threadIdx.x; r < n1; r += blockDim.x) {...}   // share the reduction,
//       const float v4 = kc::BlockReduce(acc4, kc::MaxOp<float>());    // then the elements
//       for (int64_t t = threadIdx.x; t < n1; t += blockDim.x) { ... b1[..] = expf(..); } } }
//
// A nest is launched in one of two ways (CudaLaunch::Kind):
//   kFlat  every thread of a grid-stride loop takes one point of `thread_vars` (all the
//          nest's variables for elementwise work; the kept ones of a column reduction,
//          whose reduced rows each thread then walks in order, so a column's sum has one
//          fixed order and neighbouring threads read neighbouring columns);
//   kRows  a block per point of `block_vars` (the rows of a row kernel: softmax,
//          layer_norm, their backward): the row's reductions are shared by the block's
//          threads (warp shuffles, then shared memory across warps, combined in a fixed
//          order so a result does not depend on timing), and its elements, `thread_vars`,
//          are spread over the threads.
// Reductions nested inside an element (a reduction whose body uses the element's own
// variables) run sequentially in their thread. scatter_add accumulates with atomics.
//
// A row kernel with few rows (a full sum, a softmax over a few long rows) or a column
// reduction with few columns (a bias gradient over many rows) would leave most of the
// device idle, so both also have a split form, chosen at launch: `split` blocks share
// each row, or `split` threads each column, in stages. A shared reduction's level is
// the number of shared reductions it waits for (layer_norm: the mean 0, the variance 1).
// Stage s computes the level-s reductions, each block or thread over its part, and
// writes one partial result per part to `partials`; later stages combine the partials
// in part order (so the result depends only on the split and the block size), and the
// last stage stores.
//
//   kiln_k0_n0_s0: partials[row, part] = block sum over elements part*B + t, step split*B
//   kiln_k0_n0_s1: mean = combined partials; b1[row, t] = x[row, t] - mean  (t split too)
//
// Kernel parameters, the same for every nest of a KernelIR, in this order: one pointer per
// buffer (KernelIR::buffers), one int64_t per size symbol (KernelIR::size_values), one
// double per runtime scalar, and KilnError* (the first failed check). A launcher packs
// them as cudaLaunchKernel does: void* args[] pointing at each value. The stages of a
// split row kernel take two more: unsigned char* partials (kPartialSlotBytes per shared
// reduction per (row, part)) and int64_t split.
//
// Compiled as host C++ after backends/cuda/cuda_emulation.h with KILN_CUDA_EMULATION
// defined, each kernel also gets `extern "C" const char* <name>_emulate(unsigned grid,
// unsigned block, void** args, uint64_t seed)`, which runs it on the CPU (see that
// header; `seed` 0 resumes a block's threads in order, another value in an order shuffled
// from it): the same source is then checked against the reference interpreter without a
// GPU.
#include <string>
#include <vector>

#include "codegen/kernel_ir.h"

namespace kiln::codegen {

// How to launch one __global__ function.
struct CudaLaunch {
  enum class Kind { kFlat, kRows };
  std::string function;          // e.g. "kiln_k3_n0"
  Kind kind = Kind::kFlat;
  std::vector<int> block_vars;   // kRows: the loop variables spread over blocks
  std::vector<int> thread_vars;  // kFlat: over every thread; kRows: over a block's threads
  bool after_matmuls = false;    // runs after the kernel's matmul calls
  // The reductions a row's block or a column's thread computes once for all its
  // elements (expression ids), and the functions of the split form, stage by stage
  // (empty for elementwise launches).
  std::vector<int> shared_reductions;
  std::vector<std::string> split_stages;
};

// Bytes of `partials` per shared reduction, row and part (any accumulator fits).
constexpr int kPartialSlotBytes = 16;

struct CudaKernelSource {
  std::string source;  // the functions (after CudaPreamble())
  std::vector<CudaLaunch> launches;  // in order
};

// The helpers every unit starts with: the text of codegen/kernel_numerics.h (the same
// element semantics as the other backends), block reductions, atomics and the error
// record. Includes no header (NVRTC has none to offer without extra paths).
std::string CudaPreamble();

// One kernel's functions and launches.
CudaKernelSource EmitCudaKernel(const KernelIR& kernel);

// The product of the current sizes of `vars` (KernelIR::vars[v].size).
int64_t VarsProduct(const KernelIR& kernel, const std::vector<int>& vars);

}  // namespace kiln::codegen
