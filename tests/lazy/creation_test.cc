#include "lazy/creation.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "ir/graph.h"
#include "lazy/ops.h"
#include "tests/lazy/op_test_util.h"

namespace kiln {
namespace {

using ::kiln::testing::ErrorOf;
using ::kiln::testing::Near;
using ::testing::Each;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(CreationTest, FullTakesItsDtypeFromTheScalar) {
  Tensor f = full({2, 3}, 1.5);
  EXPECT_EQ(f.shape().ToString(), "f32[2,3]");
  EXPECT_THAT(f.to_vector<float>(), Each(1.5f));
  Tensor i = full({2}, 7);
  EXPECT_EQ(i.shape().ToString(), "i64[2]");
  EXPECT_THAT(i.to_vector<int64_t>(), ElementsAre(7, 7));
  Tensor b = full({1, 2}, true);
  EXPECT_EQ(b.shape().ToString(), "bool[1,2]");
  EXPECT_THAT(b.to_vector<bool>(), ElementsAre(true, true));
  Tensor d = full({3}, 2, DType::kF64);
  EXPECT_THAT(d.to_vector<double>(), ElementsAre(2.0, 2.0, 2.0));
  Tensor scalar = full({}, -4.0);
  EXPECT_EQ(scalar.shape().ToString(), "f32[]");
  EXPECT_DOUBLE_EQ(scalar.item(), -4.0);
  EXPECT_TRUE(full({0, 5}, 1.0).to_vector<float>().empty());
}

TEST(CreationTest, FullValueDoesNotChangeTheGraph) {
  Tensor a = full({2, 2}, 0.5);
  Tensor b = full({2, 2}, 0.25);
  EXPECT_EQ(Graph::Build({a.value()}).hash(), Graph::Build({b.value()}).hash());
  EXPECT_THAT(a.to_vector<float>(), Each(0.5f));
  EXPECT_THAT(b.to_vector<float>(), Each(0.25f));
}

TEST(CreationTest, ZerosOnesAndConstant) {
  Tensor z = zeros({2, 2});
  EXPECT_EQ(z.shape().ToString(), "f32[2,2]");
  EXPECT_THAT(z.to_vector<float>(), Each(0.0f));
  Tensor o = ones({3}, DType::kI32);
  EXPECT_THAT(o.to_vector<int32_t>(), ElementsAre(1, 1, 1));
  EXPECT_THAT(ones({2}, DType::kBool).to_vector<bool>(), ElementsAre(true, true));
  EXPECT_THAT(zeros({1}, DType::kF64).to_vector<double>(), ElementsAre(0.0));
  Tensor c = constant(2.5);
  EXPECT_EQ(c.shape().ToString(), "f32[]");
  EXPECT_DOUBLE_EQ(c.item(), 2.5);
  EXPECT_DOUBLE_EQ(constant(3, DType::kI64).item(), 3);
  // A constant is baked into the code: a new value is a new graph.
  EXPECT_NE(constant(1.0).value().hash(), constant(2.0).value().hash());
  EXPECT_EQ(constant(1.0).value().node->op(), OpKind::kConstant);
}

TEST(CreationTest, Arange) {
  Tensor a = arange(5);
  EXPECT_EQ(a.shape().ToString(), "i64[5]");
  EXPECT_THAT(a.to_vector<int64_t>(), ElementsAre(0, 1, 2, 3, 4));
  Tensor f = arange(1, 2, 0.25, DType::kF32);
  EXPECT_THAT(f.to_vector<float>(), Near({1.0f, 1.25f, 1.5f, 1.75f}));
  // The size rounds up: [0, 1) in steps of 0.3 has 4 entries.
  EXPECT_THAT(arange(0, 1, 0.3, DType::kF64).to_vector<double>(),
              ElementsAre(0.0, ::testing::DoubleNear(0.3, 1e-12), ::testing::DoubleNear(0.6, 1e-12),
                          ::testing::DoubleNear(0.9, 1e-12)));
  EXPECT_THAT(arange(5, 0, -2).to_vector<int64_t>(), ElementsAre(5, 3, 1));
  EXPECT_EQ(arange(0, DType::kI32).shape().ToString(), "i32[0]");
  EXPECT_EQ(arange(2.5, 2.5, -1).shape().ToString(), "i64[0]");
  // A step that leads away from the end is an error, as in torch.
  EXPECT_THAT(ErrorOf([] { arange(-3, DType::kI32); }),
              HasSubstr("arange: step 1 leads away from end -3 (start 0)"));
  EXPECT_THAT(ErrorOf([] { arange(0, 5, -1); }),
              HasSubstr("arange: step -1 leads away from end 5 (start 0)"));
  EXPECT_THAT(ErrorOf([] { arange(0, 5, 0); }),
              HasSubstr("arange: expected finite bounds and a non-zero step"));
  EXPECT_THAT(ErrorOf([] { arange(3, DType::kBool); }),
              HasSubstr("arange: expected a numeric dtype"));
}

TEST(CreationTest, RandIsReproducibleAndInRange) {
  Generator g1(42), g2(42);
  Tensor a = rand({100}, g1);
  Tensor b = rand({100}, g2);
  EXPECT_EQ(a.shape().ToString(), "f32[100]");
  std::vector<float> va = a.to_vector<float>();
  EXPECT_EQ(va, b.to_vector<float>());
  for (float v : va) {
    EXPECT_GE(v, 0.0f);
    EXPECT_LE(v, 1.0f);
  }
  // The stream is the generator's: the first value is its first double.
  Generator ref(42);
  EXPECT_EQ(va[0], static_cast<float>(ref.NextDouble()));
  // The generator advances: a second draw differs.
  EXPECT_NE(rand({100}, g1).to_vector<float>(), va);
  Generator g3(1);
  Tensor d = rand({2, 2}, g3, DType::kF64);
  EXPECT_EQ(d.shape().ToString(), "f64[2,2]");
  Generator ref3(1);
  EXPECT_EQ(d.to_vector<double>()[0], ref3.NextDouble());
}

TEST(CreationTest, RandnMoments) {
  Generator gen(2024);
  std::vector<float> v = randn({100, 100}, gen).to_vector<float>();
  double sum = 0, sum_sq = 0;
  for (float x : v) {
    sum += x;
    sum_sq += double{x} * x;
  }
  const double mean = sum / v.size();
  EXPECT_NEAR(mean, 0.0, 0.05);
  EXPECT_NEAR(std::sqrt(sum_sq / v.size() - mean * mean), 1.0, 0.05);
  Generator a(3), b(3);
  EXPECT_EQ(randn({4}, a).to_vector<float>(), randn({4}, b).to_vector<float>());
}

TEST(CreationTest, TruncNormalStaysInBounds) {
  Generator gen(8);
  std::vector<double> v =
      trunc_normal({5000}, gen, 1.0, 2.0, -0.5, 1.5, DType::kF64).to_vector<double>();
  double sum = 0;
  for (double x : v) {
    ASSERT_GE(x, -0.5);
    ASSERT_LE(x, 1.5);
    sum += x;
  }
  // Symmetric around 0.5 would give 0.5; the mass is skewed toward the mean 1.0.
  EXPECT_GT(sum / v.size(), 0.5);
  Generator std_gen(9);
  for (float x : trunc_normal({1000}, std_gen).to_vector<float>()) {
    ASSERT_GE(x, -2.0f);
    ASSERT_LE(x, 2.0f);
  }
}

TEST(CreationTest, NormalIsAShiftedScaledRandn) {
  Generator a(11), b(11);
  std::vector<double> shifted = normal({64}, a, 3.0, 0.5, DType::kF64).to_vector<double>();
  std::vector<double> standard = randn({64}, b, DType::kF64).to_vector<double>();
  for (size_t i = 0; i < shifted.size(); ++i)
    EXPECT_NEAR(shifted[i], 3.0 + 0.5 * standard[i], 1e-12);
}

TEST(CreationTest, UniformIsAShiftedScaledRand) {
  Generator a(12), b(12);
  const std::vector<double> u = uniform({64}, a, -2.0, 0.5, DType::kF64).to_vector<double>();
  const std::vector<double> r = rand({64}, b, DType::kF64).to_vector<double>();
  for (size_t i = 0; i < u.size(); ++i) EXPECT_NEAR(u[i], -2.0 + 2.5 * r[i], 1e-12);
  // f32 values stay below the upper bound even where rounding would reach it.
  Generator c(13);
  for (float v : uniform({4000}, c, 0.0, 1e-30).to_vector<float>()) {
    EXPECT_GE(v, 0.0f);
    EXPECT_LT(v, 1e-30f);
  }
}

TEST(CreationTest, FullDataIsUploadedNotRecorded) {
  Tensor lazy = full({2, 3}, 1.5);
  Tensor data = full_data({2, 3}, 1.5);
  EXPECT_TRUE(lazy.is_pending());
  EXPECT_FALSE(data.is_pending());
  EXPECT_EQ(data.to_vector<float>(), lazy.to_vector<float>());
  EXPECT_EQ(full_data({2}, 7, DType::kI64).to_vector<int64_t>(), (std::vector<int64_t>{7, 7}));
  EXPECT_EQ(full_data({0}, 1).numel(), 0);
}

TEST(CreationTest, Errors) {
  Generator gen(1);
  EXPECT_THAT(ErrorOf([] { zeros({2, -1}); }), HasSubstr("zeros: sizes [2,-1] must be >= 0"));
  EXPECT_THAT(ErrorOf([] { full({-3}, 1.0); }), HasSubstr("full: sizes [-3] must be >= 0"));
  EXPECT_THAT(ErrorOf([&] { rand({2}, gen, DType::kI64); }),
              HasSubstr("rand: expected a floating dtype (f32 or f64), got i64"));
  EXPECT_THAT(ErrorOf([&] { randn({2}, gen, DType::kBool); }),
              HasSubstr("randn: expected a floating dtype"));
  EXPECT_THAT(ErrorOf([&] { trunc_normal({2}, gen, 0, 1, 1, -1); }),
              HasSubstr("trunc_normal: expected std > 0 and a < b"));
  EXPECT_THAT(ErrorOf([&] { trunc_normal({2}, gen, 0, 1, 50, 60); }),
              HasSubstr("trunc_normal: [50, 60] holds almost none of Normal(0, 1)"));
  EXPECT_THAT(ErrorOf([&] { uniform({2}, gen, 1, 1); }),
              HasSubstr("uniform: expected finite bounds low < high, got low=1 high=1"));
  EXPECT_THAT(ErrorOf([&] { normal({2}, gen, 0, -1); }),
              HasSubstr("normal: expected a finite mean and std >= 0, got mean=0 std=-1"));
  EXPECT_THAT(ErrorOf([] { full_data({-1}, 0); }), HasSubstr("full_data: sizes [-1] must be >= 0"));
  EXPECT_THAT(ErrorOf([] { ones({2}, DType::kF16); }),
              HasSubstr("ones: dtype f16 is not supported by any op yet"));
}

}  // namespace
}  // namespace kiln
