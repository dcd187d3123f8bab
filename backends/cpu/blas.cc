#include "backends/cpu/blas.h"

#include <cblas.h>

#include <algorithm>
#include <atomic>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "backends/cpu/blas_kernels.h"
#include "ir/shape.h"

namespace kiln::cpu {
namespace {

// Threads the matmuls use (SetBlasThreads); 1 until the backend sets it.
std::atomic<int> blas_threads{1};

// Below this many flops a call runs on the calling thread: waking the others would cost
// more than they save.
constexpr double kMinParallelFlops = 1 << 18;

// Element offset of each matrix of a broadcast batch: `batch` (the operand's own batch
// sizes) read at the flat output batch position `flat` of `out_batch`.
int64_t BatchOffset(int64_t flat, absl::Span<const int64_t> out_batch,
                    absl::Span<const int64_t> batch, int64_t matrix) {
  int64_t offset = 0;
  int64_t stride = matrix;
  const size_t lead = out_batch.size() - batch.size();
  for (size_t d = out_batch.size(); d-- > 0;) {
    const int64_t i = flat % out_batch[d];
    flat /= out_batch[d];
    if (d < lead) continue;
    const int64_t size = batch[d - lead];
    if (size != 1) offset += i * stride;
    stride *= size;
  }
  return offset;
}

template <typename T>
void Gemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, const T* a, int64_t lda, const T* b,
          int64_t ldb, T* c, int64_t ldc) {
  const CBLAS_TRANSPOSE opa = ta ? CblasTrans : CblasNoTrans;
  const CBLAS_TRANSPOSE opb = tb ? CblasTrans : CblasNoTrans;
  if constexpr (sizeof(T) == 4) {
    cblas_sgemm(CblasRowMajor, opa, opb, m, n, k, 1.0f, a, lda, b, ldb, 0.0f, c, ldc);
  } else {
    cblas_dgemm(CblasRowMajor, opa, opb, m, n, k, 1.0, a, lda, b, ldb, 0.0, c, ldc);
  }
}

// OpenBLAS's own thread count, changed only when it differs (a cheap read).
void SetOpenBlasThreads(int threads) {
  if (openblas_get_num_threads() != threads) openblas_set_num_threads(threads);
}

// The matrices of one call (batch positions `begin` to `end`), one gemm each.
template <typename T>
struct Batch {
  bool ta, tb;
  int64_t m, n, k, lda, ldb;
  const T* a;
  const T* b;
  T* out;
  absl::Span<const int64_t> out_batch, a_batch, b_batch;

  void Run(int64_t begin, int64_t end) const {
    for (int64_t i = begin; i < end; ++i) {
      Gemm<T>(ta, tb, m, n, k, a + BatchOffset(i, out_batch, a_batch, m * k), lda,
              b + BatchOffset(i, out_batch, b_batch, k * n), ldb, out + i * m * n, n);
    }
  }
};

template <typename T>
void Matmul(const codegen::MatmulCall& call, void* const* bufs) {
  const Sizes& as = call.a_shape;
  const Sizes& bs = call.b_shape;
  const Sizes& os = call.out_shape;
  const int64_t m = os[os.size() - 2];
  const int64_t n = os.back();
  const int64_t k = call.transpose_a ? as[as.size() - 2] : as.back();
  const absl::Span<const int64_t> out_batch(os.data(), os.size() - 2);
  int64_t batches = 1;
  for (int64_t s : out_batch) batches *= s;
  T* out = static_cast<T*>(bufs[call.out]);
  if (m == 0 || n == 0 || batches == 0) return;
  if (k == 0) {
    std::fill(out, out + batches * m * n, T(0));
    return;
  }
  Batch<T> batch;
  batch.ta = call.transpose_a;
  batch.tb = call.transpose_b;
  batch.m = m;
  batch.n = n;
  batch.k = k;
  batch.lda = std::max<int64_t>(1, as.back());
  batch.ldb = std::max<int64_t>(1, bs.back());
  batch.a = static_cast<const T*>(bufs[call.a]);
  batch.b = static_cast<const T*>(bufs[call.b]);
  batch.out = out;
  batch.out_batch = out_batch;
  batch.a_batch = absl::Span<const int64_t>(as.data(), as.size() - 2);
  batch.b_batch = absl::Span<const int64_t>(bs.data(), bs.size() - 2);

  const int threads = blas_threads.load(std::memory_order_relaxed);
  const double flops = 2.0 * static_cast<double>(batches) * m * n * k;
  if (threads == 1 || batches < threads || flops < kMinParallelFlops) {
    // Fewer matrices than threads (or too little work to share): OpenBLAS threads each
    // one itself, sharing its packed operands between its threads.
    SetOpenBlasThreads(threads);
    batch.Run(0, batches);
    return;
  }
  // Whole matrices per thread, each a single-threaded gemm, handed out one at a time so
  // that a thread the OS preempts holds up one matrix rather than a fixed share.
  SetOpenBlasThreads(1);
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads)
  for (int64_t i = 0; i < batches; ++i) batch.Run(i, i + 1);
}

}  // namespace

absl::Status RunBlasMatmul(const codegen::MatmulCall& call, void* const* bufs) {
  switch (call.dtype) {
    case DType::kF32:
      Matmul<float>(call, bufs);
      return absl::OkStatus();
    case DType::kF64:
      Matmul<double>(call, bufs);
      return absl::OkStatus();
    default:
      return absl::InternalError(absl::StrCat("cpu: BLAS matmul of ", DTypeName(call.dtype),
                                              " (integer matmuls are loops)"));
  }
}

void SetBlasThreads(int threads) {
  SelectBlasKernels();
  blas_threads.store(std::max(1, threads), std::memory_order_relaxed);
}

}  // namespace kiln::cpu
