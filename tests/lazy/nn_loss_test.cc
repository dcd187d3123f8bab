// nn::cross_entropy with per-sample weights and the elementwise losses, against values
// computed in the test.
#include "lazy/nn_loss.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "lazy/creation.h"
#include "lazy/generator.h"
#include "lazy/ops.h"
#include "tests/lazy/op_test_util.h"

namespace kiln::nn {
namespace {

using ::kiln::testing::ErrorOf;
using ::kiln::testing::Near;
using ::testing::Each;
using ::testing::HasSubstr;

// -log softmax(logits[r])[labels[r]] for logits [N, C], in double.
std::vector<double> RefNll(const std::vector<float>& logits, const std::vector<int64_t>& labels,
                           int64_t classes) {
  std::vector<double> nll;
  for (size_t r = 0; r < labels.size(); ++r) {
    double best = logits[r * classes];
    for (int64_t c = 1; c < classes; ++c) best = std::max(best, double{logits[r * classes + c]});
    double total = 0;
    for (int64_t c = 0; c < classes; ++c) total += std::exp(logits[r * classes + c] - best);
    nll.push_back(-(logits[r * classes + labels[r]] - best - std::log(total)));
  }
  return nll;
}

TEST(NnLossTest, WeightedCrossEntropyReductions) {
  Generator gen(1);
  Tensor logits = mul(randn({4, 5}, gen), 2.0);
  const std::vector<int64_t> label_values = {3, 0, 4, 1};
  Tensor labels = Tensor::from_vector<int64_t>(label_values, {4});
  const std::vector<float> w = {1.0f, 0.0f, 2.0f, 0.5f};
  Tensor weights = Tensor::from_vector<float>(w, {4});
  const std::vector<double> nll = RefNll(logits.to_vector<float>(), label_values, 5);
  double weighted_sum = 0;
  std::vector<float> per_sample;
  for (int i = 0; i < 4; ++i) {
    weighted_sum += w[i] * nll[i];
    per_sample.push_back(static_cast<float>(w[i] * nll[i]));
  }
  EXPECT_NEAR(cross_entropy(logits, labels, weights).item(), weighted_sum / 3.5, 1e-5);
  EXPECT_NEAR(cross_entropy(logits, labels, weights, Reduction::kSum).item(), weighted_sum, 1e-5);
  EXPECT_THAT(cross_entropy(logits, labels, weights, Reduction::kNone).to_vector<float>(),
              Near(per_sample));
  // Integer weights (a 0/1 padding mask) work too; no weights is kiln::cross_entropy.
  Tensor mask = Tensor::from_vector<int32_t>({1, 0, 1, 1}, {4});
  EXPECT_NEAR(cross_entropy(logits, labels, mask).item(), (nll[0] + nll[2] + nll[3]) / 3, 1e-5);
  EXPECT_NEAR(cross_entropy(logits, labels, Tensor()).item(),
              (nll[0] + nll[1] + nll[2] + nll[3]) / 4, 1e-5);
}

TEST(NnLossTest, AllZeroWeightsGiveZeroAndZeroGradients) {
  Generator gen(2);
  Tensor logits = randn({3, 4}, gen);
  logits.requires_grad_();
  Tensor labels = Tensor::from_vector<int64_t>({0, 1, 2}, {3});
  Tensor weights = zeros({3});
  Tensor loss = cross_entropy(logits, labels, weights);
  EXPECT_EQ(loss.item(), 0.0);
  loss.backward();
  EXPECT_THAT(logits.grad().to_vector<float>(), Each(0.0f));
}

TEST(NnLossTest, WeightedCrossEntropyGradient) {
  Generator gen(3);
  Tensor logits = randn({2, 3}, gen);
  logits.requires_grad_();
  Tensor labels = Tensor::from_vector<int64_t>({2, 0}, {2});
  Tensor weights = Tensor::from_vector<float>({3.0f, 1.0f}, {2});
  cross_entropy(logits, labels, weights).backward();
  // d/dlogits[r] = w_r / sum(w) * (softmax(logits[r]) - onehot(label_r)).
  const std::vector<float> lv = logits.to_vector<float>();
  const int64_t label_values[] = {2, 0};
  const double wv[] = {3.0, 1.0};
  std::vector<float> expected;
  for (int r = 0; r < 2; ++r) {
    double total = 0;
    for (int c = 0; c < 3; ++c) total += std::exp(double{lv[r * 3 + c]});
    for (int c = 0; c < 3; ++c) {
      const double p = std::exp(double{lv[r * 3 + c]}) / total;
      expected.push_back(static_cast<float>(wv[r] / 4.0 * (p - (c == label_values[r]))));
    }
  }
  EXPECT_THAT(logits.grad().to_vector<float>(), Near(expected));
}

TEST(NnLossTest, CrossEntropyWeightErrors) {
  Tensor logits = zeros({4, 5});
  Tensor labels = zeros({4}, DType::kI64);
  EXPECT_THAT(ErrorOf([&] { cross_entropy(logits, labels, zeros({3})); }),
              HasSubstr("cross_entropy: expected weights [N] for logits [N, C] f32[4,5], got "
                        "f32[3]"));
  EXPECT_THAT(ErrorOf([&] { cross_entropy(logits, zeros({4}), zeros({4})); }),
              HasSubstr("cross_entropy: expected i32 or i64 labels [N], got f32[4]"));
}

TEST(NnLossTest, MseLoss) {
  Tensor input = Tensor::from_vector<float>({1, 2, 3, 4}, {2, 2});
  Tensor target = Tensor::from_vector<float>({0, 2, 5, 1}, {2, 2});
  // Squared errors 1, 0, 4, 9.
  EXPECT_NEAR(mse_loss(input, target).item(), 14.0 / 4, 1e-6);
  EXPECT_NEAR(mse_loss(input, target, Reduction::kSum).item(), 14.0, 1e-6);
  EXPECT_THAT(mse_loss(input, target, Reduction::kNone).to_vector<float>(), Near({1, 0, 4, 9}));
  Tensor p = Tensor::from_vector<float>({1, 2, 3, 4}, {2, 2});
  p.requires_grad_();
  mse_loss(p, target).backward();
  // 2 (input - target) / 4.
  EXPECT_THAT(p.grad().to_vector<float>(), Near({0.5f, 0, -1, 1.5f}));
  EXPECT_THAT(ErrorOf([&] { mse_loss(input, zeros({4})); }),
              HasSubstr("mse_loss: input f32[2,2] and target f32[4] must have the same shape"));
}

TEST(NnLossTest, BinaryCrossEntropyWithLogits) {
  const std::vector<float> x = {-3, -0.5f, 0, 0.25f, 2, -100, 100, 40};
  const std::vector<float> t = {0, 1, 0.25f, 1, 0, 1, 0, 1};
  std::vector<float> want;
  for (size_t i = 0; i < x.size(); ++i) {
    // -(t log s + (1 - t) log(1 - s)), with log s = -log1p(exp(-x)) computed stably.
    const double log_s = -std::log1p(std::exp(-std::fabs(x[i]))) + std::min(0.0, double{x[i]});
    const double log_1ms = log_s - x[i];
    want.push_back(static_cast<float>(-(t[i] * log_s + (1 - t[i]) * log_1ms)));
  }
  Tensor input = Tensor::from_vector<float>(x, {2, 4});
  Tensor target = Tensor::from_vector<float>(t, {2, 4});
  EXPECT_THAT(binary_cross_entropy_with_logits(input, target, Reduction::kNone).to_vector<float>(),
              Near(want, 1e-5f));
  double total = 0;
  for (float w : want) total += w;
  EXPECT_NEAR(binary_cross_entropy_with_logits(input, target).item(), total / 8, 1e-4);
  EXPECT_NEAR(binary_cross_entropy_with_logits(input, target, Reduction::kSum).item(), total, 1e-3);
  // The gradient is sigmoid(x) - t (over N for the mean), 0.5 - t at x = 0 as in torch.
  Tensor p = Tensor::from_vector<float>(x, {2, 4});
  p.requires_grad_();
  binary_cross_entropy_with_logits(p, target, Reduction::kSum).backward();
  std::vector<float> grad;
  for (size_t i = 0; i < x.size(); ++i) grad.push_back(1 / (1 + std::exp(-x[i])) - t[i]);
  EXPECT_THAT(p.grad().to_vector<float>(), Near(grad, 1e-6f));
  // Integer targets convert to the logits' dtype.
  EXPECT_NEAR(
      binary_cross_entropy_with_logits(zeros({3}), Tensor::from_vector<int64_t>({0, 1, 1}, {3}))
          .item(),
      std::log(2.0), 1e-6);
}

// torch.nn.functional.binary_cross_entropy_with_logits(x, t, pos_weight=[2.5, 0.5, 3, 1])
// of the values above: the losses and the gradient of their sum, torch's digits.
TEST(NnLossTest, BinaryCrossEntropyWithLogitsWeighsThePositives) {
  const Tensor x = Tensor::from_vector<float>({-3, -0.5f, 0, 0.25f, 2, -100, 100, 40}, {2, 4});
  const Tensor t = Tensor::from_vector<float>({0, 1, 0.25f, 1, 0, 1, 0, 1}, {2, 4});
  const Tensor pos_weight = Tensor::from_vector<float>({2.5f, 0.5f, 3, 1}, {4});
  EXPECT_THAT(
      binary_cross_entropy_with_logits(x, t, Reduction::kNone, pos_weight).to_vector<float>(),
      Near({0.04858732f, 0.48703849f, 1.03972077f, 0.57593942f, 2.12692809f, 50, 100, 0}, 2e-5f));
  Tensor p = Tensor::from_vector<float>({-3, -0.5f, 0, 0.25f, 2, -100, 100, 40}, {2, 4});
  p.requires_grad_();
  binary_cross_entropy_with_logits(p, t, Reduction::kSum, pos_weight).backward();
  EXPECT_THAT(p.grad().to_vector<float>(),
              Near({0.04742587f, -0.31122965f, 0, -0.43782347f, 0.88079703f, -0.5f, 1, 0}, 1e-6f));
  // A weight of one everywhere is the unweighted loss.
  EXPECT_THAT(
      binary_cross_entropy_with_logits(x, t, Reduction::kNone, full_data({1, 4}, 1.0))
          .to_vector<float>(),
      Near(binary_cross_entropy_with_logits(x, t, Reduction::kNone).to_vector<float>(), 1e-6f));
  EXPECT_THAT(
      ErrorOf([&] { binary_cross_entropy_with_logits(x, t, Reduction::kMean, zeros({3})); }),
      HasSubstr("binary_cross_entropy_with_logits: pos_weight f32[3] must broadcast to "
                "the input f32[2,4]"));
}

TEST(NnLossTest, L1AndSmoothL1) {
  Tensor input = Tensor::from_vector<float>({1, 2, 3, 4, -1, 0.5f}, {2, 3});
  Tensor target = Tensor::from_vector<float>({0, 2, 5, 1.5f, -1.25f, 0}, {2, 3});
  // |d| = 1, 0, 2, 2.5, 0.25, 0.5.
  EXPECT_THAT(l1_loss(input, target, Reduction::kNone).to_vector<float>(),
              Near({1, 0, 2, 2.5f, 0.25f, 0.5f}));
  EXPECT_NEAR(l1_loss(input, target).item(), 6.25 / 6, 1e-6);
  // beta 1: quadratic below 1 (0.5 d^2), linear above (|d| - 0.5); d = 1 is linear.
  EXPECT_THAT(smooth_l1_loss(input, target, Reduction::kNone).to_vector<float>(),
              Near({0.5f, 0, 1.5f, 2, 0.03125f, 0.125f}));
  EXPECT_THAT(smooth_l1_loss(input, target, Reduction::kNone, 3).to_vector<float>(),
              Near({1 / 6.0f, 0, 4 / 6.0f, 6.25f / 6, 0.0625f / 6, 0.25f / 6}));
  EXPECT_NEAR(smooth_l1_loss(input, target, Reduction::kSum, 0).item(), 6.25, 1e-6);  // = l1
  Tensor p = Tensor::from_vector<float>({1, 2, 3, 4, -1, 0.5f}, {2, 3});
  p.requires_grad_();
  smooth_l1_loss(p, target, Reduction::kSum).backward();
  // d / beta inside, sign(d) outside.
  EXPECT_THAT(p.grad().to_vector<float>(), Near({1, 0, -1, 1, 0.25f, 0.5f}));
}

// torch.nn.functional.huber_loss(input, target, reduction='none', delta=...) of the values
// below: [0.5, 0, 1.875, 2.625, 0.03125, 0.125] for delta 1.5, and delta * smooth_l1 in general.
TEST(NnLossTest, HuberIsDeltaTimesSmoothL1) {
  Tensor input = Tensor::from_vector<float>({1, 2, 3, 4, -1, 0.5f}, {2, 3});
  Tensor target = Tensor::from_vector<float>({0, 2, 5, 1.5f, -1.25f, 0}, {2, 3});
  EXPECT_THAT(huber_loss(input, target, Reduction::kNone, 1.5).to_vector<float>(),
              Near({0.5f, 0, 1.875f, 2.625f, 0.03125f, 0.125f}));
  for (double delta : {0.3, 1.0, 2.2}) {
    EXPECT_NEAR(huber_loss(input, target, Reduction::kMean, delta).item(),
                delta * smooth_l1_loss(input, target, Reduction::kMean, delta).item(), 1e-6);
  }
  Tensor p = Tensor::from_vector<float>({1, 2, 3, 4, -1, 0.5f}, {2, 3});
  p.requires_grad_();
  huber_loss(p, target, Reduction::kSum, 1.5).backward();
  // d inside, delta sign(d) outside.
  EXPECT_THAT(p.grad().to_vector<float>(), Near({1, 0, -1.5f, 1.5f, 0.25f, 0.5f}));
  EXPECT_THAT(ErrorOf([&] { huber_loss(input, target, Reduction::kMean, 0); }),
              HasSubstr("huber_loss: expected delta > 0, got 0 for f32[2,3]"));
  EXPECT_THAT(ErrorOf([&] {
                huber_loss(input, zeros({3, 2}));
              }),
              HasSubstr("huber_loss: input f32[2,3] and target f32[3,2] must have the same shape"));
}

}  // namespace
}  // namespace kiln::nn
