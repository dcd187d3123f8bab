#pragma once
// Matmul through OpenBLAS: one cblas_sgemm/cblas_dgemm per batch element, batch
// dimensions broadcast, transposed operands passed as flags (never copied).
//
//   MatmulCall{a: f32[8,64,32] (transposed: op(a) is [8,32,64]), b: f32[64,16], out: f32[8,32,16]}
//     -> for each of the 8 batches: sgemm(Trans, NoTrans, m=32, n=16, k=64, ...)
//
// Threads: a batch of at least as many matrices as threads is shared out over our own
// threads (OpenMP, the runtime the generated kernels use), whole matrices each, with
// OpenBLAS held at one thread; fewer matrices (a Linear's one) get OpenBLAS's threads
// inside each call. Attention's many small matrices ([L,64] x [64,L] for each of
// B*heads) would otherwise pay OpenBLAS's thread wake-up and join on every one; OpenBLAS
// 0.3's pthread build has no per-call thread count, so the count is switched between
// calls (kernels of an executable run one at a time), and with it at one, concurrent
// calls from our threads are safe (each runs on its own buffers).
#include "absl/status/status.h"
#include "codegen/kernel_ir.h"

namespace kiln::cpu {

// Runs `call` over the kernel's buffer pointers `bufs` (KernelIR::buffers order), on the
// threads last given to SetBlasThreads (1 before). Floating dtypes only (integer matmuls
// are generated loops).
absl::Status RunBlasMatmul(const codegen::MatmulCall& call, void* const* bufs);

// Sets how many threads RunBlasMatmul uses (process-wide) and, on first use, OpenBLAS's
// kernels for this CPU (blas_kernels.h).
void SetBlasThreads(int threads);

}  // namespace kiln::cpu
