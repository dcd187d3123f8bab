#pragma once
// f32 matrix products small enough to stay in cache, for CPUs with AVX2 and FMA:
// attention's [L,64] x [64,L] and [L,L] x [L,64] for each of B*heads matrices. OpenBLAS
// packs both operands into its own layout on every call and blocks for matrices far
// larger than these; at 128x128x64 on one Zen 3 core it reaches 68 GFLOP/s where this
// code reaches 90 (bench/matmul_bench compares the two on the ViT step's shapes).
//
//   C[m,n] = op(A)[m,k] x op(B)[k,n]   row-major, op = transpose or not, C overwritten
//
// Register tiles of 6 rows x 16 columns (12 of the 16 AVX registers hold the sums): each
// panel of 16 columns of op(B) (k x 16 floats, in L1) is swept by every block of 6 rows
// of op(A), 48 rows at a time. Only what the tiles cannot read in place is copied: op(B)
// when it is transposed or its last panel is ragged, A when it is transposed (so that
// each step of k reads a block's 6 values from one place), 48 rows at a time.
// Extra memory per thread: about (n + 15) * k floats for op(B) and 48 * k for A.
#include <cstdint>

namespace kiln::cpu {

// Whether SmallSgemm is the better choice for an [m,k] x [k,n] product on this CPU: it
// has AVX2 and FMA but not AVX-512 (OpenBLAS's AVX-512 kernels are twice as wide), each
// operand fits in L2 (m*k and k*n <= 64Ki floats) and k <= 128 (measured; see the .cc),
// and SetSmallSgemmEnabled has not turned it off.
bool PreferSmallSgemm(int64_t m, int64_t n, int64_t k);

// Off sends every product to OpenBLAS (benchmarks compare the two); on by default.
void SetSmallSgemmEnabled(bool enabled);

// Whether this CPU can run SmallSgemm at all (AVX2 and FMA).
bool SmallSgemmSupported();

// C = op(A) op(B) as above, A read as [k,m] when `ta` and B as [n,k] when `tb`, with row
// strides lda, ldb, ldc. Requires SmallSgemmSupported() and m, n, k >= 0.
void SmallSgemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, const float* a, int64_t lda,
                const float* b, int64_t ldb, float* c, int64_t ldc);

}  // namespace kiln::cpu
