// codegen/kernel_sums.h: block sums of every length up to a full block (each tail and
// vector remainder), against a long double reference; NaN and infinities propagate.
#include "codegen/kernel_sums.h"

#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <vector>

#include "gtest/gtest.h"

namespace kiln::sums {
namespace {

template <typename T>
void ExpectSumsMatch(double tolerance) {
  std::mt19937 rng(11);
  std::uniform_real_distribution<double> dist(-3.0, 5.0);
  std::vector<T> x(1024);
  for (T& v : x) v = static_cast<T>(dist(rng));
  for (int64_t n = 0; n <= 1024; n += (n < 300 ? 1 : 181)) {
    long double want = 0;
    long double magnitude = 0;
    for (int64_t i = 0; i < n; ++i) {
      want += x[i];
      magnitude += std::fabs(static_cast<long double>(x[i]));
    }
    const T got = BlockSum(x.data(), n);
    EXPECT_NEAR(static_cast<double>(got), static_cast<double>(want),
                tolerance * static_cast<double>(magnitude) + 1e-30)
        << "n = " << n;
  }
}

TEST(KernelSumsTest, FloatSumsOfEveryLengthMatchTheExactSum) { ExpectSumsMatch<float>(1e-6); }

TEST(KernelSumsTest, DoubleSumsOfEveryLengthMatchTheExactSum) { ExpectSumsMatch<double>(1e-15); }

TEST(KernelSumsTest, NaNAndInfinitiesPropagate) {
  const float inf = std::numeric_limits<float>::infinity();
  for (int64_t n : {1, 15, 16, 17, 64, 65, 200}) {
    for (int64_t at : {int64_t{0}, n / 2, n - 1}) {
      std::vector<float> x(static_cast<size_t>(n), 1.0f);
      x[at] = std::nanf("");
      EXPECT_TRUE(std::isnan(BlockSum(x.data(), n))) << n << " " << at;
      x[at] = inf;
      EXPECT_EQ(BlockSum(x.data(), n), inf) << n << " " << at;
      if (n > 1) {
        x[(at + 1) % n] = -inf;
        EXPECT_TRUE(std::isnan(BlockSum(x.data(), n))) << n << " " << at;
      }
    }
  }
}

}  // namespace
}  // namespace kiln::sums
