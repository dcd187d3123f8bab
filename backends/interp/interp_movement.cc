// Data-movement kernels: reshape, permute, expand, slice, concat, pad. They copy bits, so
// they are instantiated per element size rather than per dtype; each is one strided copy
// between an input view and an output view.
#include <algorithm>
#include <cstdint>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "backends/interp/interp_kernels.h"
#include "backends/interp/interp_util.h"

namespace kiln::interp {
namespace {

// `value` converted to `dtype` (like a cast), as the element-sized bit pattern E.
template <typename E>
E FillBits(DType dtype, double value) {
  E bits{};
  DispatchDType(dtype, [&]<typename T>(TypeTag<T>) {
    // Only the dtype whose size is sizeof(E) runs; the others merely compile.
    if constexpr (sizeof(T) == sizeof(E)) {
      const T typed = CastTo<T>(value);
      std::memcpy(&bits, &typed, sizeof(T));
    }
  });
  return bits;
}

template <typename E>
absl::Status Move(const KernelCall& call) {
  const InterpBuffer& x = *call.inputs[0];
  InterpBuffer& out = *call.out;
  const Attributes& attrs = *call.attrs;
  const Sizes& in = x.shape().sizes();
  const Sizes& os = out.shape().sizes();
  const E* src = Data<E>(x);
  E* dst = Data<E>(out);
  const StridedView out_view = ContiguousView(os);
  switch (call.op) {
    case OpKind::kPermute: {
      // Output dim i walks input dim perm[i].
      const std::vector<int64_t>& perm = attrs.GetInts("perm");
      const Sizes in_strides = ContiguousStrides(in);
      StridedView view{0, Sizes(os.size(), 0)};
      for (size_t i = 0; i < perm.size(); ++i) view.strides[i] = in_strides[perm[i]];
      CopyStrided<E>(os, src, view, dst, out_view);
      return absl::OkStatus();
    }
    case OpKind::kExpand:
      CopyStrided<E>(os, src, BroadcastView(in, os), dst, out_view);
      return absl::OkStatus();
    case OpKind::kSlice: {
      const int64_t dim = attrs.GetInt("dim");
      const int64_t start = std::clamp<int64_t>(attrs.GetInt("start"), 0, in[dim]);
      const int64_t step = attrs.GetInt("step");
      StridedView view = ContiguousView(in);
      view.base = start * view.strides[dim];
      view.strides[dim] *= step;
      CopyStrided<E>(os, src, view, dst, out_view);
      return absl::OkStatus();
    }
    case OpKind::kConcat: {
      // Each input lands in the output at a running offset along `dim`.
      const int64_t dim = attrs.GetInt("dim");
      StridedView dst_view = out_view;
      for (const InterpBuffer* input : call.inputs) {
        const Sizes& part = input->shape().sizes();
        CopyStrided<E>(part, Data<E>(*input), ContiguousView(part), dst, dst_view);
        dst_view.base += part[dim] * out_view.strides[dim];
      }
      return absl::OkStatus();
    }
    case OpKind::kPad: {
      // Fill, then copy the part of the input that survives cropping (negative pads) to
      // its place in the output.
      const std::vector<int64_t>& pads = attrs.GetInts("pads");
      KILN_CHECK(pads.size() == 2 * in.size())
          << "pad: " << pads.size() << " pads for rank " << in.size();
      const E fill = FillBits<E>(out.shape().dtype(), attrs.GetDouble("value"));
      std::fill(dst, dst + out.shape().numel(), fill);
      StridedView src_view = ContiguousView(in);
      StridedView dst_view = out_view;
      Sizes box(in.size(), 0);
      for (size_t d = 0; d < in.size(); ++d) {
        const int64_t lo = pads[2 * d];
        const int64_t hi = pads[2 * d + 1];
        const int64_t in_begin = std::max<int64_t>(0, -lo);
        const int64_t in_end = in[d] - std::max<int64_t>(0, -hi);
        box[d] = std::max<int64_t>(0, in_end - in_begin);
        src_view.base += in_begin * src_view.strides[d];
        dst_view.base += std::max<int64_t>(0, lo) * dst_view.strides[d];
      }
      CopyStrided<E>(box, src, src_view, dst, dst_view);
      return absl::OkStatus();
    }
    default:
      return absl::InternalError(
          absl::StrCat("interp: ", std::string(OpName(call.op)), " is not a data-movement op"));
  }
}

}  // namespace

absl::Status RunMovement(const KernelCall& call) {
  const InterpBuffer& x = *call.inputs[0];
  InterpBuffer& out = *call.out;
  for (const InterpBuffer* input : call.inputs) {
    KILN_CHECK(input->shape().dtype() == out.shape().dtype())
        << OpName(call.op) << ": " << input->shape().ToString() << " -> " << out.shape().ToString();
  }
  if (call.op == OpKind::kReshape) {
    // Row-major reinterpretation: the bytes are already in order.
    KILN_CHECK(x.shape().numel() == out.shape().numel())
        << "reshape: " << x.shape().ToString() << " -> " << out.shape().ToString();
    if (out.shape().byte_size() > 0) {
      std::memcpy(out.data(), x.data(), out.shape().byte_size());
    }
    return absl::OkStatus();
  }
  return DispatchElementSize(out.shape().dtype(),
                             [&]<typename E>(TypeTag<E>) { return Move<E>(call); });
}

}  // namespace kiln::interp
