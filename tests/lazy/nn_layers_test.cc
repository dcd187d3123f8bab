// Linear, LayerNorm, GELU, MLP and Embedding against values computed in the test with
// plain loops (in double), and their input errors.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <numbers>
#include <vector>

#include "lazy/composite_ops.h"
#include "lazy/creation.h"
#include "lazy/generator.h"
#include "lazy/nn_activations.h"
#include "lazy/nn_embedding.h"
#include "lazy/nn_flatten.h"
#include "lazy/nn_functional.h"
#include "lazy/nn_init.h"
#include "lazy/nn_layer_norm.h"
#include "lazy/nn_linear.h"
#include "lazy/nn_mlp.h"
#include "lazy/ops.h"
#include "tests/lazy/op_test_util.h"
#include "util/metrics.h"

namespace kiln::nn {
namespace {

using ::kiln::testing::ErrorOf;
using ::kiln::testing::Near;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

// y[r][o] = sum_i x[r][i] w[o][i] + b[o] for `rows` rows of `in` features.
std::vector<float> RefLinear(const std::vector<float>& x, const std::vector<float>& w,
                             const std::vector<float>& b, int64_t in) {
  const int64_t out = static_cast<int64_t>(w.size()) / in;
  const int64_t rows = static_cast<int64_t>(x.size()) / in;
  std::vector<float> y;
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t o = 0; o < out; ++o) {
      double acc = b.empty() ? 0.0 : b[o];
      for (int64_t i = 0; i < in; ++i) acc += double{x[r * in + i]} * w[o * in + i];
      y.push_back(static_cast<float>(acc));
    }
  }
  return y;
}

std::vector<float> RefGelu(const std::vector<float>& x, bool tanh_form) {
  std::vector<float> y;
  for (float v : x) {
    const double d = v;
    const double k = std::sqrt(2.0 / std::numbers::pi);
    const double g = tanh_form ? 0.5 * d * (1 + std::tanh(k * (d + 0.044715 * d * d * d)))
                               : 0.5 * d * (1 + std::erf(d / std::numbers::sqrt2));
    y.push_back(static_cast<float>(g));
  }
  return y;
}

// Normalises each group of `n` consecutive values, then applies w and b (if non-empty).
std::vector<float> RefLayerNorm(const std::vector<float>& x, int64_t n, double eps,
                                const std::vector<float>& w, const std::vector<float>& b) {
  std::vector<float> y;
  for (size_t start = 0; start < x.size(); start += n) {
    double mean = 0;
    for (int64_t i = 0; i < n; ++i) mean += x[start + i];
    mean /= n;
    double var = 0;
    for (int64_t i = 0; i < n; ++i) var += (x[start + i] - mean) * (x[start + i] - mean);
    var /= n;
    for (int64_t i = 0; i < n; ++i) {
      double v = (x[start + i] - mean) / std::sqrt(var + eps);
      if (!w.empty()) v = v * w[i] + b[i];
      y.push_back(static_cast<float>(v));
    }
  }
  return y;
}

TEST(NnDropoutTest, KeepsAboutOneMinusPScaledAndPassesTheGradientThroughTheKeptOnes) {
  Generator gen(21);
  constexpr int64_t kN = 20000;
  Tensor x = full_data({kN}, 2.0);
  x.requires_grad_();
  Tensor y = nn::dropout(x, 0.25, gen);
  sum(y).backward();
  const std::vector<float> values = y.to_vector<float>();
  const std::vector<float> grads = x.grad().to_vector<float>();
  int64_t kept = 0;
  for (int64_t i = 0; i < kN; ++i) {
    ASSERT_TRUE(values[i] == 0 || std::fabs(values[i] - 2 / 0.75f) < 1e-5) << values[i];
    kept += values[i] != 0;
    // The gradient is the mask's scale where kept and 0 where dropped.
    EXPECT_FLOAT_EQ(grads[i], values[i] == 0 ? 0.0f : 1 / 0.75f);
  }
  // Binomial(20000, 0.75): standard deviation 0.003 of the fraction.
  EXPECT_NEAR(static_cast<double>(kept) / kN, 0.75, 0.02);
  // The same seed gives the same mask; the next draw another one.
  Generator again(21);
  EXPECT_EQ(nn::dropout(full_data({kN}, 2.0), 0.25, again).to_vector<float>(), values);
  EXPECT_NE(nn::dropout(full_data({kN}, 2.0), 0.25, again).to_vector<float>(), values);
}

TEST(NnDropoutTest, IdentityWhenNotTrainingZerosAtPOneAndNewMasksDoNotRecompile) {
  Generator gen(22);
  Tensor x = Tensor::from_vector<float>({1, -2, 3, std::nanf("")}, {2, 2});
  EXPECT_EQ(nn::dropout(x, 0.5, gen, /*training=*/false).impl(), x.impl());
  EXPECT_EQ(nn::dropout(x, 0.0, gen).impl(), x.impl());
  std::vector<float> zeros = nn::dropout(x, 1.0, gen).to_vector<float>();
  EXPECT_THAT(std::vector<float>(zeros.begin(), zeros.end() - 1), ElementsAre(0, 0, 0));
  EXPECT_TRUE(std::isnan(zeros.back()));  // x * 0, as in torch
  // A step with a fresh mask each time compiles once.
  Tensor w = Tensor::from_vector<float>({0.5f, 1.5f, -1, 2}, {2, 2});
  const auto step = [&] {
    Tensor loss = sum(nn::dropout(mul(w, 3.0), 0.5, gen));
    return loss.item();
  };
  step();
  const int64_t compiles = metrics::counter("UncachedCompile");
  const int64_t hits = metrics::counter("CachedCompile");
  for (int i = 0; i < 3; ++i) step();
  EXPECT_EQ(metrics::counter("UncachedCompile"), compiles);
  EXPECT_EQ(metrics::counter("CachedCompile"), hits + 3);
}

TEST(NnDropoutTest, Errors) {
  Generator gen(23);
  Tensor x = full_data({3}, 1.0);
  EXPECT_THAT(ErrorOf([&] { nn::dropout(x, 1.5, gen); }),
              HasSubstr("dropout: expected a probability p in [0, 1], got 1.5 for f32[3]"));
  EXPECT_THAT(ErrorOf([&] { nn::dropout(x, std::nan(""), gen); }),
              HasSubstr("dropout: expected a probability p in [0, 1], got nan for f32[3]"));
  EXPECT_THAT(ErrorOf([&] { nn::dropout(Tensor::from_vector<int32_t>({1}, {1}), 0.5, gen); }),
              HasSubstr("dropout: expected a floating dtype, got i32[1]"));
  EXPECT_THAT(ErrorOf([&] { nn::dropout(Tensor(), 0.5, gen); }),
              HasSubstr("dropout: input is an undefined tensor"));
}

TEST(NnDropPathTest, KeepsOrDropsWholeSamples) {
  Generator gen(24);
  constexpr int64_t kSamples = 4000;
  Tensor x = full_data({kSamples, 3, 2}, 2.0);
  x.requires_grad_();
  Tensor y = nn::drop_path(x, 0.2, gen);
  EXPECT_EQ(y.shape().ToString(), "f32[4000,3,2]");
  sum(y).backward();
  const std::vector<float> values = y.to_vector<float>();
  const std::vector<float> grads = x.grad().to_vector<float>();
  int64_t kept = 0;
  for (int64_t s = 0; s < kSamples; ++s) {
    const bool keep = values[s * 6] != 0;
    kept += keep;
    for (int64_t i = 0; i < 6; ++i) {
      ASSERT_FLOAT_EQ(values[s * 6 + i], keep ? 2 / 0.8f : 0) << s;
      ASSERT_FLOAT_EQ(grads[s * 6 + i], keep ? 1 / 0.8f : 0) << s;
    }
  }
  EXPECT_NEAR(static_cast<double>(kept) / kSamples, 0.8, 0.03);  // sd 0.0063
  // Not training, p = 0: x itself; p = 1: every sample dropped. A new mask each step
  // recompiles nothing.
  EXPECT_EQ(nn::drop_path(x, 0.5, gen, /*training=*/false).impl(), x.impl());
  EXPECT_EQ(nn::drop_path(x, 0.0, gen).impl(), x.impl());
  EXPECT_EQ(sum(nn::drop_path(full_data({3, 2}, 1.0), 1.0, gen)).item(), 0);
  const auto step = [&] { return sum(nn::drop_path(full_data({64, 8}, 1.0), 0.5, gen)).item(); };
  step();
  const int64_t compiles = metrics::counter("UncachedCompile");
  for (int i = 0; i < 3; ++i) step();
  EXPECT_EQ(metrics::counter("UncachedCompile"), compiles);
  EXPECT_THAT(ErrorOf([&] { nn::drop_path(full_data({}, 1.0), 0.5, gen); }),
              HasSubstr("drop_path: expected at least one (sample) dimension, got f32[]"));
  EXPECT_THAT(
      ErrorOf([&] { nn::drop_path(x, -0.5, gen); }),
      HasSubstr("drop_path: expected a probability p in [0, 1], got -0.5 for f32[4000,3,2]"));
  EXPECT_THAT(ErrorOf([&] { nn::drop_path(Tensor::from_vector<int32_t>({1}, {1}), 0.5, gen); }),
              HasSubstr("drop_path: expected a floating dtype, got i32[1]"));
}

TEST(NnOneHotTest, RowsWithOneAtEachLabel) {
  Tensor labels = Tensor::from_vector<int32_t>({2, 0, 1, 2}, {2, 2});
  Tensor rows = nn::one_hot(labels, 3);
  EXPECT_EQ(rows.shape().ToString(), "i64[2,2,3]");
  EXPECT_THAT(rows.to_vector<int64_t>(), ElementsAre(0, 0, 1, 1, 0, 0, 0, 1, 0, 0, 0, 1));
  EXPECT_THAT(ErrorOf([&] { nn::one_hot(labels, 0); }),
              HasSubstr("one_hot: expected num_classes > 0, got 0 for labels i32[2,2]"));
  EXPECT_THAT(ErrorOf([&] { nn::one_hot(Tensor::from_vector<float>({1}, {1}), 2); }),
              HasSubstr("one_hot: expected i32 or i64 labels, got f32[1]"));
  // Out of range: an error when the graph runs.
  Tensor bad = nn::one_hot(Tensor::from_vector<int64_t>({1, 3}, {2}), 3);
  EXPECT_THAT(ErrorOf([&] { bad.to_vector<int64_t>(); }), HasSubstr("out of range"));
}

TEST(NnLinearTest, MatchesHandComputationWithLeadingDimensions) {
  Generator gen(1);
  Linear fc(4, 5, gen);
  init::normal_(fc.bias(), 0, 1, gen);  // a non-zero bias
  EXPECT_EQ(fc.weight().sizes(), (Sizes{5, 4}));
  EXPECT_EQ(fc.bias().sizes(), (Sizes{5}));
  Tensor x = randn({2, 3, 4}, gen);
  Tensor y = fc.forward(x);
  EXPECT_EQ(y.sizes(), (Sizes{2, 3, 5}));
  const std::vector<float> w = fc.weight().to_vector<float>();
  const std::vector<float> b = fc.bias().to_vector<float>();
  EXPECT_THAT(y.to_vector<float>(), Near(RefLinear(x.to_vector<float>(), w, b, 4)));
  // A single vector and a plain matrix.
  Tensor v = randn({4}, gen);
  EXPECT_EQ(fc.forward(v).sizes(), (Sizes{5}));
  EXPECT_THAT(fc.forward(v).to_vector<float>(), Near(RefLinear(v.to_vector<float>(), w, b, 4)));

  Linear no_bias(4, 5, gen, /*bias=*/false);
  EXPECT_FALSE(no_bias.bias().defined());
  EXPECT_EQ(no_bias.parameters().size(), 1u);
  EXPECT_THAT(no_bias.forward(x).to_vector<float>(),
              Near(RefLinear(x.to_vector<float>(), no_bias.weight().to_vector<float>(), {}, 4)));
}

TEST(NnLinearTest, Gradients) {
  Generator gen(2);
  Linear fc(3, 2, gen);
  Tensor x = randn({4, 3}, gen);
  x.requires_grad_();
  Tensor g = randn({4, 2}, gen);
  sum(mul(fc.forward(x), g)).backward();
  const std::vector<float> xv = x.to_vector<float>();
  const std::vector<float> gv = g.to_vector<float>();
  const std::vector<float> wv = fc.weight().to_vector<float>();
  std::vector<float> dw(6, 0), db(2, 0), dx(12, 0);
  for (int r = 0; r < 4; ++r) {
    for (int o = 0; o < 2; ++o) {
      db[o] += gv[r * 2 + o];
      for (int i = 0; i < 3; ++i) {
        dw[o * 3 + i] += gv[r * 2 + o] * xv[r * 3 + i];
        dx[r * 3 + i] += gv[r * 2 + o] * wv[o * 3 + i];
      }
    }
  }
  EXPECT_THAT(fc.weight().grad().to_vector<float>(), Near(dw, 1e-5f));
  EXPECT_THAT(fc.bias().grad().to_vector<float>(), Near(db, 1e-5f));
  EXPECT_THAT(x.grad().to_vector<float>(), Near(dx, 1e-5f));
}

TEST(NnLinearTest, WrongInputNamesTheModuleAndShapes) {
  Generator gen(3);
  Linear fc(192, 576, gen);
  EXPECT_THAT(ErrorOf([&] {
                fc.forward(zeros({2, 5, 100}));
              }),
              HasSubstr("Linear(192 -> 576): expected an input [..., 192], got f32[2,5,100] "
                        "(weight f32[576,192])"));
  EXPECT_THAT(ErrorOf([&] { Linear(0, 3, gen); }),
              HasSubstr("Linear: in_features and out_features must be positive, got 0 and 3"));
  EXPECT_THAT(ErrorOf([&] {
                linear(zeros({2, 3}), zeros({4, 5}));
              }),
              HasSubstr("linear: expected an input [..., 5] for weight f32[4,5], got f32[2,3]"));
  EXPECT_THAT(ErrorOf([&] {
                linear(zeros({2, 5}), zeros({4, 5}), zeros({3}));
              }),
              HasSubstr("linear: expected a bias [4] for weight f32[4,5], got f32[3]"));
}

TEST(NnLayerNormTest, MatchesHandComputation) {
  Generator gen(4);
  LayerNorm norm({6}, 1e-6);
  EXPECT_THAT(norm.weight().to_vector<float>(), Near({1, 1, 1, 1, 1, 1}));
  EXPECT_THAT(norm.bias().to_vector<float>(), Near({0, 0, 0, 0, 0, 0}));
  init::normal_(norm.weight(), 1, 0.5, gen);
  init::normal_(norm.bias(), 0, 0.5, gen);
  Tensor x = mul(randn({2, 3, 6}, gen), 3.0);
  EXPECT_THAT(norm.forward(x).to_vector<float>(),
              Near(RefLayerNorm(x.to_vector<float>(), 6, 1e-6, norm.weight().to_vector<float>(),
                                norm.bias().to_vector<float>()),
                   1e-4f));
}

TEST(NnLayerNormTest, SeveralDimensionsWithAndWithoutAffine) {
  Generator gen(5);
  Tensor x = randn({4, 2, 3}, gen);
  LayerNorm affine({2, 3});
  EXPECT_EQ(affine.weight().sizes(), (Sizes{2, 3}));
  init::normal_(affine.weight(), 0, 1, gen);
  init::normal_(affine.bias(), 0, 1, gen);
  EXPECT_THAT(affine.forward(x).to_vector<float>(),
              Near(RefLayerNorm(x.to_vector<float>(), 6, 1e-5, affine.weight().to_vector<float>(),
                                affine.bias().to_vector<float>()),
                   1e-4f));
  LayerNorm plain({2, 3}, 1e-5, /*elementwise_affine=*/false);
  EXPECT_TRUE(plain.parameters().empty());
  EXPECT_FALSE(plain.weight().defined());
  Tensor y = plain.forward(x);
  EXPECT_EQ(y.sizes(), (Sizes{4, 2, 3}));
  EXPECT_THAT(y.to_vector<float>(),
              Near(RefLayerNorm(x.to_vector<float>(), 6, 1e-5, {}, {}), 1e-4f));
}

TEST(NnLayerNormTest, WrongInputNamesTheModuleAndShapes) {
  LayerNorm norm({192});
  EXPECT_THAT(ErrorOf([&] {
                norm.forward(zeros({2, 5, 100}));
              }),
              HasSubstr("LayerNorm([192]): expected an input whose trailing dimensions are [192], "
                        "got f32[2,5,100]"));
  EXPECT_THAT(ErrorOf([&] { LayerNorm({}); }),
              HasSubstr("LayerNorm: normalized_shape must be non-empty with positive sizes"));
}

// x / sqrt(mean(x^2) + eps) * w per row of `n`, in double.
std::vector<float> RefRmsNorm(const std::vector<float>& x, int64_t n, double eps,
                              const std::vector<float>& w) {
  std::vector<float> y;
  for (size_t start = 0; start < x.size(); start += n) {
    double ms = 0;
    for (int64_t i = 0; i < n; ++i) ms += double{x[start + i]} * x[start + i] / n;
    for (int64_t i = 0; i < n; ++i) {
      y.push_back(static_cast<float>(x[start + i] / std::sqrt(ms + eps) * (w.empty() ? 1 : w[i])));
    }
  }
  return y;
}

TEST(NnRmsNormTest, FunctionAndModuleMatchTheFormula) {
  Generator gen(6);
  Tensor x = mul(randn({3, 2, 4}, gen), 2.0);
  Tensor w = randn({4}, gen);
  const std::vector<float> xs = x.to_vector<float>();
  EXPECT_THAT(rms_norm(x, w, 1e-3).to_vector<float>(),
              Near(RefRmsNorm(xs, 4, 1e-3, w.to_vector<float>()), 1e-5f));
  // Without a weight: the last dimension; eps defaults to f32's machine epsilon.
  EXPECT_THAT(rms_norm(x).to_vector<float>(), Near(RefRmsNorm(xs, 4, 0x1p-23, {}), 1e-5f));
  RMSNorm norm({2, 4});
  EXPECT_EQ(norm.weight().sizes(), (Sizes{2, 4}));
  init::normal_(norm.weight(), 1, 0.5, gen);
  EXPECT_THAT(norm.forward(x).to_vector<float>(),
              Near(RefRmsNorm(xs, 8, 0x1p-23, norm.weight().to_vector<float>()), 1e-5f));
  RMSNorm plain({2, 4}, 0.5, /*elementwise_affine=*/false);
  EXPECT_TRUE(plain.parameters().empty());
  EXPECT_THAT(plain.forward(x).to_vector<float>(), Near(RefRmsNorm(xs, 8, 0.5, {}), 1e-5f));
  EXPECT_THAT(ErrorOf([&] {
                norm.forward(zeros({2, 3}));
              }),
              HasSubstr("RMSNorm([2,4]): expected an input whose trailing dimensions are [2,4], "
                        "got f32[2,3]"));
  EXPECT_THAT(ErrorOf([&] { RMSNorm({4}, -1.0); }),
              HasSubstr("RMSNorm: eps must be non-negative, got -1"));
}

TEST(NnActivationTest, SoftplusAndLeakyReluAsTorch) {
  const std::vector<float> x = {-100, -3, -0.5f, 0, 0.5f, 3, 19.5f, 20.5f, 50};
  const Tensor t = Tensor::from_vector<float>(x, {9});
  std::vector<float> soft, soft2, leaky;
  for (float v : x) {
    soft.push_back(v > 20 ? v : static_cast<float>(std::log1p(std::exp(double{v}))));
    soft2.push_back(2 * v > 1 ? v : static_cast<float>(std::log1p(std::exp(2.0 * v)) / 2));
    leaky.push_back(v > 0 ? v : 0.2f * v);
  }
  EXPECT_THAT(softplus(t).to_vector<float>(), Near(soft, 1e-5f));
  EXPECT_THAT(softplus(t, 2, 1).to_vector<float>(), Near(soft2, 1e-5f));
  EXPECT_THAT(leaky_relu(t, 0.2).to_vector<float>(), Near(leaky));
  EXPECT_THAT(ErrorOf([] {
                leaky_relu(Tensor::from_vector<int32_t>({-3, 4}, {2}));
              }),
              HasSubstr("leaky_relu: expected a floating input, got i32[2]"));
  // Gradients: sigmoid(x) below the threshold, 1 above (no NaN from the overflowing
  // exp at 50); leaky_relu's is the slope at 0.
  Tensor p = Tensor::from_vector<float>(x, {9});
  p.requires_grad_();
  sum(softplus(p)).backward();
  std::vector<float> sig;
  for (float v : x) sig.push_back(v > 20 ? 1 : static_cast<float>(1 / (1 + std::exp(-double{v}))));
  EXPECT_THAT(p.grad().to_vector<float>(), Near(sig, 1e-6f));
  Tensor q = Tensor::from_vector<float>({-1, 0, 2}, {3});
  q.requires_grad_();
  sum(leaky_relu(q, 0.1)).backward();
  EXPECT_THAT(q.grad().to_vector<float>(), Near({0.1f, 0.1f, 1}));
}

TEST(NnNormalizeTest, DividesByTheClampedNorm) {
  const Tensor x = Tensor::from_vector<float>({3, 4, 0, 0, 1e-13f, 0, -2, 2, 1}, {3, 3});
  EXPECT_THAT(normalize(x).to_vector<float>(),
              Near({0.6f, 0.8f, 0, 0, 1e-13f / 1e-12f, 0, -2 / 3.0f, 2 / 3.0f, 1 / 3.0f}));
  EXPECT_THAT(normalize(x, 1, 0).to_vector<float>(),
              Near({3 / 5.0f, 4 / 6.0f, 0, 0, 1e-13f / 6, 0, -2 / 5.0f, 2 / 6.0f, 1}));
  // The gradient of the all-zero row is 1 / eps on the diagonal (torch), not NaN.
  Tensor p = Tensor::from_vector<double>({0, 0, 3, 4}, {2, 2});
  p.requires_grad_();
  sum(normalize(p, 2, 1, 1e-6)).backward();
  const std::vector<double> g = p.grad().to_vector<double>();
  EXPECT_NEAR(g[0], 1e6, 1e-3);
  EXPECT_NEAR(g[1], 1e6, 1e-3);
  // d/dx sum(x / |x|) = (1 - x_i sum(x) / |x|^2) / |x| for the row [3, 4].
  EXPECT_NEAR(g[2], (1 - 3 * 7 / 25.0) / 5, 1e-12);
  EXPECT_NEAR(g[3], (1 - 4 * 7 / 25.0) / 5, 1e-12);
}

TEST(NnGeluTest, BothApproximationsMatchTheFormulas) {
  Generator gen(6);
  Tensor x = mul(randn({3, 5}, gen), 2.0);
  GELU exact;
  GELU tanh_form(GeluApproximation::kTanh);
  EXPECT_TRUE(exact.parameters().empty());
  EXPECT_THAT(exact.forward(x).to_vector<float>(), Near(RefGelu(x.to_vector<float>(), false)));
  EXPECT_THAT(tanh_form.forward(x).to_vector<float>(), Near(RefGelu(x.to_vector<float>(), true)));
}

TEST(NnReluFlattenTest, ModulesAsTheFunctions) {
  const Tensor x = Tensor::from_vector<float>({-1, 2, 0, -3, 4, 5}, {1, 2, 3, 1});
  EXPECT_EQ(ReLU().forward(x).to_vector<float>(), std::vector<float>({0, 2, 0, 0, 4, 5}));
  EXPECT_EQ(Flatten().forward(x).shape().ToString(), "f32[1,6]");
  EXPECT_EQ(Flatten(0, 1).forward(x).shape().ToString(), "f32[2,3,1]");
  EXPECT_EQ(Flatten().forward(x).to_vector<float>(), x.to_vector<float>());
}

TEST(NnMlpTest, IsFc2OfGeluOfFc1) {
  Generator gen(7);
  MLP mlp(4, 8, 3, gen, GeluApproximation::kTanh);
  init::normal_(mlp.fc1()->bias(), 0, 1, gen);
  init::normal_(mlp.fc2()->bias(), 0, 1, gen);
  EXPECT_EQ(mlp.num_parameters(), 4 * 8 + 8 + 8 * 3 + 3);
  Tensor x = randn({2, 5, 4}, gen);
  std::vector<float> h = RefLinear(x.to_vector<float>(), mlp.fc1()->weight().to_vector<float>(),
                                   mlp.fc1()->bias().to_vector<float>(), 4);
  std::vector<float> y = RefLinear(RefGelu(h, true), mlp.fc2()->weight().to_vector<float>(),
                                   mlp.fc2()->bias().to_vector<float>(), 8);
  Tensor out = mlp.forward(x);
  EXPECT_EQ(out.sizes(), (Sizes{2, 5, 3}));
  EXPECT_THAT(out.to_vector<float>(), Near(y, 1e-5f));
  EXPECT_THAT(ErrorOf([&] {
                mlp.forward(zeros({2, 3}));
              }),
              HasSubstr("MLP(4 -> 8 -> 3): expected an input [..., 4], got f32[2,3]"));
}

TEST(NnEmbeddingTest, LooksUpRows) {
  Generator gen(8);
  Embedding table(5, 3, gen);
  const std::vector<float> w = table.weight().to_vector<float>();
  Tensor ids = Tensor::from_vector<int64_t>({4, 0, 2, 4}, {2, 2});
  Tensor e = table.forward(ids);
  EXPECT_EQ(e.sizes(), (Sizes{2, 2, 3}));
  std::vector<float> expected;
  for (int id : {4, 0, 2, 4})
    expected.insert(expected.end(), w.begin() + 3 * id, w.begin() + 3 * id + 3);
  EXPECT_THAT(e.to_vector<float>(), Near(expected, 0));
  EXPECT_EQ(table.forward(Tensor::from_vector<int32_t>({1}, {1})).sizes(), (Sizes{1, 3}));
  EXPECT_THAT(ErrorOf([&] { table.forward(zeros({2})); }),
              HasSubstr("Embedding(5, 3): expected i32 or i64 indices, got f32[2]"));
}

TEST(NnEmbeddingTest, GradientsAccumulateIntoTheSelectedRows) {
  Generator gen(9);
  Embedding table(4, 2, gen);
  Tensor ids = Tensor::from_vector<int64_t>({1, 3, 1}, {3});
  sum(table.forward(ids)).backward();
  EXPECT_THAT(table.weight().grad().to_vector<float>(), Near({0, 0, 2, 2, 0, 0, 1, 1}));
}

}  // namespace
}  // namespace kiln::nn
