#pragma once
// 2-D pooling (torch.nn.functional.max_pool2d / avg_pool2d / adaptive_avg_pool2d and the
// modules of the same names), built from strided slices, selects, sums and products, so
// autograd and every backend take them as they are.
//
//   Tensor y = nn::max_pool2d(x, {3, 3}, {.stride = {{2, 2}}, .padding = {1, 1}});  // ResNet stem
//   Tensor g = nn::adaptive_avg_pool2d(features, {1, 1});     // global average pooling
//   nn::AvgPool2d pool({2, 2});                               // stride = kernel
#include <array>
#include <cstdint>
#include <optional>

#include "lazy/nn_module.h"
#include "lazy/tensor.h"

namespace kiln::nn {

// Per spatial dimension (height, width), as torch's.
struct MaxPool2dOptions {
  std::optional<std::array<int64_t, 2>> stride;  // > 0; absent: the kernel size
  std::array<int64_t, 2> padding = {0, 0};       // >= 0, at most half the kernel; -inf
  std::array<int64_t, 2> dilation = {1, 1};      // > 0
  // Round the output size up: a last window that starts inside the input (or its left
  // padding) and runs past the right padding is kept.
  bool ceil_mode = false;
};

// x [N, C, H, W] (or [C, H, W]) -> [N, C, Ho, Wo], each output the largest element of its
// window, Ho = (H + 2 padding - dilation (kernel - 1) - 1) / stride + 1 (floor, or ceil
// with ceil_mode), likewise Wo. As torch's: a NaN in a window is its maximum, and the
// gradient goes to the window's first maximum (in row-major order) only, also on ties.
// Floating x.
Tensor max_pool2d(const Tensor& x, std::array<int64_t, 2> kernel_size,
                  const MaxPool2dOptions& options = {}, CallSite site = {});

struct AvgPool2dOptions {
  std::optional<std::array<int64_t, 2>> stride;  // > 0; absent: the kernel size
  std::array<int64_t, 2> padding = {0, 0};       // >= 0, at most half the kernel; zeros
  bool ceil_mode = false;                        // as MaxPool2dOptions::ceil_mode
  // Whether the padding counts in a window's divisor (it never does past the right
  // padding, where only ceil_mode's last windows reach).
  bool count_include_pad = true;
  std::optional<int64_t> divisor_override;  // != 0: every window's sum divided by it
};

// x [N, C, H, W] (or [C, H, W]) -> [N, C, Ho, Wo] (sizes as max_pool2d's with dilation 1),
// each output its window's sum over the window's size as torch's. Floating x.
Tensor avg_pool2d(const Tensor& x, std::array<int64_t, 2> kernel_size,
                  const AvgPool2dOptions& options = {}, CallSite site = {});

// x [N, C, H, W] (or [C, H, W]) -> [N, C, Ho, Wo]: output (i, j) the mean of rows
// floor(i H / Ho) .. ceil((i + 1) H / Ho) - 1 and the columns likewise, as torch's. A mean
// over a reshape when Ho divides H and Wo divides W (global pooling: {1, 1}), else a
// product with an averaging matrix on each side. Floating x; output sizes > 0.
Tensor adaptive_avg_pool2d(const Tensor& x, std::array<int64_t, 2> output_size, CallSite site = {});

class MaxPool2d : public Module {
 public:
  explicit MaxPool2d(std::array<int64_t, 2> kernel_size, MaxPool2dOptions options = {});
  Tensor forward(const Tensor& x, CallSite site = {}) const;

 private:
  std::array<int64_t, 2> kernel_size_;
  MaxPool2dOptions options_;
};

class AvgPool2d : public Module {
 public:
  explicit AvgPool2d(std::array<int64_t, 2> kernel_size, AvgPool2dOptions options = {});
  Tensor forward(const Tensor& x, CallSite site = {}) const;

 private:
  std::array<int64_t, 2> kernel_size_;
  AvgPool2dOptions options_;
};

class AdaptiveAvgPool2d : public Module {
 public:
  explicit AdaptiveAvgPool2d(std::array<int64_t, 2> output_size);
  Tensor forward(const Tensor& x, CallSite site = {}) const;

 private:
  std::array<int64_t, 2> output_size_;
};

}  // namespace kiln::nn
