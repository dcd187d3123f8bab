#pragma once
// 2-D and 1-D convolution (torch.nn.functional.conv2d / conv1d and torch.nn.Conv2d /
// Conv1d), built from slices and matrix products, so autograd and every backend take them
// as they are.
//
//   nn::Conv2d conv(3, 64, {3, 3}, gen, {.padding = {1, 1}});
//   Tensor y = conv.forward(images);                       // [N, 3, H, W] -> [N, 64, H, W]
//   Tensor p = nn::conv2d(images, w, b, {.stride = {16, 16}});  // patch embedding
//   nn::Conv1d depthwise(64, 64, 4, gen, {.padding = 3, .groups = 64});
#include <array>
#include <cstdint>

#include "lazy/generator.h"
#include "lazy/nn_module.h"
#include "lazy/tensor.h"

namespace kiln::nn {

// Per spatial dimension (height, width), as torch's.
struct Conv2dOptions {
  std::array<int64_t, 2> stride = {1, 1};    // > 0
  std::array<int64_t, 2> padding = {0, 0};   // >= 0, zeros on both sides
  std::array<int64_t, 2> dilation = {1, 1};  // > 0: the spacing of the kernel's taps
  int64_t groups = 1;                        // divides the input and output channels
};

// x [N, C, H, W] (or [C, H, W]), weight [O, C / groups, kh, kw], bias [O] or undefined
// -> [N, O, Ho, Wo] with Ho = (H + 2 padding - dilation (kh - 1) - 1) / stride + 1 (floor),
// likewise Wo. Computed as matrix products per group in the output's layout: one per kernel
// tap with the tap's strided slice of the input, summed, or a single one when the stride is
// the kernel's size and the dilation 1 (patch embedding: the windows are a reshape of the
// input). Floating operands of one dtype.
Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias = Tensor(),
              const Conv2dOptions& options = {}, CallSite site = {});

struct Conv1dOptions {
  int64_t stride = 1;    // > 0
  int64_t padding = 0;   // >= 0, zeros on both sides
  int64_t dilation = 1;  // > 0
  int64_t groups = 1;    // divides the input and output channels
};

// x [N, C, L] (or [C, L]), weight [O, C / groups, k], bias [O] or undefined -> [N, O, Lo]
// with Lo = (L + 2 padding - dilation (k - 1) - 1) / stride + 1: conv2d of height 1.
Tensor conv1d(const Tensor& x, const Tensor& weight, const Tensor& bias = Tensor(),
              const Conv1dOptions& options = {}, CallSite site = {});

class Conv2d : public Module {
 public:
  // Parameters "weight" [out_channels, in_channels / groups, kh, kw] and, when `bias`,
  // "bias" [out_channels], both uniform in +-1 / sqrt(in_channels / groups * kh * kw) as
  // torch.nn.Conv2d's defaults, drawn from `gen`.
  Conv2d(int64_t in_channels, int64_t out_channels, std::array<int64_t, 2> kernel_size,
         Generator& gen, Conv2dOptions options = {}, bool bias = true);

  Tensor forward(const Tensor& x, CallSite site = {}) const;

  const Tensor& weight() const { return weight_; }
  // Undefined when constructed without bias.
  const Tensor& bias() const { return bias_; }
  const Conv2dOptions& options() const { return options_; }

 private:
  Conv2dOptions options_;
  Tensor weight_;
  Tensor bias_;
};

// Parameters "weight" [out_channels, in_channels / groups, kernel_size] and "bias" as
// Conv2d's, with fan_in = in_channels / groups * kernel_size.
class Conv1d : public Module {
 public:
  Conv1d(int64_t in_channels, int64_t out_channels, int64_t kernel_size, Generator& gen,
         Conv1dOptions options = {}, bool bias = true);

  Tensor forward(const Tensor& x, CallSite site = {}) const;

  const Tensor& weight() const { return weight_; }
  // Undefined when constructed without bias.
  const Tensor& bias() const { return bias_; }
  const Conv1dOptions& options() const { return options_; }

 private:
  Conv1dOptions options_;
  Tensor weight_;
  Tensor bias_;
};

}  // namespace kiln::nn
