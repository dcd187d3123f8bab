#include "backends/cpu/blas.h"

#include <cblas.h>

#include <algorithm>
#include <atomic>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "backends/cpu/avx2_sgemm.h"
#include "backends/cpu/blas_kernels.h"
#include "ir/shape.h"

namespace kiln::cpu {
namespace {

// Threads the matmuls use (SetBlasThreads); 1 until the backend sets it.
std::atomic<int> blas_threads{1};

// Below this many flops a call runs on the calling thread: waking the others would cost
// more than they save.
constexpr double kMinParallelFlops = 1 << 18;

// Blocks of fewer rows (or columns) than this run well below OpenBLAS's peak.
constexpr int64_t kMinTileExtent = 64;

// Tile edges are multiples of this (OpenBLAS's f32 register tiles are 16 wide on AVX-512
// and divide it elsewhere), so no thread gets a ragged edge in the middle of a matrix.
constexpr int64_t kTileAlign = 16;

template <typename T>
void Gemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, const T* a, int64_t lda, const T* b,
          int64_t ldb, T* c, int64_t ldc) {
  const CBLAS_TRANSPOSE opa = ta ? CblasTrans : CblasNoTrans;
  const CBLAS_TRANSPOSE opb = tb ? CblasTrans : CblasNoTrans;
  if constexpr (sizeof(T) == 4) {
    if (PreferAvx2Sgemm(ta, n, k)) return Avx2Sgemm(ta, tb, m, n, k, a, lda, b, ldb, c, ldc);
    cblas_sgemm(CblasRowMajor, opa, opb, m, n, k, 1.0f, a, lda, b, ldb, 0.0f, c, ldc);
  } else {
    cblas_dgemm(CblasRowMajor, opa, opb, m, n, k, 1.0, a, lda, b, ldb, 0.0, c, ldc);
  }
}

// Start of part `j` of `parts` along an extent of `size`, on a kTileAlign boundary.
int64_t PartStart(int64_t size, int64_t j, int64_t parts) {
  if (j >= parts) return size;
  const int64_t even = size * j / parts;
  return std::min(size, (even + kTileAlign / 2) / kTileAlign * kTileAlign);
}

// One call: the batch's matrices, each cut into `parts` blocks of rows (or of columns
// when the output is wider than tall), as a flat list of tiles that threads share out;
// Run(t) computes tile t with one single-threaded gemm.
template <typename T>
struct Tiles {
  bool ta, tb;
  int64_t m, n, k, lda, ldb;
  const T* a;
  const T* b;
  T* out;
  absl::Span<const int64_t> out_batch, a_batch, b_batch;
  int64_t parts;
  bool split_rows;

  void Run(int64_t tile) const {
    const int64_t i = tile / parts;
    const int64_t j = tile % parts;
    const T* am = a + codegen::MatmulBatchOffset(i, out_batch, a_batch, m * k);
    const T* bm = b + codegen::MatmulBatchOffset(i, out_batch, b_batch, k * n);
    T* cm = out + i * m * n;
    if (split_rows) {
      // Rows r0..r1 of op(a): rows of a, or columns when a is stored transposed.
      const int64_t r0 = PartStart(m, j, parts);
      const int64_t r1 = PartStart(m, j + 1, parts);
      if (r1 > r0) Gemm<T>(ta, tb, r1 - r0, n, k, am + (ta ? r0 : r0 * lda), lda, bm, ldb,
                           cm + r0 * n, n);
    } else {
      const int64_t c0 = PartStart(n, j, parts);
      const int64_t c1 = PartStart(n, j + 1, parts);
      if (c1 > c0) Gemm<T>(ta, tb, m, c1 - c0, k, am, lda, bm + (tb ? c0 * ldb : c0), ldb,
                           cm + c0, n);
    }
  }
};

template <typename T>
void Matmul(const codegen::MatmulCall& call, void* const* bufs, bool single_threaded) {
  const codegen::MatmulDims d = codegen::GetMatmulDims(call);
  const int64_t m = d.m, n = d.n, k = d.k, batches = d.batches;
  T* out = static_cast<T*>(bufs[call.out]);
  if (m == 0 || n == 0 || batches == 0) return;
  if (k == 0) {
    std::fill(out, out + batches * m * n, T(0));
    return;
  }
  Tiles<T> tiles;
  tiles.ta = call.transpose_a;
  tiles.tb = call.transpose_b;
  tiles.m = m;
  tiles.n = n;
  tiles.k = k;
  tiles.lda = std::max<int64_t>(1, d.lda);
  tiles.ldb = std::max<int64_t>(1, d.ldb);
  tiles.a = static_cast<const T*>(bufs[call.a]);
  tiles.b = static_cast<const T*>(bufs[call.b]);
  tiles.out = out;
  tiles.out_batch = d.out_batch;
  tiles.a_batch = d.a_batch;
  tiles.b_batch = d.b_batch;

  const double flops = 2.0 * static_cast<double>(batches) * m * n * k;
  const int threads = single_threaded || flops < kMinParallelFlops
                          ? 1
                          : blas_threads.load(std::memory_order_relaxed);
  tiles.split_rows = m >= n;
  tiles.parts = 1;
  if (batches < threads) {
    // Fewer matrices than threads: each cut into blocks, none thinner than kMinTileExtent.
    const int64_t extent = tiles.split_rows ? m : n;
    const int64_t wanted = (threads + batches - 1) / batches;
    tiles.parts = std::max<int64_t>(1, std::min(wanted, extent / kMinTileExtent));
  }
  const int64_t count = batches * tiles.parts;
  if (threads == 1 || count == 1) {
    for (int64_t t = 0; t < count; ++t) tiles.Run(t);
    return;
  }
  // Handed out one at a time, so that a thread the OS preempts holds up one tile rather
  // than a fixed share of the call.
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads)
  for (int64_t t = 0; t < count; ++t) tiles.Run(t);
}

}  // namespace

absl::Status RunBlasMatmul(const codegen::MatmulCall& call, void* const* bufs,
                           bool single_threaded) {
  switch (call.dtype) {
    case DType::kF32:
      Matmul<float>(call, bufs, single_threaded);
      return absl::OkStatus();
    case DType::kF64:
      Matmul<double>(call, bufs, single_threaded);
      return absl::OkStatus();
    default:
      return absl::InternalError(absl::StrCat("cpu: BLAS matmul of ", DTypeName(call.dtype),
                                              " (integer matmuls are loops)"));
  }
}

void SetBlasThreads(int threads) {
  SelectBlasKernels();
  blas_threads.store(std::max(1, threads), std::memory_order_relaxed);
  // OpenBLAS's own threads stay off (see blas.h); checked each time in case something
  // else in the process changed it.
  if (openblas_get_num_threads() != 1) openblas_set_num_threads(1);
}

}  // namespace kiln::cpu
