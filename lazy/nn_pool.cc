// max_pool2d and avg_pool2d as a select or sum over the kernel's taps (each a strided slice
// of the padded input), adaptive_avg_pool2d as a mean or a product with averaging matrices.
#include "lazy/nn_pool.h"

#include <algorithm>
#include <array>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/str_cat.h"
#include "lazy/op_utils.h"
#include "lazy/ops.h"
#include "lazy/scalar_tensor.h"

namespace kiln::nn {
namespace {

using internal::ThrowOpError;

std::string Pair(const std::array<int64_t, 2>& v) {
  return absl::StrCat("(", v[0], ", ", v[1], ")");
}

// A pooling window's geometry, per spatial dimension (height, width).
struct Window {
  std::array<int64_t, 2> kernel, stride, padding, dilation;
  bool ceil_mode;
};

// Throws unless x is a floating [N, C, H, W] or [C, H, W] with C, H, W > 0.
void CheckInput(std::string_view op, const Tensor& x) {
  const Shape& xs = internal::CheckOperand(op, x);
  bool empty = false;
  for (int64_t d = std::max<int64_t>(xs.rank() - 3, 0); d < xs.rank(); ++d) {
    empty |= xs.size(d) == 0;
  }
  if ((xs.rank() != 3 && xs.rank() != 4) || empty) {
    ThrowOpError(op, ": expected an input [N, C, H, W] or [C, H, W] with C, H and W > 0, got ",
                 xs.ToString());
  }
  if (!IsFloating(xs.dtype())) {
    ThrowOpError(op, ": expected a floating input, got ", xs.ToString());
  }
}

// x as [N, C, H, W], and the output back in x's own rank.
Tensor Batched(const Tensor& x, const CallSite& site) {
  return x.dim() == 4 ? x : unsqueeze(x, 0, site);
}
Tensor AsInput(const Tensor& y4, const Tensor& x, const CallSite& site) {
  return x.dim() == 4 ? y4 : squeeze(y4, 0, site);
}

// Throws unless `w` fits x [N, C, H, W] or [C, H, W]; returns the output's (Ho, Wo), as
// torch's.
std::array<int64_t, 2> OutputSize(std::string_view op, const Tensor& x, const Window& w) {
  const auto fail = [&](const auto&... parts) {
    ThrowOpError(op, ": ", parts..., " (input ", x.shape().ToString(), ", kernel ", Pair(w.kernel),
                 ", stride ", Pair(w.stride), ", padding ", Pair(w.padding), ", dilation ",
                 Pair(w.dilation), ")");
  };
  std::array<int64_t, 2> out;
  for (int d = 0; d < 2; ++d) {
    const int64_t k = w.kernel[d], s = w.stride[d], p = w.padding[d], dil = w.dilation[d];
    if (k <= 0 || s <= 0 || dil <= 0) fail("expected kernel, stride and dilation > 0");
    if (p < 0 || p > k / 2) fail("expected padding >= 0 and at most half the kernel");
    const int64_t in = x.size(x.dim() - 2 + d);
    const int64_t span = in + 2 * p - dil * (k - 1) - 1;
    if (span < 0) fail("the window spans more than the padded input");
    out[d] = (span + (w.ceil_mode ? s - 1 : 0)) / s + 1;
    // With ceil_mode, the last window must start inside the input or its left padding.
    if (w.ceil_mode && (out[d] - 1) * s >= in + p) --out[d];
  }
  return out;
}

// x4 padded with `value` to exactly what the windows read: `padding` before, and after
// as far as the last window reaches (past the padding with ceil_mode, short of it when
// the stride leaves the end unread).
Tensor PadToWindows(const Tensor& x4, const Window& w, const std::array<int64_t, 2>& out,
                    double value, const CallSite& site) {
  std::array<int64_t, 2> after;
  for (int d = 0; d < 2; ++d) {
    const int64_t reach = (out[d] - 1) * w.stride[d] + w.dilation[d] * (w.kernel[d] - 1) + 1;
    after[d] = reach - x4.size(2 + d) - w.padding[d];
  }
  if (w.padding == std::array<int64_t, 2>{0, 0} && after == std::array<int64_t, 2>{0, 0}) {
    return x4;
  }
  return pad(x4, {w.padding[1], after[1], w.padding[0], after[0]}, value, site);
}

// The padded input's windows as [N, C, Ho, kh, Wo, kw] when they lie side by side (stride
// = kernel, dilation 1: PadToWindows leaves exactly Ho kh x Wo kw); undefined otherwise.
Tensor SideBySide(const Tensor& padded, const Window& w, const std::array<int64_t, 2>& out,
                  const CallSite& site) {
  if (w.stride != w.kernel || w.dilation != std::array<int64_t, 2>{1, 1}) return Tensor();
  return reshape(padded, {padded.size(0), padded.size(1), out[0], w.kernel[0], out[1], w.kernel[1]},
                 site);
}

// Calls fn(tap) with each kernel tap's [N, C, Ho, Wo] slice of the padded input, in
// row-major order of the taps: a strided slice, or an index into the windows side by side
// (whose gradient is a plain pad rather than a strided scatter).
template <typename Fn>
void ForEachTap(const Tensor& padded, const Window& w, const std::array<int64_t, 2>& out,
                const CallSite& site, Fn fn) {
  if (const Tensor windows = SideBySide(padded, w, out, site); windows.defined()) {
    for (int64_t i = 0; i < w.kernel[0]; ++i) {
      const Tensor rows = slice(windows, 3, i, i + 1, 1, site);
      for (int64_t j = 0; j < w.kernel[1]; ++j) {
        fn(reshape(slice(rows, 5, j, j + 1, 1, site),
                   {padded.size(0), padded.size(1), out[0], out[1]}, site));
      }
    }
    return;
  }
  const auto [sh, sw] = w.stride;
  const auto [dh, dw] = w.dilation;
  for (int64_t i = 0; i < w.kernel[0]; ++i) {
    const Tensor rows = slice(padded, 2, i * dh, i * dh + (out[0] - 1) * sh + 1, sh, site);
    for (int64_t j = 0; j < w.kernel[1]; ++j) {
      fn(slice(rows, 3, j * dw, j * dw + (out[1] - 1) * sw + 1, sw, site));
    }
  }
}

// avg_pool2d's divisor along one dimension of `size` for each of its `out` windows, as
// torch's: the window's extent clipped to the right padding (count_include_pad) or to the
// input, as an [out] tensor of x's dtype on x's backend.
Tensor WindowCounts(const Tensor& x, int64_t size, int64_t out, int64_t kernel, int64_t stride,
                    int64_t padding, bool count_include_pad, const CallSite& site) {
  const Tensor start =
      sub(mul(internal::ArangeTensor(out, DType::kI64, x, site), stride, site), padding, site);
  const Tensor end = minimum(add(start, kernel, site), size + padding, site);
  const Tensor count = count_include_pad
                           ? sub(end, start, site)
                           : sub(minimum(end, size, site), maximum(start, 0, site), site);
  return cast(count, x.dtype(), site);
}

// An [out, size] matrix whose row o averages elements floor(o size / out) ..
// ceil((o + 1) size / out) - 1, as adaptive pooling's windows; x's dtype and backend.
Tensor AveragingMatrix(const Tensor& x, int64_t size, int64_t out, const CallSite& site) {
  const Tensor o = unsqueeze(internal::ArangeTensor(out, DType::kI64, x, site), 1, site);
  const Tensor scaled_i = mul(internal::ArangeTensor(size, DType::kI64, x, site), out, site);
  // i >= floor(o size / out)  <=>  i out + out > o size;  i < ceil((o + 1) size / out)
  // <=>  i out < (o + 1) size: no division, so exact for any size.
  const Tensor from = gt(add(scaled_i, out, site), mul(o, size, site), site);
  const Tensor to = lt(scaled_i, mul(add(o, 1, site), size, site), site);
  const Tensor in_window = cast(logical_and(from, to, site), x.dtype(), site);
  return div(in_window, sum(in_window, {1}, /*keepdim=*/true, site), site);
}

}  // namespace

Tensor max_pool2d(const Tensor& x, std::array<int64_t, 2> kernel_size,
                  const MaxPool2dOptions& options, CallSite site) {
  constexpr std::string_view kOp = "max_pool2d";
  CheckInput(kOp, x);
  const Window w = {kernel_size, options.stride.value_or(kernel_size), options.padding,
                    options.dilation, options.ceil_mode};
  const std::array<int64_t, 2> out = OutputSize(kOp, x, w);
  const Tensor x4 = Batched(x, site);
  const Tensor padded = PadToWindows(x4, w, out, -std::numeric_limits<double>::infinity(), site);
  // The running maximum takes a tap only when it is larger (or NaN): ties keep the first
  // maximum, so only that one receives the gradient, as torch's.
  Tensor y;
  ForEachTap(padded, w, out, site, [&](const Tensor& tap) {
    y = y.defined() ? where(logical_or(gt(tap, y, site), isnan(tap, site), site), tap, y, site)
                    : tap;
  });
  return AsInput(y, x, site);
}

Tensor avg_pool2d(const Tensor& x, std::array<int64_t, 2> kernel_size,
                  const AvgPool2dOptions& options, CallSite site) {
  constexpr std::string_view kOp = "avg_pool2d";
  CheckInput(kOp, x);
  const Window w = {kernel_size,
                    options.stride.value_or(kernel_size),
                    options.padding,
                    {1, 1},
                    options.ceil_mode};
  const std::array<int64_t, 2> out = OutputSize(kOp, x, w);
  if (options.divisor_override == 0) {
    ThrowOpError(kOp, ": divisor_override must not be 0 (input ", x.shape().ToString(), ")");
  }
  const Tensor x4 = Batched(x, site);
  const Tensor padded = PadToWindows(x4, w, out, 0.0, site);
  Tensor total;
  if (const Tensor windows = SideBySide(padded, w, out, site); windows.defined()) {
    total = sum(windows, {3, 5}, /*keepdim=*/false, site);
  } else {
    ForEachTap(padded, w, out, site,
               [&](const Tensor& tap) { total = total.defined() ? add(total, tap, site) : tap; });
  }
  if (options.divisor_override)
    return AsInput(div(total, *options.divisor_override, site), x, site);
  // Every window counts kernel elements unless ceil_mode's last ones reach past the
  // padding, or the padding is not counted.
  bool uniform = true;
  for (int d = 0; d < 2; ++d) {
    const int64_t reach = (out[d] - 1) * w.stride[d] + w.kernel[d];
    uniform &= reach <= x4.size(2 + d) + 2 * w.padding[d] &&
               (options.count_include_pad || w.padding[d] == 0);
  }
  if (uniform) return AsInput(div(total, kernel_size[0] * kernel_size[1], site), x, site);
  const auto counts = [&](int d) {
    return WindowCounts(x4, x4.size(2 + d), out[d], w.kernel[d], w.stride[d], w.padding[d],
                        options.count_include_pad, site);
  };
  const Tensor divisor = mul(unsqueeze(counts(0), 1, site), counts(1), site);
  return AsInput(div(total, divisor, site), x, site);
}

Tensor adaptive_avg_pool2d(const Tensor& x, std::array<int64_t, 2> output_size, CallSite site) {
  constexpr std::string_view kOp = "adaptive_avg_pool2d";
  CheckInput(kOp, x);
  const auto [ho, wo] = output_size;
  if (ho <= 0 || wo <= 0) {
    ThrowOpError(kOp, ": expected output sizes > 0, got ", Pair(output_size), " (input ",
                 x.shape().ToString(), ")");
  }
  const Tensor x4 = Batched(x, site);
  const int64_t n = x4.size(0), c = x4.size(1), h = x4.size(2), w = x4.size(3);
  if (h % ho == 0 && w % wo == 0) {  // windows side by side, each (h / ho) x (w / wo)
    return AsInput(mean(reshape(x4, {n, c, ho, h / ho, wo, w / wo}, site), {3, 5}, false, site), x,
                   site);
  }
  const Tensor rows = matmul(AveragingMatrix(x4, h, ho, site), x4, site);
  return AsInput(matmul(rows, transpose(AveragingMatrix(x4, w, wo, site), 0, 1, site), site), x,
                 site);
}

MaxPool2d::MaxPool2d(std::array<int64_t, 2> kernel_size, MaxPool2dOptions options)
    : Module("MaxPool2d"), kernel_size_(kernel_size), options_(options) {}

Tensor MaxPool2d::forward(const Tensor& x, CallSite site) const {
  return max_pool2d(x, kernel_size_, options_, site);
}

AvgPool2d::AvgPool2d(std::array<int64_t, 2> kernel_size, AvgPool2dOptions options)
    : Module("AvgPool2d"), kernel_size_(kernel_size), options_(options) {}

Tensor AvgPool2d::forward(const Tensor& x, CallSite site) const {
  return avg_pool2d(x, kernel_size_, options_, site);
}

AdaptiveAvgPool2d::AdaptiveAvgPool2d(std::array<int64_t, 2> output_size)
    : Module("AdaptiveAvgPool2d"), output_size_(output_size) {}

Tensor AdaptiveAvgPool2d::forward(const Tensor& x, CallSite site) const {
  return adaptive_avg_pool2d(x, output_size_, site);
}

}  // namespace kiln::nn
