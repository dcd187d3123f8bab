// Reduction kernels: sum, mean, prod, max, min over a set of dims, and argmax over one dim.
#include <algorithm>
#include <cstdint>
#include <memory>
#include <vector>

#include "absl/strings/str_cat.h"
#include "backends/interp/interp_kernels.h"
#include "backends/interp/interp_util.h"

namespace kiln::interp {
namespace {

// Which input dimensions the reduction removes (or keeps as size 1).
absl::InlinedVector<bool, 6> ReducedDims(const Attributes& attrs, int64_t rank) {
  absl::InlinedVector<bool, 6> reduced(rank, false);
  for (int64_t d : attrs.GetInts("dims")) {
    KILN_CHECK(d >= 0 && d < rank) << "reduction dim " << d << " for rank " << rank;
    reduced[d] = true;
  }
  return reduced;
}

// Maps every input element to its output element: the output laid out with the reduced
// dims kept as size 1, read with stride 0 along them. With keepdim=false the output
// merely drops those size-1 dims, which leaves the element order unchanged.
StridedView ReductionTarget(const Sizes& in, absl::Span<const bool> reduced) {
  Sizes kept = in;
  for (size_t d = 0; d < in.size(); ++d) {
    if (reduced[d]) kept[d] = 1;
  }
  StridedView view = ContiguousView(kept);
  for (size_t d = 0; d < in.size(); ++d) {
    if (reduced[d]) view.strides[d] = 0;
  }
  return view;
}

// Calls f(accumulator element, input element) for every input element, in row-major
// input order (so sums are accumulated in a fixed, documented order).
template <typename T, typename A, typename F>
void Accumulate(const InterpBuffer& x, absl::Span<const bool> reduced, A* pa, F f) {
  const Sizes& in = x.shape().sizes();
  const StridedView in_view = ContiguousView(in);
  const StridedView acc_view = ReductionTarget(in, reduced);
  const T* px = Data<T>(x);
  ForEachStrided<2>(
      in, {&in_view, &acc_view},
      [&](const std::array<int64_t, 2>& off, int64_t n, const std::array<int64_t, 2>& step) {
        for (int64_t i = 0; i < n; ++i) {
          f(pa[off[1] + i * step[1]], px[off[0] + i * step[0]]);
        }
      });
}

// Sum and mean: accumulated in f64 (floats) or wrapping i64 (integers, bool), then
// converted to the output dtype. The mean of nothing is 0/0 = NaN.
template <typename T, typename U>
void SumOrMean(OpKind op, const InterpBuffer& x, absl::Span<const bool> reduced,
               InterpBuffer& out) {
  using A = Accumulator<T>;
  std::vector<A> acc(out.shape().numel(), A(0));
  Accumulate<T>(x, reduced, acc.data(), [](A& a, T v) { a = WrapAdd(a, static_cast<A>(v)); });
  int64_t count = 1;
  for (size_t d = 0; d < reduced.size(); ++d) {
    if (reduced[d]) count *= x.shape().size(d);
  }
  U* o = Data<U>(out);
  for (size_t i = 0; i < acc.size(); ++i) {
    if (op == OpKind::kMean) {
      o[i] = CastTo<U>(static_cast<double>(acc[i]) / static_cast<double>(count));
    } else {
      o[i] = CastTo<U>(acc[i]);
    }
  }
}

// Prod: accumulated as sums are (f64 for floats, wrapping i64 for integers), from 1, so
// the product of nothing is 1.
template <typename T, typename U>
void Prod(const InterpBuffer& x, absl::Span<const bool> reduced, InterpBuffer& out) {
  using A = Accumulator<T>;
  std::vector<A> acc(out.shape().numel(), A(1));
  Accumulate<T>(x, reduced, acc.data(), [](A& a, T v) { a = WrapMul(a, static_cast<A>(v)); });
  U* o = Data<U>(out);
  for (size_t i = 0; i < acc.size(); ++i) o[i] = CastTo<U>(acc[i]);
}

// Max and min. A NaN anywhere in the reduced range makes the result NaN, as in torch.
template <typename T, typename U>
void MaxOrMin(OpKind op, const InterpBuffer& x, absl::Span<const bool> reduced, InterpBuffer& out) {
  const bool is_max = op == OpKind::kMax;
  const T init = is_max ? numerics::Lowest<T>() : numerics::Highest<T>();
  // Not std::vector<T>: for T = bool that has no data().
  const int64_t n = out.shape().numel();
  std::unique_ptr<T[]> acc(new T[n]);
  std::fill(acc.get(), acc.get() + n, init);
  if (is_max) {
    Accumulate<T>(x, reduced, acc.get(), [](T& a, T v) { a = numerics::ReduceMaxStep(a, v); });
  } else {
    Accumulate<T>(x, reduced, acc.get(), [](T& a, T v) { a = numerics::ReduceMinStep(a, v); });
  }
  U* o = Data<U>(out);
  for (int64_t i = 0; i < n; ++i) o[i] = CastTo<U>(acc[i]);
}

// Index of the first maximum along `dim`; a NaN counts as larger than everything, so the
// first NaN wins (torch). Shape inference rejects an empty `dim`.
template <typename T>
void Argmax(const InterpBuffer& x, int64_t dim, InterpBuffer& out) {
  const Sizes& sizes = x.shape().sizes();
  int64_t outer = 1;
  int64_t inner = 1;
  for (int64_t d = 0; d < dim; ++d) outer *= sizes[d];
  for (size_t d = dim + 1; d < sizes.size(); ++d) inner *= sizes[d];
  const int64_t n = sizes[dim];
  const T* px = Data<T>(x);
  int64_t* o = Data<int64_t>(out);
  for (int64_t a = 0; a < outer; ++a) {
    for (int64_t c = 0; c < inner; ++c) {
      const T* line = px + a * n * inner + c;
      T best = line[0];
      int64_t best_index = 0;
      for (int64_t j = 1; j < n && !IsNan(best); ++j) {
        const T v = line[j * inner];
        if (IsNan(v) || v > best) {
          best = v;
          best_index = j;
        }
      }
      o[a * inner + c] = best_index;
    }
  }
}

}  // namespace

absl::Status RunReduction(const KernelCall& call) {
  const InterpBuffer& x = *call.inputs[0];
  InterpBuffer& out = *call.out;
  const DType in_dtype = x.shape().dtype();
  if (call.op == OpKind::kArgmax) {
    KILN_CHECK(out.shape().dtype() == DType::kI64) << "argmax produces " << out.shape().ToString();
    const int64_t dim = call.attrs->GetInt("dim");
    return DispatchDType(in_dtype, [&]<typename T>(TypeTag<T>) {
      Argmax<T>(x, dim, out);
      return absl::OkStatus();
    });
  }
  const auto reduced = ReducedDims(*call.attrs, x.shape().rank());
  return DispatchDType(in_dtype, [&]<typename T>(TypeTag<T>) {
    return DispatchDType(out.shape().dtype(), [&]<typename U>(TypeTag<U>) {
      switch (call.op) {
        case OpKind::kSum:
        case OpKind::kMean:
          SumOrMean<T, U>(call.op, x, reduced, out);
          break;
        case OpKind::kProd:
          Prod<T, U>(x, reduced, out);
          break;
        case OpKind::kMax:
        case OpKind::kMin:
          MaxOrMin<T, U>(call.op, x, reduced, out);
          break;
        default:
          return absl::InternalError(
              absl::StrCat("interp: ", std::string(OpName(call.op)), " is not a reduction"));
      }
      return absl::OkStatus();
    });
  });
}

}  // namespace kiln::interp
