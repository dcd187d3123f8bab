// Gradient clipping against norms computed by hand, and its runtime bounds.
#include "lazy/nn_clip_grad.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "lazy/ops.h"
#include "tests/lazy/op_test_util.h"
#include "util/metrics.h"

namespace kiln::nn {
namespace {

using ::kiln::testing::ErrorOf;
using ::kiln::testing::Near;
using ::testing::HasSubstr;

// A parameter of ones holding `grad` as its gradient.
template <typename T = float>
Tensor WithGrad(const std::vector<T>& grad) {
  const int64_t n = static_cast<int64_t>(grad.size());
  Tensor p = Tensor::from_vector<T>(std::vector<T>(grad.size(), T(1)), {n});
  p.requires_grad_();
  p.set_grad(Tensor::from_vector<T>(grad, {n}));
  return p;
}

TEST(NnClipGradTest, ScalesAllGradientsToMaxNormTogether) {
  // |(3, 4, 12)| = 13.
  std::vector<Tensor> params = {WithGrad({3, 4}), WithGrad({12})};
  Tensor norm = clip_grad_norm_(params, 6.5);
  EXPECT_EQ(norm.shape().ToString(), "f32[]");
  EXPECT_NEAR(norm.item(), 13, 1e-5);
  EXPECT_THAT(params[0].grad().to_vector<float>(), Near({1.5f, 2}));
  EXPECT_THAT(params[1].grad().to_vector<float>(), Near({6}));
  // Within the bound: unchanged.
  EXPECT_NEAR(clip_grad_norm_(params, 100).item(), 6.5, 1e-5);
  EXPECT_THAT(params[0].grad().to_vector<float>(), Near({1.5f, 2}));
}

TEST(NnClipGradTest, OtherNormTypes) {
  std::vector<Tensor> params = {WithGrad({3, -4}), WithGrad({12})};
  EXPECT_NEAR(clip_grad_norm_(params, 1.9, 1).item(), 19, 1e-4);  // |3| + |-4| + |12|
  EXPECT_THAT(params[0].grad().to_vector<float>(), Near({0.3f, -0.4f}));
  params = {WithGrad({3, -4}), WithGrad({12})};
  EXPECT_NEAR(clip_grad_norm_(params, 6, INFINITY).item(), 12, 1e-6);
  EXPECT_THAT(params[1].grad().to_vector<float>(), Near({6}));
  params = {WithGrad({3, -4}), WithGrad({12})};
  EXPECT_NEAR(clip_grad_norm_(params, 1000, 3).item(), std::cbrt(27.0 + 64 + 1728), 1e-4);
  // f64 gradients give an f64 norm.
  std::vector<Tensor> wide = {WithGrad<double>({1e-3, 2e-3}), WithGrad({2})};
  Tensor norm = clip_grad_norm_(wide, 1);
  EXPECT_EQ(norm.dtype(), DType::kF64);
  EXPECT_NEAR(norm.item(), std::sqrt(1e-6 + 4e-6 + 4), 1e-6);
}

TEST(NnClipGradTest, SkipsTensorsWithoutGradientsAndNonFiniteGivesNaN) {
  Tensor no_grad_yet = Tensor::from_vector<float>({5}, {1});
  no_grad_yet.requires_grad_();
  Tensor frozen = Tensor::from_vector<float>({7}, {1});
  std::vector<Tensor> params = {no_grad_yet, frozen, WithGrad({0.5f})};
  EXPECT_NEAR(clip_grad_norm_(params, 1).item(), 0.5, 1e-6);
  EXPECT_FALSE(no_grad_yet.grad().defined());
  EXPECT_EQ(clip_grad_norm_({}, 1).item(), 0);
  // As torch without error_if_nonfinite: the scale is 0, and inf * 0 is NaN.
  params = {WithGrad({INFINITY, 1})};
  EXPECT_EQ(clip_grad_norm_(params, 1).item(), INFINITY);
  const std::vector<float> g = params[0].grad().to_vector<float>();
  EXPECT_TRUE(std::isnan(g[0]));
  EXPECT_EQ(g[1], 0);
}

TEST(NnClipGradTest, ANewBoundDoesNotRecompile) {
  Tensor w = Tensor::from_vector<float>({1, -2, 3}, {3});
  w.requires_grad_();
  const Tensor x = Tensor::from_vector<float>({4, 5, 6}, {3});
  const auto step = [&](double max_norm) {
    w.zero_grad();
    sum(mul(w, x)).backward();
    clip_grad_norm_({w}, max_norm);
    clip_grad_value_({w}, 100);
    return w.grad().to_vector<float>();
  };
  step(1);
  const int64_t compiles = metrics::counter("UncachedCompile");
  const int64_t hits = metrics::counter("CachedCompile");
  const float norm = std::sqrt(16.0f + 25 + 36);
  EXPECT_THAT(step(2), Near({8 / norm, 10 / norm, 12 / norm}, 1e-5));
  EXPECT_THAT(step(0.5), Near({2 / norm, 2.5f / norm, 3 / norm}, 1e-5));
  EXPECT_EQ(metrics::counter("UncachedCompile"), compiles);
  EXPECT_EQ(metrics::counter("CachedCompile"), hits + 2);
}

TEST(NnClipGradTest, ClipGradValueClampsEachElement) {
  std::vector<Tensor> params = {WithGrad({-3, 0.5f, 2})};
  clip_grad_value_(params, 1);
  EXPECT_THAT(params[0].grad().to_vector<float>(), Near({-1, 0.5f, 1}));
}

TEST(NnClipGradTest, Errors) {
  std::vector<Tensor> params = {WithGrad({1, 2})};
  EXPECT_THAT(ErrorOf([&] { clip_grad_norm_(params, -1); }),
              HasSubstr("clip_grad_norm_: expected max_norm >= 0, got -1"));
  EXPECT_THAT(ErrorOf([&] { clip_grad_norm_(params, NAN); }),
              HasSubstr("clip_grad_norm_: expected max_norm >= 0, got nan"));
  EXPECT_THAT(ErrorOf([&] { clip_grad_norm_(params, 1, 0); }),
              HasSubstr("clip_grad_norm_: expected norm_type > 0 (or infinity), got 0"));
  EXPECT_THAT(ErrorOf([&] { clip_grad_value_(params, -0.5); }),
              HasSubstr("clip_grad_value_: expected clip_value >= 0, got -0.5"));
  // Nothing changed.
  EXPECT_THAT(params[0].grad().to_vector<float>(), Near({1, 2}));
}

}  // namespace
}  // namespace kiln::nn
