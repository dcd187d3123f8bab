#include "lazy/composite_ops.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "lazy/ops.h"
#include "tests/lazy/op_test_util.h"

namespace kiln {
namespace {

using ::kiln::testing::ErrorOf;
using ::kiln::testing::Near;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(CompositeOpsTest, SoftmaxMatchesHandValues) {
  Tensor x = Tensor::from_vector<float>({1, 2, 3, 0, 0, 0}, {2, 3});
  std::vector<float> s = softmax(x, -1).to_vector<float>();
  // exp(1..3) / (e + e^2 + e^3); a constant row is uniform.
  EXPECT_THAT(s, Near({0.0900306f, 0.2447285f, 0.6652410f, 1 / 3.0f, 1 / 3.0f, 1 / 3.0f}));
  EXPECT_NEAR(s[0] + s[1] + s[2], 1.0f, 1e-6f);
  EXPECT_NEAR(s[3] + s[4] + s[5], 1.0f, 1e-6f);
  // Along dim 0 each column is (sigmoid(x), sigmoid(-x)).
  EXPECT_THAT(softmax(x, 0).to_vector<float>(),
              Near({0.7310586f, 0.8807971f, 0.9525741f, 0.2689414f, 0.1192029f, 0.0474259f}));
}

TEST(CompositeOpsTest, SoftmaxIsStableForLargeInputs) {
  Tensor big = Tensor::from_vector<float>({1000, 1000, 999}, {3});
  std::vector<float> s = softmax(big, 0).to_vector<float>();
  // e^1 / (2e + 1) and 1 / (2e + 1)
  EXPECT_THAT(s, Near({0.4223188f, 0.4223188f, 0.1553624f}));
  EXPECT_THAT(log_softmax(big, 0).to_vector<float>(),
              Near({-0.8619948f, -0.8619948f, -1.8619948f}, 1e-4f));
}

TEST(CompositeOpsTest, SoftmaxOfAFullyMaskedRowIsNaN) {
  const float inf = std::numeric_limits<float>::infinity();
  Tensor x = Tensor::from_vector<float>({-inf, -inf, 0, -inf}, {2, 2});
  std::vector<float> s = softmax(x, 1).to_vector<float>();
  EXPECT_TRUE(std::isnan(s[0]) && std::isnan(s[1]));
  EXPECT_THAT(std::vector<float>(s.begin() + 2, s.end()), ElementsAre(1.0f, 0.0f));
}

TEST(CompositeOpsTest, LogSoftmax) {
  Tensor x = Tensor::from_vector<float>({1, 2, 3}, {1, 3});
  EXPECT_THAT(log_softmax(x, 1).to_vector<float>(), Near({-2.4076060f, -1.4076060f, -0.4076060f}));
  // Integer input is computed in f32.
  Tensor i = Tensor::from_vector<int32_t>({1, 2, 3}, {3});
  EXPECT_EQ(log_softmax(i, 0).dtype(), DType::kF32);
  EXPECT_THAT(log_softmax(i, -1).to_vector<float>(), Near({-2.4076060f, -1.4076060f, -0.4076060f}));
  EXPECT_EQ(softmax(i, 0).dtype(), DType::kF32);
}

TEST(CompositeOpsTest, LayerNormOverTheLastDimension) {
  Tensor x = Tensor::from_vector<float>({1, 2, 3, 4, 2, 4, 6, 8}, {2, 4});
  Tensor y = layer_norm(x, Tensor(), Tensor());
  EXPECT_EQ(y.shape().ToString(), "f32[2,4]");
  // Row 1: mean 2.5, biased variance 1.25; row 2: mean 5, variance 5.
  EXPECT_THAT(y.to_vector<float>(), Near({-1.3416354f, -0.4472118f, 0.4472118f, 1.3416354f,
                                          -1.3416394f, -0.4472131f, 0.4472131f, 1.3416394f}));
  Tensor w = Tensor::from_vector<float>({1, 2, 0.5f, -1}, {4});
  Tensor b = Tensor::from_vector<float>({0, 1, 0, 0.5f}, {4});
  std::vector<float> affine = layer_norm(x, w, b).to_vector<float>();
  EXPECT_THAT(std::vector<float>(affine.begin(), affine.begin() + 4),
              Near({-1.3416354f, 0.1055764f, 0.2236059f, -0.8416354f}));
  // Bias alone, with a large eps: (x - 2.5) / sqrt(1.25 + 0.75) + 1.
  std::vector<float> with_eps =
      layer_norm(x, Tensor(), Tensor::from_vector<float>({1, 1, 1, 1}, {4}), 0.75)
          .to_vector<float>();
  EXPECT_THAT(std::vector<float>(with_eps.begin(), with_eps.begin() + 4),
              Near({1 - 1.5f / std::sqrt(2.0f), 1 - 0.5f / std::sqrt(2.0f),
                    1 + 0.5f / std::sqrt(2.0f), 1 + 1.5f / std::sqrt(2.0f)}));
}

TEST(CompositeOpsTest, LayerNormOverSeveralTrailingDimensions) {
  // [2, 2, 2] normalised over the last two dimensions with a [2, 2] weight.
  Tensor x = Tensor::from_vector<float>({1, 3, 2, 10, 0, -1, 5, 4}, {2, 2, 2});
  Tensor w = Tensor::from_vector<float>({1, 1, 1, 1}, {2, 2});
  EXPECT_THAT(layer_norm(x, w, Tensor()).to_vector<float>(),
              Near({-0.8485278f, -0.2828426f, -0.5656852f, 1.6970556f, -0.7844639f, -1.1766959f,
                    1.1766959f, 0.7844639f}));
}

TEST(CompositeOpsTest, GeluBothApproximations) {
  Tensor x = Tensor::from_vector<float>({-1, 0, 0.5f, 2, -3}, {5});
  // x * Phi(x)
  EXPECT_THAT(gelu(x).to_vector<float>(),
              Near({-0.1586553f, 0.0f, 0.3457312f, 1.9544997f, -0.0040497f}));
  // 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
  EXPECT_THAT(gelu(x, GeluApproximation::kTanh).to_vector<float>(),
              Near({-0.1588080f, 0.0f, 0.3457140f, 1.9545977f, -0.0036374f}));
  Tensor i = Tensor::from_vector<int32_t>({2}, {1});
  EXPECT_EQ(gelu(i).dtype(), DType::kF32);
  EXPECT_THAT(gelu(i).to_vector<float>(), Near({1.9544997f}));
}

TEST(CompositeOpsTest, CrossEntropy) {
  Tensor logits = Tensor::from_vector<float>({1, 2, 3, 1, 1, 1}, {2, 3});
  Tensor labels = Tensor::from_vector<int64_t>({2, 0}, {2});
  // -log_softmax([1,2,3])[2] = 0.4076060; a uniform row gives log(3).
  Tensor none = cross_entropy(logits, labels, Reduction::kNone);
  EXPECT_EQ(none.shape().ToString(), "f32[2]");
  EXPECT_THAT(none.to_vector<float>(), Near({0.4076060f, 1.0986123f}));
  EXPECT_NEAR(cross_entropy(logits, labels).item(), 0.7531091, 1e-5);
  EXPECT_NEAR(cross_entropy(logits, labels, Reduction::kSum).item(), 1.5062182, 1e-5);
  Tensor labels32 = Tensor::from_vector<int32_t>({0, 1}, {2});
  // -log_softmax([1,2,3])[0] = 2.4076060
  EXPECT_NEAR(cross_entropy(logits, labels32, Reduction::kSum).item(), 2.4076060 + 1.0986123, 1e-5);
}

TEST(CompositeOpsTest, Errors) {
  Tensor logits = Tensor::from_vector<float>({1, 2, 3, 1, 1, 1}, {2, 3});
  EXPECT_THAT(ErrorOf([&] {
                cross_entropy(logits, Tensor::from_vector<float>({0, 1}, {2}));
              }),
              HasSubstr("cross_entropy: expected i32 or i64 labels [N], got f32[2]"));
  EXPECT_THAT(ErrorOf([&] {
                cross_entropy(logits, Tensor::from_vector<int64_t>({0, 1, 2}, {3}));
              }),
              HasSubstr("cross_entropy: logits f32[2,3] and labels i64[3] disagree on N (2 vs 3)"));
  EXPECT_THAT(
      ErrorOf([&] { cross_entropy(reshape(logits, {6}), Tensor::from_vector<int64_t>({0}, {1})); }),
      HasSubstr("cross_entropy: expected floating logits [N, C], got f32[6]"));
  EXPECT_THAT(ErrorOf([&] {
                cross_entropy(logits, Tensor::from_vector<int64_t>({0, 1}, {2, 1}));
              }),
              HasSubstr("expected i32 or i64 labels [N], got i64[2,1]"));
  EXPECT_THAT(ErrorOf([&] { softmax(logits, 2); }),
              HasSubstr("softmax: dimension 2 is out of range for f32[2,3] (expected -2..1)"));
  EXPECT_THAT(
      ErrorOf([&] {
        layer_norm(logits, Tensor::from_vector<float>({1, 1}, {2}), Tensor());
      }),
      HasSubstr(
          "layer_norm: weight f32[2] must match the trailing dimensions of the input f32[2,3]"));
  EXPECT_THAT(ErrorOf([&] {
                layer_norm(logits, Tensor(), Tensor::from_vector<float>({1, 1}, {2}));
              }),
              HasSubstr("layer_norm: bias f32[2] must have the sizes [3]"));
  EXPECT_THAT(ErrorOf([] {
                layer_norm(Tensor::from_vector<int32_t>({1, 2}, {2}), Tensor(), Tensor());
              }),
              HasSubstr("layer_norm: expected a floating input, got i32[2]"));
  EXPECT_THAT(ErrorOf([] { gelu(Tensor()); }), HasSubstr("gelu: input is an undefined tensor"));
}

}  // namespace
}  // namespace kiln
