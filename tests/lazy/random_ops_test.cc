// rand_like and randn_like: random numbers computed inside the graph (rand_uniform nodes,
// Philox4x32-10 of each element's position under a key drawn from the generator). Exact
// against the generator's keys on every backend, statistically uniform and normal, new
// every draw without recompiling, and without gradients of their own.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <vector>

#include "codegen/kernel_numerics.h"
#include "lazy/autograd.h"
#include "lazy/creation.h"
#include "lazy/generator.h"
#include "lazy/ops.h"
#include "tests/lazy/op_test_util.h"
#include "util/metrics.h"

namespace kiln {
namespace {

using ::kiln::testing::ErrorOf;
using ::testing::HasSubstr;

// The key rand_like takes from a generator seeded with `seed`, after `skip` earlier draws.
int64_t KeyOf(uint64_t seed, int skip = 0) {
  Generator g(seed);
  for (int i = 0; i < skip; ++i) g.NextU64();
  return static_cast<int64_t>(g.NextU64() >> 11);
}

TEST(RandLikeTest, IsPhiloxOfEachPositionUnderAKeyFromTheGenerator) {
  // Two sizes in turn: the position comes from the runtime sizes of the compiled code.
  for (int64_t cols : {41, 67}) {
    Generator gen(5);
    const std::vector<float> u = rand_like(zeros({37, cols}), gen).to_vector<float>();
    const int64_t key = KeyOf(5);
    for (int64_t i = 0; i < 37 * cols; ++i) {
      ASSERT_EQ(u[i], numerics::RandUniform<float>(key, i)) << i;
    }
  }
  // f64, shaped like a transpose, and added to it: positions are those of x's shape.
  Generator gen(6);
  const Tensor x = permute(Tensor::from_vector<double>({1, 2, 3, 4, 5, 6}, {2, 3}), {1, 0});
  const std::vector<double> y = add(x, rand_like(x, gen)).to_vector<double>();
  const std::vector<double> xs = x.to_vector<double>();
  const int64_t key = KeyOf(6);
  for (int64_t i = 0; i < 6; ++i) {
    EXPECT_EQ(y[i], xs[i] + numerics::RandUniform<double>(key, i)) << i;
  }
}

TEST(RandLikeTest, UniformInZeroOneWithTheMomentsOfUniform) {
  Generator gen(7);
  constexpr int64_t kN = 200000;
  const std::vector<float> u = rand_like(zeros({kN}), gen).to_vector<float>();
  double sum = 0, sq = 0;
  std::vector<int64_t> bins(20, 0);
  for (float v : u) {
    ASSERT_TRUE(v >= 0 && v < 1) << v;
    sum += v;
    sq += v * v;
    ++bins[static_cast<int>(v * 20)];
  }
  const double mean = sum / kN;
  EXPECT_NEAR(mean, 0.5, 0.003);  // sd 0.00065
  EXPECT_NEAR(sq / kN - mean * mean, 1.0 / 12, 0.002);
  for (int64_t b : bins) EXPECT_NEAR(b, kN / 20, 500);  // sd 97
}

TEST(RandLikeTest, ReproducibleFromTheSeedNewEveryDrawAndNothingRecompiles) {
  Generator a(8), b(8);
  const Tensor x = zeros({64, 48});
  const std::vector<float> first = rand_like(x, a).to_vector<float>();
  EXPECT_EQ(rand_like(x, b).to_vector<float>(), first);
  // One step: a fresh draw (a new key, a runtime scalar) on the same graph.
  const auto step = [&] { return sum(rand_like(x, a)).item(); };
  const double s1 = step();
  const int64_t compiles = metrics::counter("UncachedCompile");
  const int64_t hits = metrics::counter("CachedCompile");
  const double s2 = step();
  const double s3 = step();
  EXPECT_EQ(metrics::counter("UncachedCompile"), compiles);
  EXPECT_EQ(metrics::counter("CachedCompile"), hits + 2);
  EXPECT_NE(s1, s2);
  EXPECT_NE(s2, s3);
  for (double s : {s1, s2, s3}) EXPECT_NEAR(s / (64 * 48), 0.5, 0.03);
}

TEST(RandnLikeTest, BoxMullerOfTwoDrawsWithStandardNormalMoments) {
  Generator gen(9);
  constexpr int64_t kN = 200000;
  const std::vector<float> z = randn_like(zeros({kN}), gen).to_vector<float>();
  const int64_t k1 = KeyOf(9), k2 = KeyOf(9, 1);
  double sum = 0, sq = 0;
  int64_t within1 = 0, within3 = 0;
  for (int64_t i = 0; i < kN; ++i) {
    const double u = numerics::RandUniform<float>(k1, i);
    const double v = numerics::RandUniform<float>(k2, i);
    const double want = std::sqrt(-2 * std::log(1 - u)) * std::cos(2 * M_PI * v);
    ASSERT_NEAR(z[i], want, 2e-5 * std::max(1.0, std::fabs(want))) << i;
    sum += z[i];
    sq += double{z[i]} * z[i];
    within1 += std::fabs(z[i]) < 1;
    within3 += std::fabs(z[i]) < 3;
  }
  EXPECT_NEAR(sum / kN, 0, 0.01);  // sd 0.0022
  EXPECT_NEAR(sq / kN, 1, 0.015);  // sd 0.0032
  EXPECT_NEAR(static_cast<double>(within1) / kN, 0.682689, 0.005);
  EXPECT_NEAR(static_cast<double>(within3) / kN, 0.997300, 0.001);
}

TEST(RandLikeTest, NoiseHasNoGradientAndPassesXsThrough) {
  Generator gen(10);
  Tensor x = Tensor::from_vector<float>({1, -2, 3, 0.5f}, {2, 2});
  x.requires_grad_();
  EXPECT_FALSE(rand_like(x, gen).requires_grad());
  Tensor noise = randn_like(x, gen);
  EXPECT_FALSE(noise.requires_grad());
  sum(mul(add(x, mul(noise, 0.1)), 2.0)).backward();
  EXPECT_EQ(x.grad().to_vector<float>(), std::vector<float>(4, 2.0f));
}

TEST(RandLikeTest, Errors) {
  Generator gen(11);
  EXPECT_THAT(
      ErrorOf([&] {
        rand_like(Tensor::from_vector<int32_t>({1, 2}, {2}), gen);
      }),
      HasSubstr("rand_like: expected a floating dtype (f32 or f64), got i32 for sizes [2]"));
  EXPECT_THAT(ErrorOf([&] { randn_like(zeros({2}, DType::kBool), gen); }),
              HasSubstr("randn_like: expected a floating dtype (f32 or f64), got bool"));
  EXPECT_THAT(ErrorOf([&] { rand_like(Tensor(), gen); }),
              HasSubstr("rand_like: input is an undefined tensor"));
}

}  // namespace
}  // namespace kiln
