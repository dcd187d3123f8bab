// kiln's own f32 gemm against a double-precision reference: every transpose combination,
// sizes on both sides of the 6x16 register tile, the 48-row chunks, the 8x8 transposes and
// the in-place/copied panels of op(B), padded row strides, and nothing written outside C.
#include "backends/cpu/avx2_sgemm.h"

#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "gtest/gtest.h"

namespace kiln::cpu {
namespace {

struct Product {
  bool ta, tb;
  int64_t m, n, k;
};

// Runs one product with row strides padded past the matrices' widths; C's padding and
// the row past its end start as NaN and must stay so.
void ExpectMatchesReference(const Product& p, std::mt19937& rng) {
  const int64_t a_rows = p.ta ? p.k : p.m, a_cols = p.ta ? p.m : p.k;
  const int64_t b_rows = p.tb ? p.n : p.k, b_cols = p.tb ? p.k : p.n;
  const int64_t lda = a_cols + 3, ldb = b_cols + 5, ldc = p.n + 2;
  std::uniform_real_distribution<float> value(-1.0f, 1.0f);
  std::vector<float> a(a_rows * lda + 1), b(b_rows * ldb + 1);
  for (float& x : a) x = value(rng);
  for (float& x : b) x = value(rng);
  const float nan = std::numeric_limits<float>::quiet_NaN();
  std::vector<float> c((p.m + 1) * ldc, nan);

  Avx2Sgemm(p.ta, p.tb, p.m, p.n, p.k, a.data(), lda, b.data(), ldb, c.data(), ldc);

  auto at = [](const std::vector<float>& x, bool t, int64_t ld, int64_t i, int64_t j) {
    return static_cast<double>(t ? x[j * ld + i] : x[i * ld + j]);
  };
  for (int64_t i = 0; i <= p.m; ++i) {
    for (int64_t j = 0; j < ldc; ++j) {
      const float got = c[i * ldc + j];
      if (i == p.m || j >= p.n) {
        ASSERT_TRUE(std::isnan(got)) << "wrote outside C at [" << i << "," << j << "]";
        continue;
      }
      double sum = 0, magnitude = 0;
      for (int64_t q = 0; q < p.k; ++q) {
        const double term = at(a, p.ta, lda, i, q) * at(b, p.tb, ldb, q, j);
        sum += term;
        magnitude += std::fabs(term);
      }
      const double tolerance = 4.0 * (p.k + 1) * std::numeric_limits<float>::epsilon() * magnitude;
      ASSERT_NEAR(got, sum, tolerance) << "C[" << i << "," << j << "]";
    }
  }
}

TEST(Avx2SgemmTest, MatchesReferenceOnEveryTransposeAndRaggedSize) {
  if (!Avx2SgemmSupported()) GTEST_SKIP() << "CPU without AVX2 and FMA";
  std::mt19937 rng(20261205);
  int products = 0;
  for (const bool ta : {false, true}) {
    for (const bool tb : {false, true}) {
      for (const int64_t m : {1, 5, 6, 7, 13, 48, 53, 100}) {
        for (const int64_t n : {1, 8, 15, 16, 17, 33, 64}) {
          for (const int64_t k : {0, 1, 7, 8, 9, 17, 64, 128, 300}) {
            SCOPED_TRACE(testing::Message()
                         << "ta=" << ta << " tb=" << tb << " m=" << m << " n=" << n << " k=" << k);
            ExpectMatchesReference({ta, tb, m, n, k}, rng);
            if (testing::Test::HasFatalFailure()) return;
            ++products;
          }
        }
      }
    }
  }
  EXPECT_EQ(products, 2 * 2 * 8 * 7 * 9);
}

TEST(Avx2SgemmTest, EmptyProductsWriteNothing) {
  if (!Avx2SgemmSupported()) GTEST_SKIP() << "CPU without AVX2 and FMA";
  const float a[4] = {1, 2, 3, 4}, b[4] = {5, 6, 7, 8};
  float c[4] = {-1, -1, -1, -1};
  Avx2Sgemm(false, false, 0, 2, 2, a, 2, b, 2, c, 2);
  Avx2Sgemm(false, false, 2, 0, 2, a, 2, b, 2, c, 2);
  for (float x : c) EXPECT_EQ(x, -1);
}

TEST(Avx2SgemmTest, PreferredForShortInnerDimensionsAndWhenEnabled) {
  const bool cpu = Avx2SgemmSupported() && !__builtin_cpu_supports("avx512f");
  EXPECT_EQ(PreferAvx2Sgemm(false, 128, 64), cpu);   // attention at L = 128
  EXPECT_EQ(PreferAvx2Sgemm(false, 768, 192), cpu);  // a Linear's forward
  EXPECT_EQ(PreferAvx2Sgemm(false, 192, 768), cpu);  // its input gradient
  EXPECT_EQ(PreferAvx2Sgemm(true, 64, 64), cpu);
  EXPECT_FALSE(PreferAvx2Sgemm(false, 192, 4096));  // a weight gradient: k past 768
  EXPECT_FALSE(PreferAvx2Sgemm(true, 64, 128));     // transposed A: k past 64
  EXPECT_FALSE(PreferAvx2Sgemm(false, 4096, 512));  // op(B) past 1Mi floats
  SetAvx2SgemmEnabled(false);
  EXPECT_FALSE(PreferAvx2Sgemm(false, 128, 64));
  SetAvx2SgemmEnabled(true);
  EXPECT_EQ(PreferAvx2Sgemm(false, 128, 64), cpu);
}

}  // namespace
}  // namespace kiln::cpu
