#include "backends/cpu/blas.h"

#include <cblas.h>

#include <algorithm>
#include <atomic>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "ir/shape.h"

namespace kiln::cpu {
namespace {

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

template <typename T>
void Matmul(const codegen::MatmulCall& call, void* const* bufs) {
  const Sizes& as = call.a_shape;
  const Sizes& bs = call.b_shape;
  const Sizes& os = call.out_shape;
  const int64_t m = os[os.size() - 2];
  const int64_t n = os.back();
  const int64_t k = call.transpose_a ? as[as.size() - 2] : as.back();
  const absl::Span<const int64_t> out_batch(os.data(), os.size() - 2);
  const absl::Span<const int64_t> a_batch(as.data(), as.size() - 2);
  const absl::Span<const int64_t> b_batch(bs.data(), bs.size() - 2);
  int64_t batches = 1;
  for (int64_t s : out_batch) batches *= s;
  T* out = static_cast<T*>(bufs[call.out]);
  if (m == 0 || n == 0 || batches == 0) return;
  if (k == 0) {
    std::fill(out, out + batches * m * n, T(0));
    return;
  }
  const T* a = static_cast<const T*>(bufs[call.a]);
  const T* b = static_cast<const T*>(bufs[call.b]);
  const int64_t lda = std::max<int64_t>(1, as.back());
  const int64_t ldb = std::max<int64_t>(1, bs.back());
  for (int64_t i = 0; i < batches; ++i) {
    Gemm<T>(call.transpose_a, call.transpose_b, m, n, k,
            a + BatchOffset(i, out_batch, a_batch, m * k), lda,
            b + BatchOffset(i, out_batch, b_batch, k * n), ldb, out + i * m * n, n);
  }
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
  static std::atomic<int> current{-1};
  if (current.exchange(threads) != threads) openblas_set_num_threads(threads);
}

}  // namespace kiln::cpu
