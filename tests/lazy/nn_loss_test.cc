// nn::cross_entropy with per-sample weights and nn::mse_loss, against values computed
// in the test.
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

}  // namespace
}  // namespace kiln::nn
