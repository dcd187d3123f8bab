#pragma once
// kiln's own f32 matmul kernel for CPUs with AVX2 and FMA, for products whose inner
// dimension k is short: a Linear's forward and input gradient (k = its width, 192-768 in
// the ViT) and attention's per-head products. OpenBLAS blocks for k in the thousands and
// packs both operands on every call; on these shapes this kernel measured 5-10% faster
// on the Linears and 10-35% on attention's products (bench/matmul_bench compares the two,
// shape by shape, in one run).
//
//   C[m,n] = op(A)[m,k] x op(B)[k,n]   row-major, op = transpose or not, C overwritten
//
// Register tiles of 6 rows x 16 columns (12 of the 16 AVX registers hold the sums): each
// panel of 16 columns of op(B) (k x 16 floats) is swept by every block of 6 rows of
// op(A), 48 rows at a time so that those rows stay in L1/L2 while all panels pass over
// them. op(B) is copied into contiguous panels (transposing it as needed) unless it is
// untransposed with k <= 128, where its rows are read in place; A is copied only when
// transposed (so that each step of k reads a block's 6 values from one place).
// Extra memory per thread: about (n + 15) * k floats for op(B) and 48 * k for A.
#include <cstdint>

namespace kiln::cpu {

// Whether Avx2Sgemm is the better choice for an [m,k] x [k,n] product on this CPU, by
// measurement: the CPU has AVX2 and FMA but not AVX-512 (OpenBLAS's AVX-512 kernels are
// twice as wide); k <= 768, and <= 64 when A is transposed (past that its copy costs as
// much as the kernel gains); the copy of op(B) at most 4 MiB; and SetAvx2SgemmEnabled has not
// turned it off. A weight gradient (k = the batch's tokens) stays with OpenBLAS.
bool PreferAvx2Sgemm(bool ta, int64_t n, int64_t k);

// Off sends every product to OpenBLAS (benchmarks compare the two); on by default.
void SetAvx2SgemmEnabled(bool enabled);

// Whether this CPU can run Avx2Sgemm at all (AVX2 and FMA).
bool Avx2SgemmSupported();

// C = op(A) op(B) as above, A read as [k,m] when `ta` and B as [n,k] when `tb`, with row
// strides lda, ldb, ldc. Requires Avx2SgemmSupported() and m, n, k >= 0.
void Avx2Sgemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, const float* a, int64_t lda,
               const float* b, int64_t ldb, float* c, int64_t ldc);

}  // namespace kiln::cpu
