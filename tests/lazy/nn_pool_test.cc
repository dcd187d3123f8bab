// max_pool2d, avg_pool2d and adaptive_avg_pool2d against loops over every window written
// from torch's definitions, on fresh random data; max pooling's NaNs and ties; the modules.
#include "lazy/nn_pool.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "lazy/autograd.h"
#include "lazy/ops.h"
#include "lazy/tensor.h"

namespace kiln::nn {
namespace {

using ::testing::ElementsAre;

struct Pool {
  int64_t n, c, h, w;
  std::array<int64_t, 2> kernel, stride, padding, dilation = {1, 1};
  bool ceil_mode = false;
  bool count_include_pad = true;
  std::optional<int64_t> divisor_override;
};

std::string Describe(const Pool& p) {
  return absl::StrCat("input ", p.n, "x", p.c, "x", p.h, "x", p.w, " kernel ", p.kernel[0], "x",
                      p.kernel[1], " stride ", p.stride[0], ",", p.stride[1], " padding ",
                      p.padding[0], ",", p.padding[1], " dilation ", p.dilation[0], ",",
                      p.dilation[1], " ceil ", p.ceil_mode, " count_include_pad ",
                      p.count_include_pad, " divisor ", p.divisor_override.value_or(0));
}

std::vector<double> Random(int64_t count, std::mt19937& rng) {
  std::normal_distribution<double> normal;
  std::vector<double> v(count);
  for (double& x : v) x = normal(rng);
  return v;
}

// torch's output size along one dimension.
int64_t OutSize(int64_t in, int64_t k, int64_t s, int64_t p, int64_t d, bool ceil_mode) {
  int64_t out = (in + 2 * p - d * (k - 1) - 1 + (ceil_mode ? s - 1 : 0)) / s + 1;
  if (ceil_mode && (out - 1) * s >= in + p) --out;
  return out;
}

// For every output element, the flat input indices of its window's taps inside the
// input, in row-major tap order, and (for avg pooling) torch's divisor.
struct Windows {
  int64_t ho, wo;
  std::vector<std::vector<int64_t>> taps;
  std::vector<double> divisor;
};
Windows Enumerate(const Pool& p) {
  Windows win;
  win.ho = OutSize(p.h, p.kernel[0], p.stride[0], p.padding[0], p.dilation[0], p.ceil_mode);
  win.wo = OutSize(p.w, p.kernel[1], p.stride[1], p.padding[1], p.dilation[1], p.ceil_mode);
  for (int64_t plane = 0; plane < p.n * p.c; ++plane) {
    for (int64_t i = 0; i < win.ho; ++i) {
      for (int64_t j = 0; j < win.wo; ++j) {
        std::vector<int64_t> taps;
        const int64_t r0 = i * p.stride[0] - p.padding[0], q0 = j * p.stride[1] - p.padding[1];
        for (int64_t a = 0; a < p.kernel[0]; ++a) {
          for (int64_t b = 0; b < p.kernel[1]; ++b) {
            const int64_t r = r0 + a * p.dilation[0], q = q0 + b * p.dilation[1];
            if (r >= 0 && r < p.h && q >= 0 && q < p.w) taps.push_back((plane * p.h + r) * p.w + q);
          }
        }
        win.taps.push_back(taps);
        // As torch's avg_pool2d: the window clipped to the right padding, then to the input.
        const int64_t r1 = std::min(r0 + p.kernel[0], p.h + p.padding[0]);
        const int64_t q1 = std::min(q0 + p.kernel[1], p.w + p.padding[1]);
        const int64_t with_pad = (r1 - r0) * (q1 - q0);
        const int64_t inside = (std::min(r1, p.h) - std::max<int64_t>(r0, 0)) *
                               (std::min(q1, p.w) - std::max<int64_t>(q0, 0));
        win.divisor.push_back(p.divisor_override    ? *p.divisor_override
                              : p.count_include_pad ? with_pad
                                                    : inside);
      }
    }
  }
  return win;
}

void ExpectNear(const std::vector<double>& actual, const std::vector<double>& expected) {
  ASSERT_EQ(actual.size(), expected.size());
  for (size_t i = 0; i < actual.size(); ++i) {
    EXPECT_NEAR(actual[i], expected[i], 1e-12 * (1 + std::abs(expected[i]))) << "element " << i;
  }
}

TEST(NnPoolTest, MaxPoolIsTheLargestOfEveryWindow) {
  const std::vector<Pool> pools = {
      {2, 3, 6, 6, {2, 2}, {2, 2}, {0, 0}},
      {2, 3, 7, 7, {3, 3}, {2, 2}, {1, 1}},                // ResNet's stem
      {1, 2, 7, 8, {3, 2}, {1, 2}, {1, 1}},                // 3x2, unequal strides
      {1, 2, 9, 9, {3, 3}, {1, 1}, {1, 0}, {2, 2}},        // dilated
      {2, 2, 7, 7, {2, 2}, {2, 2}, {0, 0}, {1, 1}, true},  // ceil_mode: a last short window
      {1, 2, 8, 6, {3, 3}, {2, 2}, {1, 1}, {1, 1}, true},
      {1, 1, 5, 4, {5, 4}, {1, 1}, {0, 0}},  // one window
  };
  std::mt19937 rng(11);
  for (const Pool& p : pools) {
    SCOPED_TRACE(Describe(p));
    const std::vector<double> x = Random(p.n * p.c * p.h * p.w, rng);
    const Tensor y = max_pool2d(Tensor::from_vector<double>(x, {p.n, p.c, p.h, p.w}), p.kernel,
                                {.stride = p.stride,
                                 .padding = p.padding,
                                 .dilation = p.dilation,
                                 .ceil_mode = p.ceil_mode});
    const Windows win = Enumerate(p);
    EXPECT_THAT(y.sizes(), ElementsAre(p.n, p.c, win.ho, win.wo));
    std::vector<double> expected;
    for (const auto& taps : win.taps) {
      double m = -std::numeric_limits<double>::infinity();
      for (int64_t t : taps) m = std::max(m, x[t]);
      expected.push_back(m);
    }
    ExpectNear(y.to_vector<double>(), expected);
  }
}

TEST(NnPoolTest, AvgPoolDividesAsTorch) {
  const std::vector<Pool> pools = {
      {2, 3, 6, 6, {2, 2}, {2, 2}, {0, 0}},
      {2, 3, 7, 7, {3, 3}, {2, 2}, {1, 1}},                        // the padding counted
      {2, 3, 7, 7, {3, 3}, {2, 2}, {1, 1}, {1, 1}, false, false},  // ... or not
      {1, 2, 7, 8, {3, 2}, {1, 2}, {1, 1}, {1, 1}, false, false},
      {2, 2, 7, 7, {2, 2}, {2, 2}, {0, 0}, {1, 1}, true},  // ceil_mode: a last short window
      {1, 2, 8, 6, {3, 3}, {2, 2}, {1, 1}, {1, 1}, true},  // ... reaching past the padding
      {1, 2, 8, 6, {3, 3}, {2, 2}, {1, 1}, {1, 1}, true, false},
      {1, 2, 6, 6, {3, 3}, {2, 2}, {1, 1}, {1, 1}, false, true, 5},  // divisor_override
      {1, 1, 5, 4, {5, 4}, {1, 1}, {0, 0}},
  };
  std::mt19937 rng(12);
  for (const Pool& p : pools) {
    SCOPED_TRACE(Describe(p));
    const std::vector<double> x = Random(p.n * p.c * p.h * p.w, rng);
    const Tensor y = avg_pool2d(Tensor::from_vector<double>(x, {p.n, p.c, p.h, p.w}), p.kernel,
                                {.stride = p.stride,
                                 .padding = p.padding,
                                 .ceil_mode = p.ceil_mode,
                                 .count_include_pad = p.count_include_pad,
                                 .divisor_override = p.divisor_override});
    const Windows win = Enumerate(p);
    EXPECT_THAT(y.sizes(), ElementsAre(p.n, p.c, win.ho, win.wo));
    std::vector<double> expected;
    for (size_t o = 0; o < win.taps.size(); ++o) {
      double sum = 0;
      for (int64_t t : win.taps[o]) sum += x[t];
      expected.push_back(sum / win.divisor[o]);
    }
    ExpectNear(y.to_vector<double>(), expected);
  }
}

// torch's adaptive windows: rows floor(i H / Ho) .. ceil((i + 1) H / Ho) - 1, likewise
// columns.
TEST(NnPoolTest, AdaptiveAvgPoolAveragesTorchsWindows) {
  struct Case {
    int64_t n, c, h, w, ho, wo;
  };
  const std::vector<Case> cases = {
      {2, 3, 7, 5, 1, 1},  // global pooling
      {2, 3, 8, 6, 4, 3},  // windows side by side
      {2, 3, 7, 5, 3, 2},  // overlapping windows of two sizes
      {1, 2, 5, 7, 5, 7},  // the identity
      {1, 2, 3, 4, 5, 6},  // more outputs than inputs: windows repeat
      {1, 1, 10, 1, 4, 1},
  };
  std::mt19937 rng(13);
  for (const Case& cs : cases) {
    SCOPED_TRACE(absl::StrCat(cs.h, "x", cs.w, " -> ", cs.ho, "x", cs.wo));
    const std::vector<double> x = Random(cs.n * cs.c * cs.h * cs.w, rng);
    const Tensor y = adaptive_avg_pool2d(Tensor::from_vector<double>(x, {cs.n, cs.c, cs.h, cs.w}),
                                         {cs.ho, cs.wo});
    EXPECT_THAT(y.sizes(), ElementsAre(cs.n, cs.c, cs.ho, cs.wo));
    std::vector<double> expected;
    for (int64_t plane = 0; plane < cs.n * cs.c; ++plane) {
      for (int64_t i = 0; i < cs.ho; ++i) {
        for (int64_t j = 0; j < cs.wo; ++j) {
          const int64_t r0 = i * cs.h / cs.ho, r1 = ((i + 1) * cs.h + cs.ho - 1) / cs.ho;
          const int64_t q0 = j * cs.w / cs.wo, q1 = ((j + 1) * cs.w + cs.wo - 1) / cs.wo;
          double sum = 0;
          for (int64_t r = r0; r < r1; ++r) {
            for (int64_t q = q0; q < q1; ++q) sum += x[(plane * cs.h + r) * cs.w + q];
          }
          expected.push_back(sum / static_cast<double>((r1 - r0) * (q1 - q0)));
        }
      }
    }
    ExpectNear(y.to_vector<double>(), expected);
  }
}

// As torch's: a NaN is its window's maximum, and a tie sends the gradient to the first
// maximum in row-major order only.
TEST(NnPoolTest, MaxPoolPropagatesNaNAndGivesTiesToTheFirstMaximum) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const Tensor with_nan = Tensor::from_vector<double>({1, nan, 3, 0}, {1, 1, 2, 2});
  EXPECT_TRUE(std::isnan(max_pool2d(with_nan, {2, 2}).item()));
  // A NaN before the maximum in the window, and one after it.
  const Tensor nan_last = Tensor::from_vector<double>({1, 4, 3, nan}, {1, 1, 2, 2});
  EXPECT_TRUE(std::isnan(max_pool2d(nan_last, {2, 2}).item()));

  // Rows of rectified noise: many windows are all zeros.
  std::mt19937 rng(14);
  std::vector<double> values = Random(2 * 2 * 6 * 6, rng);
  for (double& v : values) v = std::max(v, 0.0);
  values[0] = values[1] = values[6] = 2.5;  // a tie of positive values, too
  const Tensor x = Tensor::from_vector<double>(values, {2, 2, 6, 6}).requires_grad_();
  const Pool p = {2, 2, 6, 6, {3, 3}, {2, 2}, {1, 1}};
  const Tensor y = max_pool2d(x, p.kernel, {.stride = p.stride, .padding = p.padding});
  const std::vector<double> g = Random(y.numel(), rng);
  sum(mul(y, Tensor::from_vector<double>(g, {2, 2, 3, 3}))).backward();
  std::vector<double> expected(values.size(), 0.0);
  const Windows win = Enumerate(p);
  for (size_t o = 0; o < win.taps.size(); ++o) {
    int64_t first = win.taps[o][0];
    for (int64_t t : win.taps[o]) first = values[t] > values[first] ? t : first;
    expected[first] += g[o];
  }
  EXPECT_EQ(x.grad().to_vector<double>(), expected);
}

TEST(NnPoolTest, UnbatchedInputsAndModules) {
  std::mt19937 rng(15);
  const Tensor x = Tensor::from_vector<double>(Random(2 * 3 * 7 * 6, rng), {2, 3, 7, 6});
  const Tensor first = squeeze(x.slice(0, 0, 1), 0);
  const auto expect_first = [&](const Tensor& batched, const Tensor& unbatched) {
    ASSERT_EQ(unbatched.dim(), 3);
    EXPECT_EQ(unbatched.to_vector<double>(),
              squeeze(batched.slice(0, 0, 1), 0).to_vector<double>());
  };
  MaxPool2d max({3, 3}, {.stride = {{2, 2}}, .padding = {1, 1}});
  AvgPool2d avg({2, 2});
  AdaptiveAvgPool2d adaptive({3, 2});
  expect_first(max.forward(x), max.forward(first));
  expect_first(avg.forward(x), avg.forward(first));
  expect_first(adaptive.forward(x), adaptive.forward(first));
  EXPECT_EQ(max.forward(x).to_vector<double>(),
            max_pool2d(x, {3, 3}, {.stride = {{2, 2}}, .padding = {1, 1}}).to_vector<double>());
  // Stride defaults to the kernel: windows side by side.
  EXPECT_THAT(avg.forward(x).sizes(), ElementsAre(2, 3, 3, 3));
  EXPECT_TRUE(max.parameters().empty());
  EXPECT_TRUE(adaptive.state_dict().empty());
}

}  // namespace
}  // namespace kiln::nn
