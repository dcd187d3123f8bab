// Accuracy of codegen/kernel_math.h over the whole f32 range: every 1021st bit pattern
// (4.2 million inputs, both signs, subnormals to infinities) against the C library's
// f64 result, in ulps of the correctly rounded f32 result; plus the special values.
#include "codegen/kernel_math.h"

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>

#include "gtest/gtest.h"

namespace kiln::math {
namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();
constexpr float kNan = std::numeric_limits<float>::quiet_NaN();
constexpr float kMinNormal = std::numeric_limits<float>::min();
constexpr float kMinSubnormal = std::numeric_limits<float>::denorm_min();

// |got - exact| in units of the last place of the f32 result nearest `exact` (subnormal
// results: units of 2^-149). Results that must be inf or NaN count as exact or as huge.
double UlpError(float got, double exact) {
  if (std::isnan(exact)) return std::isnan(got) ? 0 : 1e30;
  const float rounded = static_cast<float>(exact);
  if (std::isinf(rounded) || std::isinf(got) || std::isnan(got)) return got == rounded ? 0 : 1e30;
  int exponent = 0;
  std::frexp(exact == 0 ? 1.0 : exact, &exponent);
  const double ulp = std::ldexp(1.0, std::max(exponent - 1, -126) - 23);
  return std::fabs(static_cast<double>(got) - exact) / ulp;
}

struct Worst {
  double ulp = 0;
  float at = 0;
};

template <typename F, typename R>
Worst MaxUlp(F f, R exact) {
  Worst worst;
  for (uint64_t bits = 0; bits < (uint64_t{1} << 32); bits += 1021) {
    const uint32_t b = static_cast<uint32_t>(bits);
    float x;
    std::memcpy(&x, &b, sizeof(x));
    const double err = UlpError(f(x), exact(static_cast<double>(x)));
    if (err > worst.ulp) worst = {err, x};
  }
  return worst;
}

// Exact, sign of zero and NaN included, on every 1021st bit pattern and around the
// boundaries (halves, 2^23).
TEST(KernelMathTest, FloorCeilAndRintAreExact) {
  const auto same = [](float a, float b) {
    return (std::isnan(a) && std::isnan(b)) || std::memcmp(&a, &b, sizeof(a)) == 0;
  };
  const auto check = [&](float x) {
    ASSERT_TRUE(same(FloorF(x), std::floor(x))) << "floor " << x;
    ASSERT_TRUE(same(CeilF(x), std::ceil(x))) << "ceil " << x;
    ASSERT_TRUE(same(RintF(x), std::nearbyint(x))) << "rint " << x;
  };
  for (uint64_t bits = 0; bits < (uint64_t{1} << 32); bits += 1021) {
    const uint32_t b = static_cast<uint32_t>(bits);
    float x;
    std::memcpy(&x, &b, sizeof(x));
    check(x);
  }
  for (float x : {0.0f,
                  -0.0f,
                  0.5f,
                  -0.5f,
                  1.5f,
                  -1.5f,
                  2.5f,
                  -2.5f,
                  0.49999997f,
                  kMinSubnormal,
                  -kMinSubnormal,
                  0x1p23f,
                  -0x1p23f,
                  0x1p23f - 0.5f,
                  -(0x1p23f - 0.5f),
                  0x1p22f + 0.5f,
                  0x1p22f + 1.5f,
                  0x1p31f,
                  -0x1p31f,
                  kInf,
                  -kInf,
                  kNan}) {
    check(x);
  }
}

TEST(KernelMathTest, ExpWithinOneAndAHalfUlp) {
  const Worst w = MaxUlp(ExpF, [](double x) { return std::exp(x); });
  EXPECT_LE(w.ulp, 1.5) << "at " << w.at;
}

TEST(KernelMathTest, LogWithinOneUlp) {
  const Worst w = MaxUlp(LogF, [](double x) { return std::log(x); });
  EXPECT_LE(w.ulp, 1.0) << "at " << w.at;
}

TEST(KernelMathTest, TanhWithinOneAndAHalfUlp) {
  const Worst w = MaxUlp(TanhF, [](double x) { return std::tanh(x); });
  EXPECT_LE(w.ulp, 1.5) << "at " << w.at;
}

TEST(KernelMathTest, ErfWithinOneUlp) {
  const Worst w = MaxUlp(ErfF, [](double x) { return std::erf(x); });
  EXPECT_LE(w.ulp, 1.0) << "at " << w.at;
}

TEST(KernelMathTest, SigmoidWithinOneUlp) {
  const Worst w = MaxUlp(SigmoidF, [](double x) { return 1.0 / (1.0 + std::exp(-x)); });
  EXPECT_LE(w.ulp, 1.0) << "at " << w.at;
}

// Dense around the places where the algorithms switch formulas or ranges.
TEST(KernelMathTest, DenseAroundBranchPoints) {
  for (float centre : {0.625f, 1.0f, 4.0f, 0.70710678f, 1.41421356f, 9.0109f, 9.1f, 87.0f, -87.0f}) {
    float x = centre;
    for (int i = 0; i < 20000; ++i) x = std::nextafter(x, -kInf);
    for (int i = 0; i < 40000; ++i, x = std::nextafter(x, kInf)) {
      ASSERT_LE(UlpError(TanhF(x), std::tanh(double{x})), 1.5) << x;
      ASSERT_LE(UlpError(ErfF(x), std::erf(double{x})), 1.0) << x;
      ASSERT_LE(UlpError(ExpF(x), std::exp(double{x})), 1.5) << x;
      ASSERT_LE(UlpError(SigmoidF(x), 1.0 / (1.0 + std::exp(-double{x}))), 1.0) << x;
      if (x > 0) ASSERT_LE(UlpError(LogF(x), std::log(double{x})), 1.0) << x;
    }
  }
}

TEST(KernelMathTest, ExpSpecialValues) {
  EXPECT_TRUE(std::isnan(ExpF(kNan)));
  EXPECT_EQ(ExpF(kInf), kInf);
  EXPECT_EQ(ExpF(-kInf), 0.0f);
  EXPECT_EQ(ExpF(0.0f), 1.0f);
  EXPECT_EQ(ExpF(-0.0f), 1.0f);
  // Largest finite result and the first overflow.
  EXPECT_EQ(ExpF(88.7228317f), static_cast<float>(std::exp(88.7228317)));
  EXPECT_EQ(ExpF(88.7228394f), kInf);
  EXPECT_EQ(ExpF(1000.0f), kInf);
  // Subnormal results, the smallest one, and underflow to 0.
  EXPECT_LE(UlpError(ExpF(-90.0f), std::exp(-90.0)), 1.0);
  EXPECT_EQ(ExpF(-103.2789f), kMinSubnormal);
  EXPECT_EQ(ExpF(-104.0f), 0.0f);
  EXPECT_EQ(ExpF(-1000.0f), 0.0f);
  EXPECT_EQ(ExpF(kMinSubnormal), 1.0f);
}

TEST(KernelMathTest, LogSpecialValues) {
  EXPECT_TRUE(std::isnan(LogF(kNan)));
  EXPECT_TRUE(std::isnan(LogF(-1.0f)));
  EXPECT_TRUE(std::isnan(LogF(-kInf)));
  EXPECT_TRUE(std::isnan(LogF(-kMinSubnormal)));
  EXPECT_EQ(LogF(0.0f), -kInf);
  EXPECT_EQ(LogF(-0.0f), -kInf);
  EXPECT_EQ(LogF(kInf), kInf);
  EXPECT_EQ(LogF(1.0f), 0.0f);
  EXPECT_FALSE(std::signbit(LogF(1.0f)));
  EXPECT_LE(UlpError(LogF(kMinSubnormal), std::log(double{kMinSubnormal})), 1.0);
  EXPECT_LE(UlpError(LogF(kMinNormal), std::log(double{kMinNormal})), 1.0);
  EXPECT_LE(UlpError(LogF(3e-42f), std::log(double{3e-42f})), 1.0);
  const float max = std::numeric_limits<float>::max();
  EXPECT_LE(UlpError(LogF(max), std::log(double{max})), 1.0);
}

TEST(KernelMathTest, TanhSpecialValues) {
  EXPECT_TRUE(std::isnan(TanhF(kNan)));
  EXPECT_EQ(TanhF(kInf), 1.0f);
  EXPECT_EQ(TanhF(-kInf), -1.0f);
  EXPECT_EQ(TanhF(20.0f), 1.0f);
  EXPECT_EQ(TanhF(9.0f), static_cast<float>(std::tanh(9.0)));  // just below 1
  EXPECT_EQ(TanhF(-20.0f), -1.0f);
  EXPECT_EQ(TanhF(0.0f), 0.0f);
  EXPECT_TRUE(std::signbit(TanhF(-0.0f)));
  EXPECT_EQ(TanhF(kMinSubnormal), kMinSubnormal);
  EXPECT_EQ(TanhF(-kMinSubnormal), -kMinSubnormal);
  EXPECT_EQ(TanhF(1e-30f), 1e-30f);
}

TEST(KernelMathTest, ErfSpecialValues) {
  EXPECT_TRUE(std::isnan(ErfF(kNan)));
  EXPECT_EQ(ErfF(kInf), 1.0f);
  EXPECT_EQ(ErfF(-kInf), -1.0f);
  EXPECT_EQ(ErfF(5.0f), 1.0f);
  EXPECT_EQ(ErfF(0.0f), 0.0f);
  EXPECT_TRUE(std::signbit(ErfF(-0.0f)));
  EXPECT_EQ(ErfF(kMinSubnormal * 8), static_cast<float>(std::erf(double{kMinSubnormal * 8})));
  EXPECT_LE(UlpError(ErfF(1e-30f), std::erf(1e-30)), 0.5);
}

TEST(KernelMathTest, SigmoidSpecialValues) {
  EXPECT_TRUE(std::isnan(SigmoidF(kNan)));
  EXPECT_EQ(SigmoidF(kInf), 1.0f);
  EXPECT_EQ(SigmoidF(-kInf), 0.0f);
  EXPECT_EQ(SigmoidF(0.0f), 0.5f);
  EXPECT_EQ(SigmoidF(-0.0f), 0.5f);
  EXPECT_EQ(SigmoidF(20.0f), static_cast<float>(1.0 / (1.0 + std::exp(-20.0))));
  // Subnormal results where 1 / (1 + e^-x) in f32 would give 0.
  EXPECT_LE(UlpError(SigmoidF(-95.0f), 1.0 / (1.0 + std::exp(95.0))), 0.5);
  EXPECT_EQ(SigmoidF(-200.0f), 0.0f);
}

}  // namespace
}  // namespace kiln::math
