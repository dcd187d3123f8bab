// conv2d against the definition (a loop over every output and kernel tap) on fresh random
// data, and the Conv2d module's parameters.
#include "lazy/nn_conv.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "lazy/generator.h"
#include "lazy/ops.h"
#include "lazy/tensor.h"

namespace kiln::nn {
namespace {

using ::testing::ElementsAre;
using ::testing::ElementsAreArray;

struct Conv {
  int64_t n, c, h, w;  // input
  int64_t out, kh, kw;
  Conv2dOptions options;
  bool bias = true;
};

std::vector<double> Random(int64_t count, std::mt19937& rng) {
  std::normal_distribution<double> normal;
  std::vector<double> v(count);
  for (double& x : v) x = normal(rng);
  return v;
}

// y[n][o][i][j] = b[o] + sum over c of group(o), a, b of
//   x[n][c][i s - p + a d][j s - p + b d] w[o][c - first channel of the group][a][b],
// taps outside the input reading 0.
std::vector<double> LoopConv(const Conv& cv, int64_t ho, int64_t wo, const std::vector<double>& x,
                             const std::vector<double>& w, const std::vector<double>& b) {
  const Conv2dOptions& o = cv.options;
  const int64_t cg = cv.c / o.groups, og = cv.out / o.groups;
  std::vector<double> y;
  for (int64_t n = 0; n < cv.n; ++n) {
    for (int64_t oc = 0; oc < cv.out; ++oc) {
      for (int64_t i = 0; i < ho; ++i) {
        for (int64_t j = 0; j < wo; ++j) {
          double acc = cv.bias ? b[oc] : 0.0;
          for (int64_t ci = 0; ci < cg; ++ci) {
            const int64_t c = oc / og * cg + ci;
            for (int64_t a = 0; a < cv.kh; ++a) {
              for (int64_t bb = 0; bb < cv.kw; ++bb) {
                const int64_t r = i * o.stride[0] - o.padding[0] + a * o.dilation[0];
                const int64_t q = j * o.stride[1] - o.padding[1] + bb * o.dilation[1];
                if (r < 0 || r >= cv.h || q < 0 || q >= cv.w) continue;
                acc += x[((n * cv.c + c) * cv.h + r) * cv.w + q] *
                       w[((oc * cg + ci) * cv.kh + a) * cv.kw + bb];
              }
            }
          }
          y.push_back(acc);
        }
      }
    }
  }
  return y;
}

// `actual` matches the first actual.size() elements of `expected`.
void ExpectPrefixNear(const std::vector<double>& actual, const std::vector<double>& expected) {
  ASSERT_LE(actual.size(), expected.size());
  for (size_t i = 0; i < actual.size(); ++i) {
    EXPECT_NEAR(actual[i], expected[i], 1e-12 * (1 + std::abs(expected[i]))) << "element " << i;
  }
}

TEST(NnConv2dTest, EqualsTheLoopOverEveryTap) {
  const std::vector<Conv> convs = {
      {2, 3, 7, 6, 4, 3, 3, {}},                                     // valid, stride 1
      {2, 3, 7, 6, 4, 3, 3, {.padding = {1, 1}}},                    // same size
      {1, 2, 9, 8, 3, 3, 2, {.stride = {2, 3}, .padding = {1, 0}}},  // strides and a 3x2 kernel
      {1, 2, 9, 9, 2, 3, 3, {.padding = {2, 2}, .dilation = {2, 2}}},
      {2, 4, 6, 5, 6, 3, 3, {.padding = {1, 1}, .groups = 2}},
      {1, 4, 5, 5, 4, 3, 3, {.stride = {2, 2}, .padding = {1, 1}, .groups = 4}},  // depthwise
      {2, 3, 8, 8, 5, 1, 1, {}, false},                                           // 1x1
      {2, 3, 8, 12, 6, 4, 4, {.stride = {4, 4}}},                    // patch embedding: one reshape
      {1, 3, 10, 9, 2, 4, 4, {.stride = {4, 4}}},                    // ... with ragged edges
      {1, 2, 6, 6, 2, 2, 2, {.stride = {2, 2}, .padding = {1, 1}}},  // ... padded
      {1, 1, 3, 3, 1, 3, 3, {}},                                     // one output
  };
  std::mt19937 rng(3);
  for (const Conv& cv : convs) {
    const Conv2dOptions& o = cv.options;
    SCOPED_TRACE(absl::StrCat("input ", cv.n, "x", cv.c, "x", cv.h, "x", cv.w, " kernel ", cv.kh,
                              "x", cv.kw, " stride ", o.stride[0], ",", o.stride[1], " padding ",
                              o.padding[0], ",", o.padding[1], " dilation ", o.dilation[0], ",",
                              o.dilation[1], " groups ", o.groups));
    const std::vector<double> x = Random(cv.n * cv.c * cv.h * cv.w, rng);
    const std::vector<double> w = Random(cv.out * cv.c / o.groups * cv.kh * cv.kw, rng);
    const std::vector<double> b = Random(cv.out, rng);
    const int64_t ho =
        (cv.h + 2 * o.padding[0] - o.dilation[0] * (cv.kh - 1) - 1) / o.stride[0] + 1;
    const int64_t wo =
        (cv.w + 2 * o.padding[1] - o.dilation[1] * (cv.kw - 1) - 1) / o.stride[1] + 1;
    const Tensor y = conv2d(Tensor::from_vector<double>(x, {cv.n, cv.c, cv.h, cv.w}),
                            Tensor::from_vector<double>(w, {cv.out, cv.c / o.groups, cv.kh, cv.kw}),
                            cv.bias ? Tensor::from_vector<double>(b, {cv.out}) : Tensor(), o);
    EXPECT_THAT(y.sizes(), ElementsAre(cv.n, cv.out, ho, wo));
    const std::vector<double> expected = LoopConv(cv, ho, wo, x, w, b);
    const std::vector<double> actual = y.to_vector<double>();
    ASSERT_EQ(actual.size(), expected.size());
    for (size_t i = 0; i < actual.size(); ++i) {
      EXPECT_NEAR(actual[i], expected[i], 1e-12 * (1 + std::abs(expected[i]))) << "element " << i;
    }
  }
}

// conv1d is conv2d of height 1: checked against the same loop.
TEST(NnConv1dTest, EqualsTheLoopOverEveryTap) {
  const std::vector<std::pair<Conv, Conv1dOptions>> convs = {
      {{2, 3, 1, 11, 4, 1, 3, {}}, {.padding = 1}},
      {{2, 3, 1, 11, 4, 1, 3, {}}, {.stride = 2}},
      {{1, 2, 1, 12, 3, 1, 3, {}}, {.padding = 2, .dilation = 2}},
      {{2, 4, 1, 9, 4, 1, 4, {}}, {.padding = 3, .groups = 4}},  // depthwise
      {{2, 3, 1, 13, 5, 1, 4, {}}, {.stride = 4}},               // side by side
  };
  std::mt19937 rng(8);
  for (auto [cv, o1] : convs) {
    SCOPED_TRACE(absl::StrCat("k ", cv.kw, " stride ", o1.stride, " padding ", o1.padding,
                              " dilation ", o1.dilation, " groups ", o1.groups));
    cv.options = {.stride = {1, o1.stride},
                  .padding = {0, o1.padding},
                  .dilation = {1, o1.dilation},
                  .groups = o1.groups};
    const std::vector<double> x = Random(cv.n * cv.c * cv.w, rng);
    const std::vector<double> w = Random(cv.out * cv.c / o1.groups * cv.kw, rng);
    const std::vector<double> b = Random(cv.out, rng);
    const int64_t lo = (cv.w + 2 * o1.padding - o1.dilation * (cv.kw - 1) - 1) / o1.stride + 1;
    const Tensor y = conv1d(Tensor::from_vector<double>(x, {cv.n, cv.c, cv.w}),
                            Tensor::from_vector<double>(w, {cv.out, cv.c / o1.groups, cv.kw}),
                            Tensor::from_vector<double>(b, {cv.out}), o1);
    EXPECT_THAT(y.sizes(), ElementsAre(cv.n, cv.out, lo));
    const std::vector<double> expected = LoopConv(cv, 1, lo, x, w, b);
    const std::vector<double> actual = y.to_vector<double>();
    ASSERT_EQ(actual.size(), expected.size());
    for (size_t i = 0; i < actual.size(); ++i) {
      EXPECT_NEAR(actual[i], expected[i], 1e-12 * (1 + std::abs(expected[i]))) << "element " << i;
    }
    // An unbatched input: the same numbers for the first sample.
    const Tensor first = conv1d(
        Tensor::from_vector<double>(x, {cv.n, cv.c, cv.w}).slice(0, 0, 1).reshape({cv.c, cv.w}),
        Tensor::from_vector<double>(w, {cv.out, cv.c / o1.groups, cv.kw}),
        Tensor::from_vector<double>(b, {cv.out}), o1);
    EXPECT_THAT(first.sizes(), ElementsAre(cv.out, lo));
    ExpectPrefixNear(first.to_vector<double>(), expected);
  }
}

TEST(NnConv2dTest, AnUnbatchedInputGivesAnUnbatchedOutput) {
  std::mt19937 rng(4);
  const Tensor x = Tensor::from_vector<float>(std::vector<float>(2 * 5 * 5, 0.5f), {2, 5, 5});
  const std::vector<double> w = Random(3 * 2 * 3 * 3, rng);
  const Tensor weight = Tensor::from_vector<double>(w, {3, 2, 3, 3}).to(DType::kF32);
  const Tensor y = conv2d(x, weight, Tensor(), {.padding = {1, 1}});
  EXPECT_THAT(y.sizes(), ElementsAre(3, 5, 5));
  EXPECT_EQ(y.to_vector<float>(),
            squeeze(conv2d(unsqueeze(x, 0), weight, Tensor(), {.padding = {1, 1}}), 0)
                .to_vector<float>());
}

TEST(NnConv2dTest, ModuleParametersAsTorch) {
  Generator gen(5);
  Conv2d conv(4, 6, {3, 2}, gen, {.stride = {2, 2}, .groups = 2});
  EXPECT_EQ(conv.weight().shape().ToString(), "f32[6,2,3,2]");
  EXPECT_EQ(conv.bias().shape().ToString(), "f32[6]");
  EXPECT_EQ(conv.named_parameters().size(), 2u);
  // torch.nn.Conv2d's default: uniform in +-1 / sqrt(fan_in), fan_in = 2 * 3 * 2.
  const double bound = 1 / std::sqrt(12.0);
  std::vector<float> w = conv.weight().to_vector<float>();
  double lowest = 1, highest = -1;
  for (float v : w) lowest = std::min<double>(lowest, v), highest = std::max<double>(highest, v);
  EXPECT_GE(lowest, -bound);
  EXPECT_LT(highest, bound);
  EXPECT_LT(lowest, -bound / 2);  // 72 draws spread over the interval
  EXPECT_GT(highest, bound / 2);
  for (float v : conv.bias().to_vector<float>()) EXPECT_LT(std::abs(v), bound);
  const Tensor x =
      Tensor::from_vector<float>(std::vector<float>(2 * 4 * 7 * 6, 1.0f), {2, 4, 7, 6});
  EXPECT_EQ(conv.forward(x).shape().ToString(), "f32[2,6,3,3]");
  EXPECT_FALSE(Conv2d(3, 3, {1, 1}, gen, {}, /*bias=*/false).bias().defined());
}

TEST(NnConv1dTest, ModuleParametersAsTorch) {
  Generator gen(6);
  Conv1d conv(4, 8, 5, gen, {.padding = 2, .groups = 4});
  EXPECT_EQ(conv.weight().shape().ToString(), "f32[8,1,5]");
  EXPECT_EQ(conv.bias().shape().ToString(), "f32[8]");
  const double bound = 1 / std::sqrt(5.0);  // fan_in = 1 * 5
  for (float v : conv.weight().to_vector<float>()) EXPECT_LT(std::abs(v), bound);
  const Tensor x = Tensor::from_vector<float>(std::vector<float>(2 * 4 * 9, 1.0f), {2, 4, 9});
  EXPECT_EQ(conv.forward(x).shape().ToString(), "f32[2,8,9]");
}

}  // namespace
}  // namespace kiln::nn
