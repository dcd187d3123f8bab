// conv2d and conv1d (a 2-D convolution of height 1) as matrix products per image and group,
// the output in its own layout [N, O, Ho Wo].
#include "lazy/nn_conv.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <string>
#include <string_view>
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

// A convolution over the last `spatial` (1 or 2) dimensions, in conv2d's terms: a 1-D one
// is a 2-D one of height 1 (stride 1, padding 0, dilation 1 along the height).
struct Convolution {
  std::string_view op;
  int spatial;
  Conv2dOptions options;
};

// "(a, b)" in 2-D, "b" in 1-D.
std::string Sizes(const Convolution& conv, const std::array<int64_t, 2>& v) {
  return conv.spatial == 2 ? absl::StrCat("(", v[0], ", ", v[1], ")") : absl::StrCat(v[1]);
}

// Throws unless x, weight and bias fit `conv`; returns the output's (Ho, Wo).
std::array<int64_t, 2> CheckOperands(const Convolution& conv, const Tensor& x, const Tensor& weight,
                                     const Tensor& bias) {
  CheckOperand(conv.op, x);
  CheckOperand(conv.op, weight, "weight");
  if (bias.defined()) CheckOperand(conv.op, bias, "bias");
  internal::CheckSameBackend(conv.op, {&x, &weight, &bias});
  const Shape& xs = x.shape();
  const Shape& ws = weight.shape();
  const auto fail = [&](const auto&... parts) {
    ThrowOpError(conv.op, ": ", parts..., " (input ", xs.ToString(), ", weight ", ws.ToString(),
                 bias.defined() ? absl::StrCat(", bias ", bias.shape().ToString()) : "", ")");
  };
  const bool two = conv.spatial == 2;
  if (xs.rank() != conv.spatial + 1 && xs.rank() != conv.spatial + 2) {
    fail("expected an input ", two ? "[N, C, H, W] or [C, H, W]" : "[N, C, L] or [C, L]");
  }
  if (ws.rank() != conv.spatial + 2) {
    fail("expected a weight [out_channels, in_channels / groups, ", two ? "kh, kw]" : "k]");
  }
  if (!IsFloating(xs.dtype()) || ws.dtype() != xs.dtype() ||
      (bias.defined() && bias.dtype() != xs.dtype())) {
    fail("expected floating operands of one dtype");
  }
  const Conv2dOptions& o = conv.options;
  const auto [sh, sw] = o.stride;
  const auto [ph, pw] = o.padding;
  const auto [dh, dw] = o.dilation;
  if (sh <= 0 || sw <= 0 || dh <= 0 || dw <= 0 || ph < 0 || pw < 0 || o.groups <= 0) {
    fail("expected stride, dilation and groups > 0 and padding >= 0, got stride ",
         Sizes(conv, o.stride), ", padding ", Sizes(conv, o.padding), ", dilation ",
         Sizes(conv, o.dilation), ", groups ", o.groups);
  }
  const int64_t c = xs.size(xs.rank() - conv.spatial - 1), out = ws.size(0);
  if (ws.size(1) * o.groups != c || out % o.groups != 0) {
    fail("the input's ", c, " channels in ", o.groups, " groups need a weight [out_channels, ",
         c / o.groups, ", ...] with out_channels a multiple of ", o.groups);
  }
  const int64_t kh = two ? ws.size(2) : 1, kw = ws.size(ws.rank() - 1);
  if (out == 0 || kh == 0 || kw == 0) fail("the weight is empty");
  if (bias.defined() && (bias.dim() != 1 || bias.size(0) != out)) {
    fail("expected a bias [", out, "]");
  }
  const int64_t hp = (two ? xs.size(xs.rank() - 2) : 1) + 2 * ph;
  const int64_t wp = xs.size(xs.rank() - 1) + 2 * pw;
  const int64_t reach_h = dh * (kh - 1) + 1, reach_w = dw * (kw - 1) + 1;
  if (reach_h > hp || reach_w > wp) {
    const auto extent = [&](int64_t h, int64_t w) {
      return two ? absl::StrCat(h, " x ", w) : absl::StrCat(w);
    };
    fail("the kernel spans ", extent(reach_h, reach_w), ", more than the padded input's ",
         extent(hp, wp));
  }
  return {(hp - reach_h) / sh + 1, (wp - reach_w) / sw + 1};
}

Tensor Run(const Convolution& conv, const Tensor& x, const Tensor& weight, const Tensor& bias,
           const CallSite& site) {
  const auto [ho, wo] = CheckOperands(conv, x, weight, bias);
  // In 2-D terms: x [N, C, H, W], weight [O, Cg, kh, kw].
  const bool batched = x.dim() == conv.spatial + 2;
  Tensor x4 = batched ? x : unsqueeze(x, 0, site);
  Tensor w4 = weight;
  if (conv.spatial == 1) {
    x4 = unsqueeze(x4, 2, site);
    w4 = unsqueeze(weight, 2, site);
  }
  const auto [ph, pw] = conv.options.padding;
  if (ph > 0 || pw > 0) x4 = pad(x4, {pw, pw, ph, ph}, 0.0, site);
  const int64_t n = x4.size(0), out = weight.size(0);
  Tensor y = reshape(Convolve(x4, w4, ho, wo, conv.options, site), {n, out, ho, wo}, site);
  if (bias.defined()) y = add(y, reshape(bias, {out, 1, 1}, site), site);
  // Back to the input's terms.
  std::vector<int64_t> sizes = {n, out, ho, wo};
  if (conv.spatial == 1) sizes.erase(sizes.begin() + 2);
  if (!batched) sizes.erase(sizes.begin());
  return sizes.size() == 4 ? y : reshape(y, sizes, site);
}

// A module's weight [out, in / groups, kernel...] and bias [out] (undefined without one),
// uniform in +-1 / sqrt(in / groups * kernel elements) as torch's defaults.
struct Parameters {
  Tensor weight, bias;
};
Parameters DefaultParameters(std::string_view type, int64_t in, int64_t out,
                             const std::vector<int64_t>& kernel, int64_t groups, bool bias,
                             Generator& gen) {
  int64_t taps = 1;
  for (int64_t k : kernel) taps *= std::max<int64_t>(k, 0);
  if (in <= 0 || out <= 0 || taps == 0 || groups <= 0 || in % groups != 0 || out % groups != 0) {
    ThrowOpError(type,
                 ": expected positive channels and kernel sizes, with groups dividing both "
                 "channel counts; got in_channels ",
                 in, ", out_channels ", out, ", kernel_size ",
                 kernel.size() == 1 ? absl::StrCat(kernel[0])
                                    : absl::StrCat("(", kernel[0], ", ", kernel[1], ")"),
                 ", groups ", groups);
  }
  const double bound = 1 / std::sqrt(static_cast<double>(in / groups * taps));
  std::vector<int64_t> sizes = {out, in / groups};
  sizes.insert(sizes.end(), kernel.begin(), kernel.end());
  Parameters p;
  p.weight = init::uniform_(zeros(sizes), -bound, bound, gen);
  if (bias) p.bias = init::uniform_(zeros({out}), -bound, bound, gen);
  return p;
}

}  // namespace

Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias,
              const Conv2dOptions& options, CallSite site) {
  return Run({"conv2d", 2, options}, x, weight, bias, site);
}

Tensor conv1d(const Tensor& x, const Tensor& weight, const Tensor& bias,
              const Conv1dOptions& options, CallSite site) {
  const Conv2dOptions in_2d = {.stride = {1, options.stride},
                               .padding = {0, options.padding},
                               .dilation = {1, options.dilation},
                               .groups = options.groups};
  return Run({"conv1d", 1, in_2d}, x, weight, bias, site);
}

Conv2d::Conv2d(int64_t in_channels, int64_t out_channels, std::array<int64_t, 2> kernel_size,
               Generator& gen, Conv2dOptions options, bool bias)
    : Module("Conv2d"), options_(options) {
  Parameters p = DefaultParameters("Conv2d", in_channels, out_channels,
                                   {kernel_size[0], kernel_size[1]}, options.groups, bias, gen);
  weight_ = register_parameter("weight", p.weight);
  if (bias) bias_ = register_parameter("bias", p.bias);
}

Tensor Conv2d::forward(const Tensor& x, CallSite site) const {
  return conv2d(x, weight_, bias_, options_, site);
}

Conv1d::Conv1d(int64_t in_channels, int64_t out_channels, int64_t kernel_size, Generator& gen,
               Conv1dOptions options, bool bias)
    : Module("Conv1d"), options_(options) {
  Parameters p = DefaultParameters("Conv1d", in_channels, out_channels, {kernel_size},
                                   options.groups, bias, gen);
  weight_ = register_parameter("weight", p.weight);
  if (bias) bias_ = register_parameter("bias", p.bias);
}

Tensor Conv1d::forward(const Tensor& x, CallSite site) const {
  return conv1d(x, weight_, bias_, options_, site);
}

}  // namespace kiln::nn
