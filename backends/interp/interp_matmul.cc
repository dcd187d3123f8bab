// Matmul: [..., m, k] x [..., k, n] -> [..., m, n] with NumPy-broadcast batch dims.
#include <algorithm>
#include <cstdint>
#include <vector>

#include "absl/strings/str_cat.h"
#include "backends/interp/interp_kernels.h"
#include "backends/interp/interp_util.h"

namespace kiln::interp {
namespace {

// One [m, k] x [k, n] product. Row i of the result is accumulated as a sum of rows of b
// scaled by a[i][p] (i-p-j order), so the inner loop walks b and the accumulator
// contiguously. `acc` holds n accumulators and is reused across rows and batches.
template <typename T>
void MatmulOne(const T* a, const T* b, T* out, int64_t m, int64_t k, int64_t n,
               std::vector<Accumulator<T>>& acc) {
  using A = Accumulator<T>;
  for (int64_t i = 0; i < m; ++i) {
    std::fill(acc.begin(), acc.end(), A(0));
    for (int64_t p = 0; p < k; ++p) {
      const A av = static_cast<A>(a[i * k + p]);
      const T* b_row = b + p * n;
      for (int64_t j = 0; j < n; ++j) {
        acc[j] = WrapAdd(acc[j], WrapMul(av, static_cast<A>(b_row[j])));
      }
    }
    for (int64_t j = 0; j < n; ++j) out[i * n + j] = CastTo<T>(acc[j]);
  }
}

template <typename T>
void Matmul(const InterpBuffer& a, const InterpBuffer& b, InterpBuffer& out) {
  const Sizes& as = a.shape().sizes();
  const Sizes& bs = b.shape().sizes();
  const Sizes& os = out.shape().sizes();
  KILN_CHECK(as.size() >= 2 && bs.size() >= 2 && os.size() >= 2)
      << "matmul: " << a.shape().ToString() << " x " << b.shape().ToString();
  const int64_t m = as[as.size() - 2];
  const int64_t k = as.back();
  const int64_t n = bs.back();
  KILN_CHECK(bs[bs.size() - 2] == k) << "matmul: inner sizes differ";

  // Batch iteration: each view addresses whole matrices (stride = matrix size).
  const Sizes batch(os.begin(), os.end() - 2);
  const Sizes a_batch(as.begin(), as.end() - 2);
  const Sizes b_batch(bs.begin(), bs.end() - 2);
  StridedView ov = ContiguousView(batch);
  StridedView av = BroadcastView(a_batch, batch);
  StridedView bv = BroadcastView(b_batch, batch);
  for (int64_t& s : ov.strides) s *= m * n;
  for (int64_t& s : av.strides) s *= m * k;
  for (int64_t& s : bv.strides) s *= k * n;

  const T* pa = Data<T>(a);
  const T* pb = Data<T>(b);
  T* po = Data<T>(out);
  std::vector<Accumulator<T>> acc(n);
  ForEachStrided<3>(
      batch, {&ov, &av, &bv},
      [&](const std::array<int64_t, 3>& off, int64_t count, const std::array<int64_t, 3>& step) {
        for (int64_t i = 0; i < count; ++i) {
          MatmulOne<T>(pa + off[1] + i * step[1], pb + off[2] + i * step[2],
                       po + off[0] + i * step[0], m, k, n, acc);
        }
      });
}

}  // namespace

absl::Status RunMatmul(const KernelCall& call) {
  const InterpBuffer& a = *call.inputs[0];
  const InterpBuffer& b = *call.inputs[1];
  InterpBuffer& out = *call.out;
  KILN_CHECK(a.shape().dtype() == b.shape().dtype() && out.shape().dtype() == a.shape().dtype())
      << "matmul: " << a.shape().ToString() << " x " << b.shape().ToString() << " -> "
      << out.shape().ToString();
  return DispatchDType(a.shape().dtype(), [&]<typename T>(TypeTag<T>) {
    Matmul<T>(a, b, out);
    return absl::OkStatus();
  });
}

}  // namespace kiln::interp
