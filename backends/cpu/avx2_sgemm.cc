#include "backends/cpu/avx2_sgemm.h"

#include <immintrin.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <vector>

namespace kiln::cpu {
namespace {

// The register tile: kRows rows of C, each two 8-float vectors wide.
constexpr int64_t kRows = 6;
constexpr int64_t kCols = 16;

// Rows of op(A) taken together: their copy (when A is transposed) stays in L2 while every
// panel of op(B) passes over them.
constexpr int64_t kChunkRows = 8 * kRows;

// PreferAvx2Sgemm's bounds, all measured (bench/matmul_bench): k up to the ViT's widest
// Linear input (768); a transposed A only up to k = 64 (attention's p^T dO: 20% faster
// than OpenBLAS at k = 64, no faster at 128 and slower at 256, where the copy of A costs
// more); the copy of op(B) up to 1Mi floats per thread.
constexpr int64_t kMaxK = 768;
constexpr int64_t kMaxTransposedAK = 64;
constexpr int64_t kMaxPanelFloats = 1 << 20;

// Up to this k an untransposed op(B)'s panel (k rows of 64 bytes) is read in place; past
// it the rows no longer fit in L1 and a contiguous copy is faster (the Linears' input
// gradients: 150 -> 180 GFLOP/s).
constexpr int64_t kMaxInPlaceK = 128;

std::atomic<bool> enabled{true};

#define KILN_AVX2 __attribute__((target("avx2,fma")))

// dst[c * ldd + r] = src[r * ld + c] for an 8x8 block.
KILN_AVX2 inline void Transpose8x8(const float* src, int64_t ld, float* dst, int64_t ldd) {
  __m256 r[8];
  for (int i = 0; i < 8; ++i) r[i] = _mm256_loadu_ps(src + i * ld);
  __m256 t[8];
  for (int i = 0; i < 4; ++i) {
    t[2 * i] = _mm256_unpacklo_ps(r[2 * i], r[2 * i + 1]);
    t[2 * i + 1] = _mm256_unpackhi_ps(r[2 * i], r[2 * i + 1]);
  }
  __m256 u[8];
  for (int i = 0; i < 2; ++i) {
    u[4 * i + 0] = _mm256_shuffle_ps(t[4 * i], t[4 * i + 2], 0x44);
    u[4 * i + 1] = _mm256_shuffle_ps(t[4 * i], t[4 * i + 2], 0xEE);
    u[4 * i + 2] = _mm256_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0x44);
    u[4 * i + 3] = _mm256_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0xEE);
  }
  for (int i = 0; i < 4; ++i) {
    _mm256_storeu_ps(dst + i * ldd, _mm256_permute2f128_ps(u[i], u[i + 4], 0x20));
    _mm256_storeu_ps(dst + (i + 4) * ldd, _mm256_permute2f128_ps(u[i], u[i + 4], 0x31));
  }
}

// c[R x 16] = a-block x b-panel over k steps. The block is R rows of A read in place
// (a[r * lda + p]) or, when `kPacked`, copied p-major (a[p * R + r]); the panel is
// b[p * ldb + 0..15].
template <int R, bool kPacked>
KILN_AVX2 void Tile(int64_t k, const float* a, int64_t lda, const float* b, int64_t ldb, float* c,
                    int64_t ldc) {
  __m256 sum[R][2];
#pragma GCC unroll 6
  for (int r = 0; r < R; ++r) sum[r][0] = sum[r][1] = _mm256_setzero_ps();
  for (int64_t p = 0; p < k; ++p) {
    const __m256 b0 = _mm256_loadu_ps(b + p * ldb);
    const __m256 b1 = _mm256_loadu_ps(b + p * ldb + 8);
#pragma GCC unroll 6
    for (int r = 0; r < R; ++r) {
      const __m256 ar = _mm256_broadcast_ss(kPacked ? a + p * R + r : a + r * lda + p);
      sum[r][0] = _mm256_fmadd_ps(ar, b0, sum[r][0]);
      sum[r][1] = _mm256_fmadd_ps(ar, b1, sum[r][1]);
    }
  }
#pragma GCC unroll 6
  for (int r = 0; r < R; ++r) {
    _mm256_storeu_ps(c + r * ldc, sum[r][0]);
    _mm256_storeu_ps(c + r * ldc + 8, sum[r][1]);
  }
}

template <bool kPacked>
KILN_AVX2 void TileOfRows(int64_t rows, int64_t k, const float* a, int64_t lda, const float* b,
                          int64_t ldb, float* c, int64_t ldc) {
  switch (rows) {
    case 6:
      return Tile<6, kPacked>(k, a, lda, b, ldb, c, ldc);
    case 5:
      return Tile<5, kPacked>(k, a, lda, b, ldb, c, ldc);
    case 4:
      return Tile<4, kPacked>(k, a, lda, b, ldb, c, ldc);
    case 3:
      return Tile<3, kPacked>(k, a, lda, b, ldb, c, ldc);
    case 2:
      return Tile<2, kPacked>(k, a, lda, b, ldb, c, ldc);
    default:
      return Tile<1, kPacked>(k, a, lda, b, ldb, c, ldc);
  }
}

// Copies A (stored [k,m]) into blocks of kRows rows, block i at packed + i * k, p-major
// (the last block, of m % kRows rows, likewise). Rows of A are taken 16 at a time so that
// both the rows read and the blocks written stay in L1.
KILN_AVX2 void PackTransposedA(int64_t m, int64_t k, const float* a, int64_t lda, float* packed) {
  const int64_t full = m / kRows * kRows;
  const int64_t rest = m - full;
  for (int64_t p0 = 0; p0 < k; p0 += 16) {
    const int64_t p1 = std::min(k, p0 + 16);
    for (int64_t i = 0; i < full; i += kRows) {
      float* block = packed + i * k;
      int64_t p = p0;
      // 8 floats copied, 6 kept: the next step's copy overwrites the other two, so the
      // block's last step (and a block whose row of A ends before 8) copies 6 alone.
      if (i + 8 <= m) {
        for (; p < std::min(p1, k - 1); ++p) {
          _mm256_storeu_ps(block + p * kRows, _mm256_loadu_ps(a + p * lda + i));
        }
      }
      for (; p < p1; ++p) std::memcpy(block + p * kRows, a + p * lda + i, kRows * sizeof(float));
    }
    for (int64_t p = p0; p < p1; ++p) {
      std::memcpy(packed + full * k + p * rest, a + p * lda + full, rest * sizeof(float));
    }
  }
}

// Copies columns j..j+cols of op(B) into panel[p * kCols + 0..15], zeros past `cols`.
KILN_AVX2 void PackPanel(bool tb, int64_t k, const float* b, int64_t ldb, int64_t j, int64_t cols,
                         float* panel) {
  int64_t p = 0;
  if (tb && cols == kCols) {
    for (; p + 8 <= k; p += 8) {
      Transpose8x8(b + j * ldb + p, ldb, panel + p * kCols, kCols);
      Transpose8x8(b + (j + 8) * ldb + p, ldb, panel + p * kCols + 8, kCols);
    }
  }
  for (; p < k; ++p) {
    float* row = panel + p * kCols;
    for (int64_t q = 0; q < cols; ++q) row[q] = tb ? b[(j + q) * ldb + p] : b[p * ldb + j + q];
    std::fill(row + cols, row + kCols, 0.0f);
  }
}

// Every block of rows of op(A) times one panel of op(B), into columns of C of which
// `cols` (<= kCols) exist.
template <bool kPacked>
KILN_AVX2 void PanelProduct(int64_t m, int64_t k, const float* a, int64_t lda, const float* panel,
                            int64_t ld_panel, float* c, int64_t ldc, int64_t cols) {
  alignas(32) float ragged[kRows * kCols];
  for (int64_t i = 0; i < m; i += kRows) {
    const int64_t rows = std::min(kRows, m - i);
    const float* block = kPacked ? a + i * k : a + i * lda;
    float* ci = c + i * ldc;
    if (cols == kCols) {
      TileOfRows<kPacked>(rows, k, block, lda, panel, ld_panel, ci, ldc);
    } else {
      TileOfRows<kPacked>(rows, k, block, lda, panel, ld_panel, ragged, kCols);
      for (int64_t r = 0; r < rows; ++r) {
        std::memcpy(ci + r * ldc, ragged + r * kCols, cols * sizeof(float));
      }
    }
  }
}

}  // namespace

bool Avx2SgemmSupported() {
  static const bool supported = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  return supported;
}

bool PreferAvx2Sgemm(bool ta, int64_t n, int64_t k) {
  static const bool cpu = Avx2SgemmSupported() && !__builtin_cpu_supports("avx512f");
  return cpu && enabled.load(std::memory_order_relaxed) && k <= (ta ? kMaxTransposedAK : kMaxK) &&
         n * k <= kMaxPanelFloats;
}

void SetAvx2SgemmEnabled(bool on) { enabled.store(on, std::memory_order_relaxed); }

KILN_AVX2 void Avx2Sgemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, const float* a,
                         int64_t lda, const float* b, int64_t ldb, float* c, int64_t ldc) {
  if (m == 0 || n == 0) return;
  // Per thread: the backend runs one product per thread at a time.
  static thread_local std::vector<float> panels, packed_a;
  // op(B) in panels of 16 columns, panel j / 16 at j * k: read in place when untransposed
  // and short, otherwise copied.
  auto in_place = [&](int64_t j) { return !tb && k <= kMaxInPlaceK && j + kCols <= n; };
  panels.resize(std::max<size_t>(panels.size(), (n + kCols - 1) / kCols * kCols * k));
  for (int64_t j = 0; j < n; j += kCols) {
    if (!in_place(j)) PackPanel(tb, k, b, ldb, j, std::min(kCols, n - j), panels.data() + j * k);
  }
  if (ta) packed_a.resize(std::max<size_t>(packed_a.size(), std::min(m, kChunkRows) * k));
  for (int64_t i = 0; i < m; i += kChunkRows) {
    const int64_t rows = std::min(kChunkRows, m - i);
    if (ta) PackTransposedA(rows, k, a + i, lda, packed_a.data());
    for (int64_t j = 0; j < n; j += kCols) {
      const float* panel = in_place(j) ? b + j : panels.data() + j * k;
      const int64_t ld_panel = in_place(j) ? ldb : kCols;
      float* cij = c + i * ldc + j;
      const int64_t cols = std::min(kCols, n - j);
      if (ta) {
        PanelProduct<true>(rows, k, packed_a.data(), 0, panel, ld_panel, cij, ldc, cols);
      } else {
        PanelProduct<false>(rows, k, a + i * lda, lda, panel, ld_panel, cij, ldc, cols);
      }
    }
  }
}

}  // namespace kiln::cpu
