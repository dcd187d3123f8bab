#include "lazy/generator.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <numbers>
#include <vector>

#include "util/error.h"

namespace kiln {
namespace {

// An independent, literal transcription of the published SplitMix64 and xoshiro256**
// reference code, to check the generator's streams bit for bit.
struct ReferenceXoshiro {
  uint64_t s[4];
  explicit ReferenceXoshiro(uint64_t seed) {
    uint64_t x = seed;
    for (uint64_t& w : s) w = SplitMix(x);
  }
  static uint64_t SplitMix(uint64_t& x) {
    uint64_t z = (x += 0x9e3779b97f4a7c15);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9;
    z = (z ^ (z >> 27)) * 0x94d049bb133111eb;
    return z ^ (z >> 31);
  }
  static uint64_t rotl(const uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  uint64_t next() {
    const uint64_t result = rotl(s[1] * 5, 7) * 9;
    const uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
  }
};

TEST(GeneratorTest, ReferenceMatchesPublishedValues) {
  uint64_t x = 0;
  EXPECT_EQ(ReferenceXoshiro::SplitMix(x), 0xe220a8397b1dcdafULL);
  ReferenceXoshiro r(0);
  r.s[0] = 1, r.s[1] = 2, r.s[2] = 3, r.s[3] = 4;
  EXPECT_EQ(r.next(), 11520u);  // rotl(2 * 5, 7) * 9
}

TEST(GeneratorTest, KnownFirstValues) {
  // Computed once with an independent implementation.
  Generator gen(42);
  EXPECT_EQ(gen.NextU64(), 0x15780b2e0c2ec716ULL);
  EXPECT_EQ(gen.NextU64(), 0x6104d9866d113a7eULL);
  EXPECT_EQ(gen.NextU64(), 0xae17533239e499a1ULL);
  Generator zero(0);
  EXPECT_EQ(zero.NextU64(), 0x99ec5f36cb75f2b4ULL);
  Generator u(42);
  EXPECT_DOUBLE_EQ(u.NextDouble(), 0.08386297105988216);
  Generator n(7);
  EXPECT_NEAR(n.NextNormal(), -0.2790239910251981, 1e-15);
  EXPECT_NEAR(n.NextNormal(), 1.5277231859624536, 1e-15);  // the Box-Muller pair's sine half
}

TEST(GeneratorTest, MatchesReferenceOverALongStream) {
  for (uint64_t seed : {uint64_t{0}, uint64_t{1}, uint64_t{123456789}, ~uint64_t{0}}) {
    Generator gen(seed);
    ReferenceXoshiro ref(seed);
    for (int i = 0; i < 1000; ++i)
      ASSERT_EQ(gen.NextU64(), ref.next()) << "seed " << seed << " i " << i;
  }
}

TEST(GeneratorTest, SameSeedSameStreamDifferentSeedDifferentStream) {
  Generator a(5), b(5), c(6);
  std::vector<double> va, vb, vc;
  for (int i = 0; i < 16; ++i) {
    va.push_back(a.NextNormal());
    vb.push_back(b.NextNormal());
    vc.push_back(c.NextNormal());
  }
  EXPECT_EQ(va, vb);
  EXPECT_NE(va, vc);
}

TEST(GeneratorTest, UniformDoublesAreInRangeWithTheRightMoments) {
  Generator gen(3);
  constexpr int kN = 10000;
  double sum = 0, sum_sq = 0;
  for (int i = 0; i < kN; ++i) {
    const double u = gen.NextDouble();
    ASSERT_GE(u, 0.0);
    ASSERT_LT(u, 1.0);
    sum += u;
    sum_sq += u * u;
  }
  const double mean = sum / kN;
  EXPECT_NEAR(mean, 0.5, 0.02);
  EXPECT_NEAR(sum_sq / kN - mean * mean, 1.0 / 12, 0.005);
}

TEST(GeneratorTest, NormalsHaveZeroMeanAndUnitVariance) {
  Generator gen(11);
  constexpr int kN = 10000;
  double sum = 0, sum_sq = 0;
  for (int i = 0; i < kN; ++i) {
    const double x = gen.NextNormal();
    ASSERT_TRUE(std::isfinite(x));
    sum += x;
    sum_sq += x * x;
  }
  const double mean = sum / kN;
  EXPECT_NEAR(mean, 0.0, 0.05);
  EXPECT_NEAR(std::sqrt(sum_sq / kN - mean * mean), 1.0, 0.05);
}

TEST(GeneratorTest, NextBelowCoversTheRangeEvenly) {
  Generator gen(9);
  std::vector<int> counts(6, 0);
  for (int i = 0; i < 6000; ++i) {
    const uint64_t v = gen.NextBelow(6);
    ASSERT_LT(v, 6u);
    ++counts[v];
  }
  for (int c : counts) EXPECT_NEAR(c, 1000, 150);
  EXPECT_EQ(gen.NextBelow(1), 0u);
}

// Mid-stream, with a Box-Muller spare pending: another generator set to the state draws
// exactly what the original goes on to draw.
TEST(GeneratorTest, SetStateContinuesTheStreamExactly) {
  Generator gen(21);
  gen.NextU64();
  gen.NextNormal();  // leaves the spare normal pending
  const Generator::State state = gen.state();
  EXPECT_EQ(state[4], 1u);
  Generator other(99);
  other.set_state(state);
  EXPECT_EQ(other.state(), state);
  EXPECT_EQ(other.NextNormal(), gen.NextNormal());  // the spare
  for (int i = 0; i < 100; ++i) {
    ASSERT_EQ(other.NextU64(), gen.NextU64());
    ASSERT_EQ(other.NextNormal(), gen.NextNormal());
  }
}

TEST(GeneratorTest, SetStateRejectsStatesNoGeneratorHasAndKeepsItsOwn) {
  Generator gen(22);
  const Generator::State before = gen.state();
  EXPECT_EQ(before[4], 0u);
  const auto error_of = [&](const Generator::State& state) -> std::string {
    try {
      gen.set_state(state);
    } catch (const Error& e) {
      return e.what();
    }
    return "no error";
  };
  EXPECT_THAT(error_of({0, 0, 0, 0, 0, 0}),
              ::testing::HasSubstr("Generator::set_state: the four stream words are all zero"));
  EXPECT_THAT(error_of({1, 2, 3, 4, 2, 0}),
              ::testing::HasSubstr("the spare-normal flag must be 0 or 1, got 2"));
  EXPECT_EQ(gen.state(), before);
}

}  // namespace
}  // namespace kiln
