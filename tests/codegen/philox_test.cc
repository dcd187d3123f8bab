// Philox4x32-10 and the rand_uniform conversion (codegen/kernel_numerics.h), which the
// interpreter calls and every generated kernel embeds.
#include <array>
#include <cmath>
#include <cstdint>
#include <vector>

#include "codegen/kernel_numerics.h"
#include "gtest/gtest.h"

namespace kiln {
namespace {

std::array<uint32_t, 4> Philox(std::array<uint32_t, 4> counter, uint32_t k0, uint32_t k1) {
  const unsigned int c[4] = {counter[0], counter[1], counter[2], counter[3]};
  const numerics::Philox4 r = numerics::Philox4x32(c, k0, k1);
  return {r.w[0], r.w[1], r.w[2], r.w[3]};
}

TEST(PhiloxTest, KnownAnswersOfRandom123) {
  // The three philox4x32 10 vectors of Random123's tests/kat_vectors.
  using A = std::array<uint32_t, 4>;
  EXPECT_EQ(Philox({0, 0, 0, 0}, 0, 0), (A{0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8}));
  EXPECT_EQ(Philox({~0u, ~0u, ~0u, ~0u}, ~0u, ~0u),
            (A{0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd}));
  EXPECT_EQ(Philox({0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344}, 0xa4093822, 0x299f31d0),
            (A{0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1}));
}

TEST(PhiloxTest, UniformIsTheTopBitsOfTheFirstWordsOnAnExactGrid) {
  const long long key = 0x1234567890abcdLL;
  for (long long index : {0LL, 1LL, 4096LL, (1LL << 32) + 5}) {
    const auto w = Philox({static_cast<uint32_t>(index), static_cast<uint32_t>(index >> 32), 0, 0},
                          static_cast<uint32_t>(key), static_cast<uint32_t>(key >> 32));
    const float f = numerics::RandUniform<float>(key, index);
    EXPECT_EQ(f, std::ldexp(static_cast<double>(w[0] >> 8), -24)) << index;
    const double d = numerics::RandUniform<double>(key, index);
    const uint64_t bits = (uint64_t{w[0]} << 21) | (w[1] >> 11);
    EXPECT_EQ(d, std::ldexp(static_cast<double>(bits), -53)) << index;
  }
}

TEST(PhiloxTest, UniformLooksUniformAndIndependent) {
  // 2^16 draws in 64 bins: chi-square with 63 degrees of freedom (mean 63, sd 11.2); and the
  // correlation of neighbours (sd 1/sqrt(n) = 0.004).
  constexpr int kN = 1 << 16, kBins = 64;
  for (long long key : {0LL, 1LL, 977LL, (1LL << 52) + 3}) {
    std::vector<int> counts(kBins, 0);
    double sum = 0, lag = 0, prev = 0;
    for (int i = 0; i < kN; ++i) {
      const double u = numerics::RandUniform<float>(key, i);
      ASSERT_TRUE(u >= 0 && u < 1) << u;
      ++counts[static_cast<int>(u * kBins)];
      sum += u;
      lag += (u - 0.5) * (prev - 0.5);
      prev = u;
    }
    double chi2 = 0;
    const double expected = static_cast<double>(kN) / kBins;
    for (int c : counts) chi2 += (c - expected) * (c - expected) / expected;
    EXPECT_LT(chi2, 63 + 5 * 11.2) << key;
    EXPECT_NEAR(sum / kN, 0.5, 0.005) << key;
    EXPECT_NEAR(lag / kN * 12, 0, 0.02) << key;
  }
  // Keys one apart give unrelated streams.
  int equal = 0;
  for (int i = 0; i < 1000; ++i) {
    equal += numerics::RandUniform<float>(7, i) == numerics::RandUniform<float>(8, i);
  }
  EXPECT_LE(equal, 1);
}

}  // namespace
}  // namespace kiln
