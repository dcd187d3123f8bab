#pragma once
// Building blocks shared by the interp kernels: typed access to buffer bytes, a dtype
// dispatch, the element semantics (the cast, wrapping integer arithmetic: from
// codegen/kernel_numerics.h, which the cpu backend's generated code uses too) and a
// strided N-operand iterator. Kernels are written once as templates over the C++
// element type and instantiated per dtype through DispatchDType:
//
//   DispatchDType(x.shape().dtype(), [&]<typename T>(TypeTag<T>) { Negate<T>(x, out); });
#include <array>
#include <cstdint>
#include <string>
#include <type_traits>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/types/span.h"
#include "backends/interp/interp_backend.h"
#include "codegen/kernel_numerics.h"
#include "ir/dtype.h"
#include "ir/shape.h"
#include "util/check.h"

namespace kiln::interp {

// Names a C++ element type in a generic lambda's parameter list.
template <typename T>
struct TypeTag {
  using type = T;
};

// Calls f(TypeTag<T>{}) with the C++ type of `dtype`. Reserved dtypes never reach a
// kernel: Compile rejects graphs that use them.
template <typename F>
decltype(auto) DispatchDType(DType dtype, F&& f) {
  switch (dtype) {
    case DType::kBool:
      return f(TypeTag<bool>{});
    case DType::kI32:
      return f(TypeTag<int32_t>{});
    case DType::kI64:
      return f(TypeTag<int64_t>{});
    case DType::kF32:
      return f(TypeTag<float>{});
    case DType::kF64:
      return f(TypeTag<double>{});
    case DType::kF16:
    case DType::kBF16:
      break;
  }
  KILN_CHECK(false) << "interp: dtype " << DTypeName(dtype) << " reached a kernel";
  __builtin_unreachable();
}

// Calls f(TypeTag<T>{}) with T = int32_t or int64_t, the two index dtypes.
template <typename F>
decltype(auto) DispatchIndexDType(DType dtype, F&& f) {
  KILN_CHECK(dtype == DType::kI32 || dtype == DType::kI64)
      << "interp: index dtype " << DTypeName(dtype);
  if (dtype == DType::kI32) return f(TypeTag<int32_t>{});
  return f(TypeTag<int64_t>{});
}

// Calls f(TypeTag<T>{}) with an unsigned type as wide as one element of `dtype`: data
// movement copies bits and needs no arithmetic, so it is instantiated per size only.
template <typename F>
decltype(auto) DispatchElementSize(DType dtype, F&& f) {
  switch (DTypeSize(dtype)) {
    case 1:
      return f(TypeTag<uint8_t>{});
    case 2:
      return f(TypeTag<uint16_t>{});
    case 4:
      return f(TypeTag<uint32_t>{});
    default:
      break;
  }
  KILN_CHECK(DTypeSize(dtype) == 8) << "interp: element size " << DTypeSize(dtype);
  return f(TypeTag<uint64_t>{});
}

// The buffer's elements as T (the caller dispatched on its dtype).
template <typename T>
T* Data(InterpBuffer& buffer) {
  return static_cast<T*>(buffer.data());
}
template <typename T>
const T* Data(const InterpBuffer& buffer) {
  return static_cast<const T*>(buffer.data());
}

// The element semantics shared with the generated cpu kernels (codegen/kernel_numerics.h).
using numerics::CastTo;
using numerics::IsNan;
using numerics::WrapAdd;
using numerics::WrapMul;
using numerics::WrapSub;

// The accumulator of sums and matmuls: f64 for floats (an f32 sum of a million
// elements stays accurate), i64 for integers and bool.
template <typename T>
using Accumulator = std::conditional_t<std::is_floating_point_v<T>, double, int64_t>;

// A strided view of a buffer's elements: element (i0, i1, ...) of the iteration space is
// at base + i0 * strides[0] + i1 * strides[1] + ... Strides may be 0 (broadcast).
struct StridedView {
  int64_t base = 0;
  Sizes strides;
};

// The row-major layout of `sizes`.
inline StridedView ContiguousView(absl::Span<const int64_t> sizes) {
  return StridedView{0, ContiguousStrides(sizes)};
}

// `operand` read as if broadcast to `out` (NumPy rules, aligned at the trailing
// dimension): size-1 and missing leading dimensions get stride 0.
inline StridedView BroadcastView(absl::Span<const int64_t> operand, absl::Span<const int64_t> out) {
  StridedView view{0, Sizes(out.size(), 0)};
  const Sizes strides = ContiguousStrides(operand);
  const size_t lead = out.size() - operand.size();
  for (size_t d = 0; d < operand.size(); ++d) {
    view.strides[lead + d] = operand[d] == 1 ? 0 : strides[d];
  }
  return view;
}

// Visits the iteration space `sizes` in row-major order, in runs along the last
// dimension: f(offsets, count, steps) where offsets[k] is view k's element offset of the
// run's first element and steps[k] its stride along the run. Adjacent dimensions that
// are contiguous in every view are merged first, so dense operands give one long run.
// A rank-0 space is a single run of one element; an empty space makes no call.
template <size_t N, typename F>
void ForEachStrided(absl::Span<const int64_t> sizes, const std::array<const StridedView*, N>& views,
                    F&& f) {
  for (int64_t s : sizes) {
    if (s == 0) return;
  }
  // Drop size-1 dimensions, then merge dimension d into d+1 where every view allows it.
  Sizes dims;
  std::array<Sizes, N> strides;
  for (size_t d = 0; d < sizes.size(); ++d) {
    if (sizes[d] == 1) continue;
    bool merge = !dims.empty();
    for (size_t k = 0; k < N && merge; ++k) {
      merge = strides[k].back() == views[k]->strides[d] * sizes[d];
    }
    if (merge) {
      dims.back() *= sizes[d];
      for (size_t k = 0; k < N; ++k) strides[k].back() = views[k]->strides[d];
    } else {
      dims.push_back(sizes[d]);
      for (size_t k = 0; k < N; ++k) strides[k].push_back(views[k]->strides[d]);
    }
  }
  std::array<int64_t, N> offsets;
  std::array<int64_t, N> steps;
  for (size_t k = 0; k < N; ++k) {
    offsets[k] = views[k]->base;
    steps[k] = dims.empty() ? 0 : strides[k].back();
  }
  if (dims.empty()) {
    f(offsets, int64_t{1}, steps);
    return;
  }
  const int outer_rank = static_cast<int>(dims.size()) - 1;
  const int64_t inner = dims.back();
  Sizes index(dims.size(), 0);
  while (true) {
    f(offsets, inner, steps);
    int d = outer_rank - 1;
    for (; d >= 0; --d) {
      for (size_t k = 0; k < N; ++k) offsets[k] += strides[k][d];
      if (++index[d] < dims[d]) break;
      for (size_t k = 0; k < N; ++k) offsets[k] -= strides[k][d] * dims[d];
      index[d] = 0;
    }
    if (d < 0) return;
  }
}

// Copies elements between strided views over the iteration space `sizes`.
template <typename T>
void CopyStrided(absl::Span<const int64_t> sizes, const T* src, const StridedView& src_view, T* dst,
                 const StridedView& dst_view) {
  ForEachStrided<2>(
      sizes, {&dst_view, &src_view},
      [&](const std::array<int64_t, 2>& off, int64_t n, const std::array<int64_t, 2>& step) {
        for (int64_t i = 0; i < n; ++i) {
          dst[off[0] + i * step[0]] = src[off[1] + i * step[1]];
        }
      });
}

// "[1,0]": the multi-index of flat row-major position `flat` in `sizes`, for messages.
inline std::string PositionString(int64_t flat, absl::Span<const int64_t> sizes) {
  Sizes index(sizes.size(), 0);
  for (size_t d = sizes.size(); d-- > 0;) {
    index[d] = flat % sizes[d];
    flat /= sizes[d];
  }
  return absl::StrCat("[", absl::StrJoin(index, ","), "]");
}

}  // namespace kiln::interp
