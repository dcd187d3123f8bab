#pragma once
// Matmul through OpenBLAS: one cblas_sgemm/cblas_dgemm per batch element, batch
// dimensions broadcast, transposed operands passed as flags (never copied).
//
//   MatmulCall{a: f32[8,64,32] (transposed: op(a) is [8,32,64]), b: f32[64,16], out: f32[8,32,16]}
//     -> for each of the 8 batches: sgemm(Trans, NoTrans, m=32, n=16, k=64, ...)
#include "absl/status/status.h"
#include "codegen/kernel_ir.h"

namespace kiln::cpu {

// Runs `call` over the kernel's buffer pointers `bufs` (KernelIR::buffers order).
// Floating dtypes only (integer matmuls are generated loops).
absl::Status RunBlasMatmul(const codegen::MatmulCall& call, void* const* bufs);

// Sets OpenBLAS's thread count (process-wide; cheap when unchanged).
void SetBlasThreads(int threads);

}  // namespace kiln::cpu
