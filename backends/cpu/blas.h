#pragma once
// Matmul through OpenBLAS: one cblas_sgemm/cblas_dgemm per batch element (or per block
// of one), batch dimensions broadcast, transposed operands passed as flags (never copied).
// An f32 gemm with a short inner dimension (a Linear's forward and input gradient,
// attention's products) goes to kiln's own kernel instead where that is faster
// (avx2_sgemm.h: AVX2 CPUs without AVX-512).
//
//   MatmulCall{a: f32[8,64,32] (transposed: op(a) is [8,32,64]), b: f32[64,16], out: f32[8,32,16]}
//     -> for each of the 8 batches: sgemm(Trans, NoTrans, m=32, n=16, k=64, ...)
//
// Threads are our own (OpenMP, the pool the generated kernels run on), never OpenBLAS's:
// a batch is shared out as whole matrices per thread; fewer matrices than threads (a
// Linear's one) are cut into blocks of rows or columns; each piece is one
// single-threaded gemm. Why not OpenBLAS's threads: attention's many small matrices
// ([L,64] x [64,L] for each of B*heads) would pay its thread wake-up and join on every
// one, and a second pool competes for the cores with the kernels' OpenMP threads, which
// keep spinning for a while after each kernel (the Linears ran at 40% of their
// isolated speed). OpenBLAS 0.3's pthread build has no per-call thread count; with its
// count held at 1, concurrent calls from our threads are safe (each on its own buffers).
#include "absl/status/status.h"
#include "codegen/kernel_ir.h"

namespace kiln::cpu {

// Runs `call` over the kernel's buffer pointers `bufs` (KernelIR::buffers order), on the
// threads last given to SetBlasThreads (1 before), or on the calling thread alone with
// `single_threaded`. Floating dtypes only (integer matmuls are generated loops).
absl::Status RunBlasMatmul(const codegen::MatmulCall& call, void* const* bufs,
                           bool single_threaded = false);

// Sets how many threads RunBlasMatmul uses (process-wide; an executable runs its kernels
// one at a time), holds OpenBLAS itself at one thread and, on first use, picks its
// kernels for this CPU (blas_kernels.h).
void SetBlasThreads(int threads);

}  // namespace kiln::cpu
