// conv2d as matrix products per image and group, the output in its own layout [N, O, Ho Wo].
#include "lazy/nn_conv.h"

#include <cmath>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "lazy/creation.h"
#include "lazy/nn_init.h"
#include "lazy/op_utils.h"
#include "lazy/ops.h"

namespace kiln::nn {
namespace {

using internal::CheckOperand;
using internal::ThrowOpError;

// The convolution of x [N, C, Hp, Wp] (already padded) as [N, G, Og, Ho Wo].
//
// Windows side by side (stride = kernel, dilation 1: patch embedding) are a reshape of the
// input: one product [G, Og, Cg kh kw] x [N, G, Cg kh kw, Ho Wo].
//
// Otherwise one product per kernel tap (i, j), summed: [G, Og, Cg] x [N, G, Cg, Ho Wo]
// with the tap's strided slice of the input. (A single product over all taps would need
// them concatenated, which the fused kernel that builds it pays for with a select among
// every tap per element: twice as slow for 3x3 kernels.)
Tensor Convolve(const Tensor& x, const Tensor& weight, int64_t ho, int64_t wo,
                const Conv2dOptions& o, const CallSite& site) {
  const int64_t n = x.size(0), groups = o.groups, cg = x.size(1) / groups;
  const int64_t og = weight.size(0) / groups, kh = weight.size(2), kw = weight.size(3);
  const auto [sh, sw] = o.stride;
  const auto [dh, dw] = o.dilation;
  if (sh == kh && sw == kw && dh == 1 && dw == 1) {
    const Tensor used = slice(slice(x, 2, 0, ho * kh, 1, site), 3, 0, wo * kw, 1, site);
    const Tensor windows =
        permute(reshape(used, {n, groups, cg, ho, kh, wo, kw}, site), {0, 1, 2, 4, 6, 3, 5}, site);
    return matmul(reshape(weight, {groups, og, cg * kh * kw}, site),
                  reshape(windows, {n, groups, cg * kh * kw, ho * wo}, site), site);
  }
  Tensor sum;
  for (int64_t i = 0; i < kh; ++i) {
    const Tensor rows = slice(x, 2, i * dh, i * dh + (ho - 1) * sh + 1, sh, site);
    for (int64_t j = 0; j < kw; ++j) {
      const Tensor tap = slice(rows, 3, j * dw, j * dw + (wo - 1) * sw + 1, sw, site);
      const Tensor w = slice(slice(weight, 2, i, i + 1, 1, site), 3, j, j + 1, 1, site);
      const Tensor product = matmul(reshape(w, {groups, og, cg}, site),
                                    reshape(tap, {n, groups, cg, ho * wo}, site), site);
      sum = sum.defined() ? add(sum, product, site) : product;
    }
  }
  return sum;
}

}  // namespace

Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias,
              const Conv2dOptions& options, CallSite site) {
  CheckOperand("conv2d", x);
  CheckOperand("conv2d", weight, "weight");
  if (bias.defined()) CheckOperand("conv2d", bias, "bias");
  internal::CheckSameBackend("conv2d", {&x, &weight, &bias});
  const Shape& xs = x.shape();
  const Shape& ws = weight.shape();
  const auto fail = [&](const auto&... parts) {
    ThrowOpError("conv2d: ", parts..., " (input ", xs.ToString(), ", weight ", ws.ToString(),
                 bias.defined() ? absl::StrCat(", bias ", bias.shape().ToString()) : "", ")");
  };
  if (xs.rank() != 3 && xs.rank() != 4) fail("expected an input [N, C, H, W] or [C, H, W]");
  if (ws.rank() != 4) fail("expected a weight [out_channels, in_channels / groups, kh, kw]");
  if (!IsFloating(xs.dtype()) || ws.dtype() != xs.dtype() ||
      (bias.defined() && bias.dtype() != xs.dtype())) {
    fail("expected floating operands of one dtype");
  }
  const auto [sh, sw] = options.stride;
  const auto [ph, pw] = options.padding;
  const auto [dh, dw] = options.dilation;
  const int64_t groups = options.groups;
  if (sh <= 0 || sw <= 0 || dh <= 0 || dw <= 0 || ph < 0 || pw < 0 || groups <= 0) {
    fail("expected stride, dilation and groups > 0 and padding >= 0, got stride (", sh, ", ", sw,
         "), padding (", ph, ", ", pw, "), dilation (", dh, ", ", dw, "), groups ", groups);
  }
  const int64_t c = xs.size(xs.rank() - 3), out = ws.size(0), cg = ws.size(1);
  const int64_t kh = ws.size(2), kw = ws.size(3);
  if (cg * groups != c || out % groups != 0) {
    fail("the input's ", c, " channels in ", groups, " groups need a weight [k * ", groups, ", ",
         c / groups, ", kh, kw] (k > 0)");
  }
  if (out == 0 || kh == 0 || kw == 0) fail("the weight is empty");
  if (bias.defined() && (bias.dim() != 1 || bias.size(0) != out)) {
    fail("expected a bias [", out, "]");
  }
  const int64_t hp = xs.size(xs.rank() - 2) + 2 * ph, wp = xs.size(xs.rank() - 1) + 2 * pw;
  const int64_t reach_h = dh * (kh - 1) + 1, reach_w = dw * (kw - 1) + 1;
  if (reach_h > hp || reach_w > wp) {
    fail("the kernel spans ", reach_h, " x ", reach_w, ", more than the padded input's ", hp, " x ",
         wp);
  }
  const int64_t ho = (hp - reach_h) / sh + 1, wo = (wp - reach_w) / sw + 1;

  const Tensor batched = xs.rank() == 4 ? x : unsqueeze(x, 0, site);
  const Tensor padded = ph == 0 && pw == 0 ? batched : pad(batched, {pw, pw, ph, ph}, 0.0, site);
  Tensor y = reshape(Convolve(padded, weight, ho, wo, options, site),
                     {batched.size(0), out, ho, wo}, site);
  if (bias.defined()) y = add(y, reshape(bias, {out, 1, 1}, site), site);
  return xs.rank() == 4 ? y : squeeze(y, 0, site);
}

Conv2d::Conv2d(int64_t in_channels, int64_t out_channels, std::array<int64_t, 2> kernel_size,
               Generator& gen, Conv2dOptions options, bool bias)
    : Module("Conv2d"), options_(options) {
  const auto [kh, kw] = kernel_size;
  if (in_channels <= 0 || out_channels <= 0 || kh <= 0 || kw <= 0 || options.groups <= 0 ||
      in_channels % options.groups != 0 || out_channels % options.groups != 0) {
    ThrowOpError(
        "Conv2d: expected positive channels and kernel sizes, with groups dividing both "
        "channel counts; got in_channels ",
        in_channels, ", out_channels ", out_channels, ", kernel_size (", kh, ", ", kw, "), groups ",
        options.groups);
  }
  const int64_t fan_in = in_channels / options.groups * kh * kw;
  const double bound = 1 / std::sqrt(static_cast<double>(fan_in));
  weight_ = register_parameter(
      "weight", init::uniform_(zeros({out_channels, in_channels / options.groups, kh, kw}), -bound,
                               bound, gen));
  if (bias) {
    bias_ = register_parameter("bias", init::uniform_(zeros({out_channels}), -bound, bound, gen));
  }
}

Tensor Conv2d::forward(const Tensor& x, CallSite site) const {
  return conv2d(x, weight_, bias_, options_, site);
}

}  // namespace kiln::nn
