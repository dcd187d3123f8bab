// Indexing kernels: gather, index_select, scatter_add. Every index is range-checked
// before anything is written; a bad one is reported with its position in the index
// tensor, e.g. "gather: index 7 at position [1,0] is out of range for dimension 1 of size 5".
#include <cstdint>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "backends/interp/interp_kernels.h"
#include "backends/interp/interp_util.h"

namespace kiln::interp {
namespace {

// Checks that every element of `index` lies in [0, size).
template <typename I>
absl::Status CheckIndices(OpKind op, const InterpBuffer& index, int64_t dim, int64_t size) {
  const I* idx = Data<I>(index);
  const int64_t n = index.shape().numel();
  for (int64_t p = 0; p < n; ++p) {
    const int64_t v = idx[p];
    if (v < 0 || v >= size) {
      return absl::InvalidArgumentError(
          absl::StrCat(std::string(OpName(op)), ": index ", v, " at position ",
                       PositionString(p, index.shape().sizes()), " is out of range for dimension ",
                       dim, " of size ", size));
    }
  }
  return absl::OkStatus();
}

// out[p] = x[p with coordinate `dim` replaced by index[p]]; out has index's shape.
template <typename E, typename I>
void Gather(const InterpBuffer& x, const InterpBuffer& index, int64_t dim, InterpBuffer& out) {
  const Sizes& is = index.shape().sizes();
  const StridedView index_view = ContiguousView(is);
  StridedView x_view = ContiguousView(x.shape().sizes());
  const int64_t dim_stride = x_view.strides[dim];
  x_view.strides[dim] = 0;
  const E* src = Data<E>(x);
  const I* idx = Data<I>(index);
  E* dst = Data<E>(out);
  ForEachStrided<2>(
      is, {&index_view, &x_view},
      [&](const std::array<int64_t, 2>& off, int64_t n, const std::array<int64_t, 2>& step) {
        for (int64_t i = 0; i < n; ++i) {
          const int64_t p = off[0] + i * step[0];
          dst[p] = src[off[1] + i * step[1] + static_cast<int64_t>(idx[p]) * dim_stride];
        }
      });
}

// out = x with dimension `dim` replaced by the rows x[..., index[j], ...].
template <typename E, typename I>
void IndexSelect(const InterpBuffer& x, const InterpBuffer& index, int64_t dim, InterpBuffer& out) {
  const Sizes& xs = x.shape().sizes();
  int64_t outer = 1;
  int64_t inner = 1;
  for (int64_t d = 0; d < dim; ++d) outer *= xs[d];
  for (size_t d = dim + 1; d < xs.size(); ++d) inner *= xs[d];
  const int64_t size = x.shape().size(dim);
  const int64_t count = index.shape().numel();
  const E* src = Data<E>(x);
  const I* idx = Data<I>(index);
  E* dst = Data<E>(out);
  for (int64_t o = 0; o < outer; ++o) {
    for (int64_t j = 0; j < count; ++j) {
      const E* row = src + (o * size + static_cast<int64_t>(idx[j])) * inner;
      std::copy(row, row + inner, dst + (o * count + j) * inner);
    }
  }
}

// out = self; then out[p with coordinate `dim` replaced by index[p]] += src[p] for every
// position p of index, in row-major order (duplicates accumulate).
template <typename T, typename I>
void ScatterAdd(const InterpBuffer& self, const InterpBuffer& index, const InterpBuffer& src,
                int64_t dim, InterpBuffer& out) {
  if (out.shape().byte_size() > 0) {
    std::memcpy(out.data(), self.data(), out.shape().byte_size());
  }
  const Sizes& is = index.shape().sizes();
  const StridedView index_view = ContiguousView(is);
  StridedView out_view = ContiguousView(out.shape().sizes());
  const int64_t dim_stride = out_view.strides[dim];
  out_view.strides[dim] = 0;
  const StridedView src_view = ContiguousView(src.shape().sizes());
  const I* idx = Data<I>(index);
  const T* ps = Data<T>(src);
  T* o = Data<T>(out);
  ForEachStrided<3>(
      is, {&index_view, &out_view, &src_view},
      [&](const std::array<int64_t, 3>& off, int64_t n, const std::array<int64_t, 3>& step) {
        for (int64_t i = 0; i < n; ++i) {
          const int64_t p = off[0] + i * step[0];
          T& target = o[off[1] + i * step[1] + static_cast<int64_t>(idx[p]) * dim_stride];
          target = WrapAdd(target, ps[off[2] + i * step[2]]);
        }
      });
}

}  // namespace

absl::Status RunIndexing(const KernelCall& call) {
  const InterpBuffer& x = *call.inputs[0];
  const InterpBuffer& index = *call.inputs[1];
  InterpBuffer& out = *call.out;
  const int64_t dim = call.attrs->GetInt("dim");
  const int64_t size = x.shape().size(dim);
  KILN_CHECK(x.shape().dtype() == out.shape().dtype())
      << OpName(call.op) << ": " << x.shape().ToString() << " -> " << out.shape().ToString();
  return DispatchIndexDType(index.shape().dtype(), [&]<typename I>(TypeTag<I>) -> absl::Status {
    absl::Status status = CheckIndices<I>(call.op, index, dim, size);
    if (!status.ok()) return status;
    switch (call.op) {
      case OpKind::kGather:
        DispatchElementSize(x.shape().dtype(),
                            [&]<typename E>(TypeTag<E>) { Gather<E, I>(x, index, dim, out); });
        return absl::OkStatus();
      case OpKind::kIndexSelect:
        DispatchElementSize(x.shape().dtype(),
                            [&]<typename E>(TypeTag<E>) { IndexSelect<E, I>(x, index, dim, out); });
        return absl::OkStatus();
      case OpKind::kScatterAdd:
        DispatchDType(x.shape().dtype(), [&]<typename T>(TypeTag<T>) {
          ScatterAdd<T, I>(x, index, *call.inputs[2], dim, out);
        });
        return absl::OkStatus();
      default:
        return absl::InternalError(
            absl::StrCat("interp: ", std::string(OpName(call.op)), " is not an indexing op"));
    }
  });
}

}  // namespace kiln::interp
