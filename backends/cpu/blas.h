#pragma once
// Matmul through OpenBLAS: one cblas_sgemm/cblas_dgemm per batch element (or per block of
// one), batch dimensions broadcast, transposed operands passed as flags (never copied).
//
//   MatmulCall{a: f32[8,64,32] (transposed: op(a) is [8,32,64]), b: f32[64,16], out: f32[8,32,16]}
//     -> for each of the 8 batches: sgemm(Trans, NoTrans, m=32, n=16, k=64, ...)
//
// Threads: our own (OpenMP, the same pool the generated kernels run on), never
// OpenBLAS's. A batch is shared out as whole matrices per thread; a single matrix (or a
// batch that does not share out evenly) is cut into blocks of rows or columns, one
// single-threaded sgemm per block. Attention's many small matrices ([L,64] x [64,L] for
// each of B*heads) would otherwise pay OpenBLAS's thread wake-up and join on every one,
// and OpenBLAS 0.3's pthread build has no per-call thread count; with its own count held
// at 1, concurrent calls from our threads are safe (each uses only its own buffers).
#include "absl/status/status.h"
#include "codegen/kernel_ir.h"

namespace kiln::cpu {

// Runs `call` over the kernel's buffer pointers `bufs` (KernelIR::buffers order), on the
// threads last given to SetBlasThreads (1 before). Floating dtypes only (integer matmuls
// are generated loops).
absl::Status RunBlasMatmul(const codegen::MatmulCall& call, void* const* bufs);

// Sets how many threads RunBlasMatmul uses (process-wide; one executable runs its kernels
// one at a time) and keeps OpenBLAS itself on one thread.
void SetBlasThreads(int threads);

}  // namespace kiln::cpu
