// nn::init: distributions, reproducibility, identity of the initialised tensors, and the
// module default initialisation.
#include "lazy/nn_init.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "lazy/creation.h"
#include "lazy/generator.h"
#include "lazy/nn_embedding.h"
#include "lazy/nn_layer_norm.h"
#include "lazy/nn_linear.h"
#include "tests/lazy/op_test_util.h"

namespace kiln::nn {
namespace {

using ::kiln::testing::ErrorOf;
using ::testing::Each;
using ::testing::HasSubstr;

struct Moments {
  double mean = 0;
  double std = 0;
  double min = 1e300;
  double max = -1e300;
};

Moments MomentsOf(const std::vector<float>& v) {
  Moments m;
  for (float f : v) {
    m.mean += f;
    m.min = std::min(m.min, double{f});
    m.max = std::max(m.max, double{f});
  }
  m.mean /= v.size();
  for (float f : v) m.std += (f - m.mean) * (f - m.mean);
  m.std = std::sqrt(m.std / v.size());
  return m;
}

TEST(NnInitTest, TruncNormalIsCutAtTwoStd) {
  Generator gen(1);
  Tensor t = zeros({200, 100});
  Tensor same = init::trunc_normal_(t, 0.5, gen, /*mean=*/1.0);
  EXPECT_EQ(same.impl(), t.impl());
  const Moments m = MomentsOf(t.to_vector<float>());
  EXPECT_GE(m.min, 0.0);
  EXPECT_LE(m.max, 2.0);
  EXPECT_LT(m.min, 0.05);  // the tails reach the bounds
  EXPECT_GT(m.max, 1.95);
  EXPECT_NEAR(m.mean, 1.0, 0.01);
  // A normal cut at +-2 std has std 0.8796 std.
  EXPECT_NEAR(m.std, 0.8796 * 0.5, 0.01);
}

TEST(NnInitTest, NormalAndConstants) {
  Generator gen(2);
  Tensor t = zeros({100, 100}, DType::kF64);
  init::normal_(t, -3, 2, gen);
  const std::vector<double> values = t.to_vector<double>();
  const Moments m = MomentsOf(std::vector<float>(values.begin(), values.end()));
  EXPECT_NEAR(m.mean, -3, 0.05);
  EXPECT_NEAR(m.std, 2, 0.05);
  EXPECT_LT(m.min, -3 - 2 * 2.5);  // not truncated
  init::uniform_(t, -0.5, 0.25, gen);
  const std::vector<double> uniform = t.to_vector<double>();
  const Moments u = MomentsOf(std::vector<float>(uniform.begin(), uniform.end()));
  EXPECT_GE(u.min, -0.5);
  EXPECT_LT(u.max, 0.25);
  EXPECT_NEAR(u.mean, -0.125, 0.01);
  EXPECT_NEAR(u.std, 0.75 / std::sqrt(12.0), 0.01);
  init::ones_(t);
  EXPECT_THAT(t.to_vector<double>(), Each(1.0));
  init::zeros_(t);
  EXPECT_THAT(t.to_vector<double>(), Each(0.0));
  init::constant_(t, 0.25);
  EXPECT_THAT(t.to_vector<double>(), Each(0.25));
  EXPECT_EQ(t.dtype(), DType::kF64);
}

TEST(NnInitTest, SameSeedSameValues) {
  Generator a(7);
  Generator b(7);
  Generator c(8);
  Tensor x = init::trunc_normal_(zeros({50}), 0.02, a);
  Tensor y = init::trunc_normal_(zeros({50}), 0.02, b);
  Tensor z = init::trunc_normal_(zeros({50}), 0.02, c);
  EXPECT_EQ(x.to_vector<float>(), y.to_vector<float>());
  EXPECT_NE(x.to_vector<float>(), z.to_vector<float>());
}

TEST(NnInitTest, ParametersKeepIdentityAndRequiresGrad) {
  Generator gen(3);
  Linear fc(8, 8, gen);
  Tensor w = fc.weight();
  init::normal_(fc.weight(), 0, 1, gen);
  EXPECT_EQ(w.impl(), fc.weight().impl());
  EXPECT_TRUE(fc.weight().requires_grad());
  EXPECT_TRUE(fc.weight().is_leaf());
  EXPECT_GT(MomentsOf(w.to_vector<float>()).std, 0.5);
}

TEST(NnInitTest, ModuleDefaultsFollowVit) {
  Generator gen(4);
  Linear fc(256, 128, gen);
  const Moments w = MomentsOf(fc.weight().to_vector<float>());
  EXPECT_NEAR(w.mean, 0, 0.001);
  EXPECT_NEAR(w.std, 0.8796 * 0.02, 0.001);
  EXPECT_GE(w.min, -0.04);
  EXPECT_LE(w.max, 0.04);
  EXPECT_THAT(fc.bias().to_vector<float>(), Each(0.0f));
  Embedding table(100, 64, gen);
  EXPECT_LE(MomentsOf(table.weight().to_vector<float>()).max, 0.04);
  LayerNorm norm({16});
  // Parameters start materialised, so the first training step traces no initialisation.
  for (const Tensor& p : {fc.weight(), fc.bias(), table.weight(), norm.weight(), norm.bias()}) {
    EXPECT_FALSE(p.is_pending()) << p.ToString();
  }
  EXPECT_THAT(norm.weight().to_vector<float>(), Each(1.0f));
  EXPECT_THAT(norm.bias().to_vector<float>(), Each(0.0f));
}

TEST(NnInitTest, Errors) {
  Generator gen(5);
  EXPECT_THAT(ErrorOf([&] { init::trunc_normal_(zeros({2}, DType::kI64), 0.02, gen); }),
              HasSubstr("trunc_normal_: expected a floating tensor, got i64[2]"));
  EXPECT_THAT(ErrorOf([&] { init::trunc_normal_(zeros({2}), 0, gen); }),
              HasSubstr("trunc_normal_: std must be positive, got 0"));
  EXPECT_THAT(ErrorOf([&] { init::normal_(Tensor(), 0, 1, gen); }),
              HasSubstr("normal_: the tensor is undefined"));
  EXPECT_THAT(ErrorOf([&] { init::zeros_(Tensor()); }),
              HasSubstr("zeros_: the tensor is undefined"));
}

TEST(NnInitTest, ConstantFillsAcceptEveryDType) {
  Tensor counts = zeros({3}, DType::kI32);
  init::ones_(counts);
  EXPECT_FALSE(counts.is_pending());
  EXPECT_THAT(counts.to_vector<int32_t>(), Each(1));
}

}  // namespace
}  // namespace kiln::nn
