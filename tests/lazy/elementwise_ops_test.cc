#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "ir/graph.h"
#include "lazy/creation.h"
#include "lazy/generator.h"
#include "lazy/ops.h"
#include "lazy/tensor.h"
#include "tests/lazy/op_test_util.h"

namespace kiln {
namespace {

using ::kiln::testing::Near;
using ::testing::ElementsAre;

Tensor F32(std::vector<float> v, std::vector<int64_t> shape) {
  return Tensor::from_vector<float>(v, shape);
}
Tensor I32(std::vector<int32_t> v, std::vector<int64_t> shape) {
  return Tensor::from_vector<int32_t>(v, shape);
}
Tensor Bool(std::vector<bool> v, std::vector<int64_t> shape) {
  return Tensor::from_vector<bool>(v, shape);
}

TEST(ElementwiseOpsTest, NumericUnaryKeepDtype) {
  Tensor x = F32({-1.5f, 0.0f, 2.0f}, {3});
  EXPECT_THAT(neg(x).to_vector<float>(), ElementsAre(1.5f, 0.0f, -2.0f));
  EXPECT_THAT(abs(x).to_vector<float>(), ElementsAre(1.5f, 0.0f, 2.0f));
  EXPECT_THAT(relu(x).to_vector<float>(), ElementsAre(0.0f, 0.0f, 2.0f));
  Tensor i = I32({-3, 4}, {2});
  EXPECT_EQ(neg(i).dtype(), DType::kI32);
  EXPECT_THAT(neg(i).to_vector<int32_t>(), ElementsAre(3, -4));
  EXPECT_THAT(abs(i).to_vector<int32_t>(), ElementsAre(3, 4));
  EXPECT_THAT(relu(i).to_vector<int32_t>(), ElementsAre(0, 4));
}

TEST(ElementwiseOpsTest, FloatUnaryValues) {
  Tensor x = F32({0.0f, 1.0f, 4.0f}, {3});
  EXPECT_THAT(exp(x).to_vector<float>(), Near({1.0f, 2.7182818f, 54.59815f}, 1e-4f));
  EXPECT_THAT(sqrt(x).to_vector<float>(), Near({0.0f, 1.0f, 2.0f}));
  EXPECT_THAT(rsqrt(F32({1.0f, 4.0f, 0.25f}, {3})).to_vector<float>(), Near({1.0f, 0.5f, 2.0f}));
  EXPECT_THAT(log(F32({1.0f, 2.7182818f, 0.5f}, {3})).to_vector<float>(),
              Near({0.0f, 1.0f, -0.6931472f}));
  EXPECT_THAT(tanh(F32({0.0f, 1.0f, -2.0f}, {3})).to_vector<float>(),
              Near({0.0f, 0.7615942f, -0.9640276f}));
  EXPECT_THAT(erf(F32({0.0f, 0.5f, -1.0f}, {3})).to_vector<float>(),
              Near({0.0f, 0.5204999f, -0.8427008f}));
  EXPECT_THAT(sigmoid(F32({0.0f, 2.0f, -1.0f}, {3})).to_vector<float>(),
              Near({0.5f, 0.8807971f, 0.2689414f}));
  EXPECT_THAT(sin(F32({0.0f, 1.5707964f, 0.5f}, {3})).to_vector<float>(),
              Near({0.0f, 1.0f, 0.4794255f}));
  EXPECT_THAT(cos(F32({0.0f, 3.1415927f, 0.5f}, {3})).to_vector<float>(),
              Near({1.0f, -1.0f, 0.8775826f}));
}

TEST(ElementwiseOpsTest, FloatUnaryOnIntegersComputesInF32) {
  Tensor i = I32({1, 4, 9}, {3});
  Tensor r = sqrt(i);
  EXPECT_EQ(r.dtype(), DType::kF32);
  EXPECT_THAT(r.to_vector<float>(), Near({1.0f, 2.0f, 3.0f}));
  Tensor b = exp(Bool({true, false}, {2}));
  EXPECT_EQ(b.dtype(), DType::kF32);
  EXPECT_THAT(b.to_vector<float>(), Near({2.7182818f, 1.0f}, 1e-5f));
  // f64 stays f64.
  Tensor d = Tensor::from_vector<double>({0.25}, {1});
  EXPECT_EQ(sqrt(d).dtype(), DType::kF64);
  EXPECT_THAT(sqrt(d).to_vector<double>(), ElementsAre(0.5));
}

TEST(ElementwiseOpsTest, ClampAsTorch) {
  const float nan = std::nanf("");
  Tensor x = F32({-3, -0.5f, 0, 2, 7, nan}, {6});
  std::vector<float> both = clamp(x, -1, 2.5).to_vector<float>();
  EXPECT_THAT(std::vector<float>(both.begin(), both.end() - 1), ElementsAre(-1, -0.5f, 0, 2, 2.5f));
  EXPECT_TRUE(std::isnan(both.back()));  // NaN stays NaN
  EXPECT_THAT(clamp(x, std::nullopt, 0).slice(0, 0, 5).to_vector<float>(),
              ElementsAre(-3, -0.5f, 0, 0, 0));
  EXPECT_THAT(clamp(x, 0, std::nullopt).slice(0, 0, 5).to_vector<float>(),
              ElementsAre(0, 0, 0, 2, 7));
  // min > max: max everywhere.
  EXPECT_THAT(clamp(x, 3, 1).slice(0, 0, 5).to_vector<float>(), ElementsAre(1, 1, 1, 1, 1));
  // Integer tensors stay integers with integer bounds and promote with float ones.
  Tensor i = I32({-5, 0, 5}, {3});
  EXPECT_THAT(clamp(i, -2, 3).to_vector<int32_t>(), ElementsAre(-2, 0, 3));
  Tensor promoted = clamp(i, -2.5, std::nullopt);
  EXPECT_EQ(promoted.dtype(), DType::kF32);
  EXPECT_THAT(promoted.to_vector<float>(), ElementsAre(-2.5f, 0, 5));
  EXPECT_THAT(testing::ErrorOf([&] { clamp(x, std::nullopt, std::nullopt); }),
              ::testing::HasSubstr("clamp: expected a min or a max bound, got neither"));
  EXPECT_THAT(testing::ErrorOf([&] { clamp(x, 0, std::nan("")); }),
              ::testing::HasSubstr("clamp: the max bound of f32[6] is NaN"));
}

TEST(ElementwiseOpsTest, FloorCeilAndRoundAsTorch) {
  Generator gen(21);
  for (DType dtype : {DType::kF32, DType::kF64}) {
    // Fused with the scaling, on values spread over many integers.
    Tensor x = randn({4, 33}, gen, dtype) * 6.0;
    const std::vector<double> v = cast(x, DType::kF64).to_vector<double>();
    const Tensor rounded[] = {floor(x), ceil(x), round(x)};
    double (*const host[])(double) = {std::floor, std::ceil, std::nearbyint};
    for (int k = 0; k < 3; ++k) {
      EXPECT_EQ(rounded[k].dtype(), dtype);
      std::vector<double> want;
      for (double e : v) want.push_back(host[k](e));
      EXPECT_EQ(cast(rounded[k], DType::kF64).to_vector<double>(), want) << k;
    }
  }
  // Ties to even; NaN and infinities pass through.
  Tensor ties = F32({-2.5f, -1.5f, -0.5f, 0.5f, 1.5f, 2.5f, INFINITY}, {7});
  EXPECT_THAT(round(ties).to_vector<float>(), ElementsAre(-2, -2, 0, 0, 2, 2, INFINITY));
  EXPECT_THAT(floor(ties).to_vector<float>(), ElementsAre(-3, -2, -1, 0, 1, 2, INFINITY));
  EXPECT_TRUE(std::isnan(ceil(F32({std::nanf("")}, {1})).to_vector<float>()[0]));
  // Integers are already rounded: the same tensor back.
  Tensor i = I32({-3, 4}, {2});
  EXPECT_EQ(floor(i).value().node, i.value().node);
  EXPECT_THAT(round(i).to_vector<int32_t>(), ElementsAre(-3, 4));
}

TEST(ElementwiseOpsTest, SiluIsXTimesSigmoid) {
  const std::vector<float> v = {-4, -1, -0.25f, 0, 0.5f, 3};
  std::vector<float> want;
  for (float x : v) want.push_back(static_cast<float>(x / (1 + std::exp(-double{x}))));
  EXPECT_THAT(silu(F32(v, {2, 3})).to_vector<float>(), Near(want));
  Tensor ints = silu(I32({-1, 0, 2}, {3}));  // integers are computed in f32
  EXPECT_EQ(ints.dtype(), DType::kF32);
  EXPECT_THAT(ints.to_vector<float>(), Near({static_cast<float>(-1 / (1 + std::exp(1.0))), 0,
                                             static_cast<float>(2 / (1 + std::exp(-2.0)))}));
}

TEST(ElementwiseOpsTest, MaskedFillKeepsDtypeAndShape) {
  Tensor x = F32({1, 2, 3, 4, 5, 6}, {2, 3});
  Tensor columns = Bool({true, false, true}, {3});  // broadcast over the rows
  EXPECT_THAT(masked_fill(x, columns, -1).to_vector<float>(), ElementsAre(-1, 2, -1, -1, 5, -1));
  Tensor one = Bool({false, true, false, false, false, true}, {2, 3});
  std::vector<float> inf = masked_fill(x, one, -INFINITY).to_vector<float>();
  EXPECT_THAT(inf, ElementsAre(1, -INFINITY, 3, 4, 5, -INFINITY));
  // An integer tensor stays integer: the value converts as cast converts (truncates).
  Tensor i = masked_fill(I32({7, 8, 9}, {3}), Bool({false, true, true}, {3}), 2.75);
  EXPECT_EQ(i.dtype(), DType::kI32);
  EXPECT_THAT(i.to_vector<int32_t>(), ElementsAre(7, 2, 2));
  EXPECT_THAT(testing::ErrorOf([&] {
                masked_fill(x, I32({1, 0, 1}, {3}), 0);
              }),
              ::testing::HasSubstr("masked_fill: expected a bool mask, got i32[3] for f32[2,3]"));
  EXPECT_THAT(testing::ErrorOf([&] {
                masked_fill(F32({1, 2, 3}, {3}), one, 0);
              }),
              ::testing::HasSubstr(
                  "masked_fill: mask bool[2,3] does not broadcast to f32[3] without enlarging it"));
}

TEST(ElementwiseOpsTest, CastConvertsAndTruncates) {
  Tensor x = F32({-1.7f, 2.9f, 0.0f, -0.5f}, {4});
  EXPECT_THAT(cast(x, DType::kI32).to_vector<int32_t>(), ElementsAre(-1, 2, 0, 0));
  EXPECT_THAT(cast(x, DType::kBool).to_vector<bool>(), ElementsAre(true, true, false, true));
  EXPECT_THAT(x.to(DType::kF64).to_vector<double>(),
              ElementsAre(double{-1.7f}, double{2.9f}, 0.0, -0.5));
  // Casting to the same dtype records nothing.
  EXPECT_FALSE(cast(x, DType::kF32).is_pending());
}

TEST(ElementwiseOpsTest, LogicalOpsTreatNonZeroAsTrue) {
  Tensor a = F32({0.0f, 2.0f, -1.0f, 0.0f}, {4});
  Tensor b = I32({0, 0, 3, 5}, {4});
  EXPECT_THAT(logical_not(a).to_vector<bool>(), ElementsAre(true, false, false, true));
  EXPECT_THAT((!b).to_vector<bool>(), ElementsAre(true, true, false, false));
  EXPECT_THAT(logical_and(a, b).to_vector<bool>(), ElementsAre(false, false, true, false));
  EXPECT_THAT(logical_or(a, b).to_vector<bool>(), ElementsAre(false, true, true, true));
  EXPECT_EQ(logical_and(a, b).dtype(), DType::kBool);
}

TEST(ElementwiseOpsTest, BinaryBroadcasting) {
  Tensor m = F32({1, 2, 3, 4, 5, 6}, {2, 3});
  Tensor row = F32({10, 20, 30}, {3});
  Tensor col = F32({100, 200}, {2, 1});
  Tensor sum_row = m + row;
  EXPECT_EQ(sum_row.shape().ToString(), "f32[2,3]");
  EXPECT_THAT(sum_row.to_vector<float>(), ElementsAre(11, 22, 33, 14, 25, 36));
  EXPECT_THAT((m - col).to_vector<float>(), ElementsAre(-99, -98, -97, -196, -195, -194));
  // [2,1] x [1,3] -> [2,3]
  Tensor outer = col * F32({1, 2, 3}, {1, 3});
  EXPECT_EQ(outer.shape().ToString(), "f32[2,3]");
  EXPECT_THAT(outer.to_vector<float>(), ElementsAre(100, 200, 300, 200, 400, 600));
  EXPECT_THAT((m / row).to_vector<float>(), Near({0.1f, 0.1f, 0.1f, 0.4f, 0.25f, 0.2f}));
  // A 0-d tensor broadcasts against anything.
  Tensor two = F32({2}, {});
  EXPECT_THAT(pow(m, two).to_vector<float>(), Near({1, 4, 9, 16, 25, 36}));
}

TEST(ElementwiseOpsTest, EmptyAndSizeOneDimensions) {
  Tensor empty = F32({}, {0, 3});
  Tensor r = empty + F32({1, 2, 3}, {3});
  EXPECT_EQ(r.shape().ToString(), "f32[0,3]");
  EXPECT_TRUE(r.to_vector<float>().empty());
  Tensor ones = F32({5}, {1, 1});
  EXPECT_EQ((ones * F32({1, 2}, {2})).shape().ToString(), "f32[1,2]");
}

TEST(ElementwiseOpsTest, MaximumMinimumAndPow) {
  Tensor a = F32({1, 5, -3}, {3});
  Tensor b = F32({2, 4, -4}, {3});
  EXPECT_THAT(maximum(a, b).to_vector<float>(), ElementsAre(2, 5, -3));
  EXPECT_THAT(minimum(a, b).to_vector<float>(), ElementsAre(1, 4, -4));
  EXPECT_THAT(maximum(a, 0).to_vector<float>(), ElementsAre(1, 5, 0));
  EXPECT_THAT(minimum(a, 2.5).to_vector<float>(), ElementsAre(1, 2.5, -3));
  EXPECT_THAT(pow(a, 2).to_vector<float>(), Near({1, 25, 9}));
  EXPECT_THAT(F32({4, 9}, {2}).pow(0.5).to_vector<float>(), Near({2, 3}));
  EXPECT_THAT(F32({2, 3}, {2}).pow(F32({3, 2}, {2})).to_vector<float>(), Near({8, 9}));
}

TEST(ElementwiseOpsTest, TensorTensorPromotion) {
  Tensor i32 = I32({1, 2}, {2});
  Tensor f32 = F32({0.5f, 0.25f}, {2});
  Tensor sum = i32 + f32;
  EXPECT_EQ(sum.dtype(), DType::kF32);
  EXPECT_THAT(sum.to_vector<float>(), ElementsAre(1.5f, 2.25f));
  Tensor i64 = Tensor::from_vector<int64_t>({10, 20}, {2});
  EXPECT_EQ((i32 + i64).dtype(), DType::kI64);
  EXPECT_THAT((i32 + i64).to_vector<int64_t>(), ElementsAre(11, 22));
  Tensor f64 = Tensor::from_vector<double>({1, 1}, {2});
  EXPECT_EQ((f32 * f64).dtype(), DType::kF64);
  // bool arithmetic: + is "or", * is "and", as in PyTorch.
  Tensor p = Bool({true, true, false, false}, {4});
  Tensor q = Bool({true, false, true, false}, {4});
  EXPECT_EQ((p + q).dtype(), DType::kBool);
  EXPECT_THAT((p + q).to_vector<bool>(), ElementsAre(true, true, true, false));
  EXPECT_THAT((p * q).to_vector<bool>(), ElementsAre(true, false, false, false));
  EXPECT_THAT(maximum(p, q).to_vector<bool>(), ElementsAre(true, true, true, false));
  EXPECT_THAT(minimum(p, q).to_vector<bool>(), ElementsAre(true, false, false, false));
  // bool with an integer tensor promotes to the integer dtype.
  Tensor mixed = p + I32({1, 2, 3, 4}, {4});
  EXPECT_EQ(mixed.dtype(), DType::kI32);
  EXPECT_THAT(mixed.to_vector<int32_t>(), ElementsAre(2, 3, 3, 4));
}

TEST(ElementwiseOpsTest, TensorScalarPromotion) {
  Tensor i = I32({3, -4}, {2});
  Tensor half = i * 0.5;
  EXPECT_EQ(half.dtype(), DType::kF32);
  EXPECT_THAT(half.to_vector<float>(), ElementsAre(1.5f, -2.0f));
  Tensor plus_one = i + 1;
  EXPECT_EQ(plus_one.dtype(), DType::kI32);
  EXPECT_THAT(plus_one.to_vector<int32_t>(), ElementsAre(4, -3));
  Tensor f = F32({1.5f}, {1});
  EXPECT_EQ((f + 2).dtype(), DType::kF32);
  EXPECT_THAT((f + 2).to_vector<float>(), ElementsAre(3.5f));
  EXPECT_THAT((f - 1).to_vector<float>(), ElementsAre(0.5f));
  EXPECT_THAT((i - 1).to_vector<int32_t>(), ElementsAre(2, -5));
  Tensor d = Tensor::from_vector<double>({1.0}, {1});
  EXPECT_EQ((d * 0.5f).dtype(), DType::kF64);  // a scalar never widens within a category
  Tensor b = Bool({true, false}, {2});
  EXPECT_EQ((b + 1).dtype(), DType::kI64);
  EXPECT_THAT((b + 1).to_vector<int64_t>(), ElementsAre(2, 1));
  EXPECT_EQ((b * 1.5).dtype(), DType::kF32);
  EXPECT_EQ((b + true).dtype(), DType::kBool);
  EXPECT_EQ((i + true).dtype(), DType::kI32);
}

TEST(ElementwiseOpsTest, DivisionIsTrueDivision) {
  Tensor a = I32({7, -7}, {2});
  Tensor b = I32({2, 2}, {2});
  EXPECT_EQ((a / b).dtype(), DType::kF32);
  EXPECT_THAT((a / b).to_vector<float>(), ElementsAre(3.5f, -3.5f));
  EXPECT_THAT((a / 2).to_vector<float>(), ElementsAre(3.5f, -3.5f));
  EXPECT_THAT((14 / a).to_vector<float>(), ElementsAre(2.0f, -2.0f));
  EXPECT_THAT(div(Bool({true}, {1}), Bool({true}, {1})).to_vector<float>(), ElementsAre(1.0f));
}

TEST(ElementwiseOpsTest, ScalarOnTheLeft) {
  Tensor x = F32({1, 2, 4}, {3});
  EXPECT_THAT((10 - x).to_vector<float>(), ElementsAre(9, 8, 6));
  EXPECT_THAT((1 / x).to_vector<float>(), ElementsAre(1.0f, 0.5f, 0.25f));
  EXPECT_THAT((2 * x).to_vector<float>(), ElementsAre(2, 4, 8));
  EXPECT_THAT((0.5 + x).to_vector<float>(), ElementsAre(1.5f, 2.5f, 4.5f));
  EXPECT_THAT(sub(3, x).to_vector<float>(), ElementsAre(2, 1, -1));
  EXPECT_THAT(div(8, x).to_vector<float>(), ElementsAre(8, 4, 2));
  EXPECT_THAT((-x).to_vector<float>(), ElementsAre(-1, -2, -4));
}

TEST(ElementwiseOpsTest, Comparisons) {
  Tensor a = F32({1, 2, 3}, {3});
  Tensor b = F32({3, 2, 1}, {3});
  EXPECT_EQ((a == b).dtype(), DType::kBool);
  EXPECT_THAT((a == b).to_vector<bool>(), ElementsAre(false, true, false));
  EXPECT_THAT((a != b).to_vector<bool>(), ElementsAre(true, false, true));
  EXPECT_THAT((a < b).to_vector<bool>(), ElementsAre(true, false, false));
  EXPECT_THAT((a <= b).to_vector<bool>(), ElementsAre(true, true, false));
  EXPECT_THAT((a > b).to_vector<bool>(), ElementsAre(false, false, true));
  EXPECT_THAT((a >= b).to_vector<bool>(), ElementsAre(false, true, true));
  EXPECT_THAT((a == 2).to_vector<bool>(), ElementsAre(false, true, false));
  EXPECT_THAT((a != 2).to_vector<bool>(), ElementsAre(true, false, true));
  EXPECT_THAT((a < 2).to_vector<bool>(), ElementsAre(true, false, false));
  EXPECT_THAT((a <= 2).to_vector<bool>(), ElementsAre(true, true, false));
  EXPECT_THAT((a > 2).to_vector<bool>(), ElementsAre(false, false, true));
  EXPECT_THAT((a >= 2).to_vector<bool>(), ElementsAre(false, true, true));
  EXPECT_THAT(eq(a, b).to_vector<bool>(), ElementsAre(false, true, false));
  EXPECT_THAT(ge(a, 3).to_vector<bool>(), ElementsAre(false, false, true));
  // An int tensor against a float scalar compares in f32: 1 < 1.5 but 2 > 1.5.
  Tensor i = I32({1, 2}, {2});
  EXPECT_THAT(lt(i, 1.5).to_vector<bool>(), ElementsAre(true, false));
  EXPECT_THAT(gt(i, 1.5).to_vector<bool>(), ElementsAre(false, true));
  EXPECT_THAT(le(i, F32({0.5f, 2.5f}, {2})).to_vector<bool>(), ElementsAre(false, true));
  EXPECT_THAT(ne(i, 2).to_vector<bool>(), ElementsAre(true, false));
  // Broadcast comparison.
  EXPECT_EQ((F32({1, 2}, {2, 1}) < F32({1, 2, 3}, {3})).shape().ToString(), "bool[2,3]");
}

TEST(ElementwiseOpsTest, Log1pAndExpm1AsTheCLibrary) {
  // Small magnitudes, where log(1 + x) and exp(x) - 1 lose every digit, large ones, and
  // the special values; f32 and f64 against std::log1p / std::expm1.
  std::vector<double> xs = {0,    -0.0, 1e-30,    -3e-12,    1e-7,  -2.5e-5, 0.001,
                            -0.3, 0.49, 0.5,      0.51,      -0.75, 3,       88,
                            -103, 1e30, INFINITY, -INFINITY, NAN,   -1,      -2};
  for (int i = 0; i < 200; ++i)
    xs.push_back(std::ldexp(1.0 + i / 200.0, -40 + i / 5) * (i % 2 ? -1 : 1));
  const std::vector<float> xf(xs.begin(), xs.end());
  const std::vector<float> l1 =
      log1p(F32(xf, {static_cast<int64_t>(xf.size())})).to_vector<float>();
  const std::vector<float> e1 =
      expm1(F32(xf, {static_cast<int64_t>(xf.size())})).to_vector<float>();
  const Tensor xd = Tensor::from_vector<double>(xs, {static_cast<int64_t>(xs.size())});
  const std::vector<double> l1d = log1p(xd).to_vector<double>();
  const std::vector<double> e1d = expm1(xd).to_vector<double>();
  const auto close = [](double got, double want, double rel) {
    if (std::isnan(want)) return std::isnan(got);
    if (std::isinf(want)) return got == want;
    return std::fabs(got - want) <= rel * std::fabs(want) + 1e-300;
  };
  for (size_t i = 0; i < xs.size(); ++i) {
    const double x = xf[i];
    EXPECT_TRUE(close(l1[i], std::log1pf(xf[i]), 3e-7)) << "log1p " << x << ": " << l1[i];
    EXPECT_TRUE(close(e1[i], std::expm1f(xf[i]), 3e-7)) << "expm1 " << x << ": " << e1[i];
    EXPECT_TRUE(close(l1d[i], std::log1p(xs[i]), 1e-15)) << "log1p " << xs[i] << ": " << l1d[i];
    EXPECT_TRUE(close(e1d[i], std::expm1(xs[i]), 1e-15)) << "expm1 " << xs[i] << ": " << e1d[i];
  }
  EXPECT_EQ(log1p(I32({0, 1}, {2})).dtype(), DType::kF32);
  EXPECT_THAT(expm1(Bool({false, true}, {2})).to_vector<float>(),
              Near({0.0f, static_cast<float>(std::expm1(1.0))}));
}

TEST(ElementwiseOpsTest, IsNanIsInfIsFinite) {
  const Tensor x = F32({1, -0.0f, NAN, INFINITY, -INFINITY, 3e38f}, {2, 3});
  EXPECT_THAT(isnan(x).to_vector<bool>(), ElementsAre(false, false, true, false, false, false));
  EXPECT_THAT(isinf(x).to_vector<bool>(), ElementsAre(false, false, false, true, true, false));
  EXPECT_THAT(isfinite(x).to_vector<bool>(), ElementsAre(true, true, false, false, false, true));
  EXPECT_EQ(isnan(x).shape().ToString(), "bool[2,3]");
  // Integers and bool are always finite (INT_MIN too: no abs that could wrap).
  const Tensor i = I32({INT32_MIN, 0, 7}, {3});
  EXPECT_THAT(isnan(i).to_vector<bool>(), ElementsAre(false, false, false));
  EXPECT_THAT(isinf(i).to_vector<bool>(), ElementsAre(false, false, false));
  EXPECT_THAT(isfinite(Bool({true, false}, {2})).to_vector<bool>(), ElementsAre(true, true));
}

// torch.sign of the same values: (x > 0) - (x < 0), so NaN and -0 give 0.
TEST(ElementwiseOpsTest, SignAsTorch) {
  const Tensor x = F32({-2.5f, -0.0f, 0, 1e-30f, NAN, INFINITY, -INFINITY}, {7});
  EXPECT_THAT(sign(x).to_vector<float>(), ElementsAre(-1, 0, 0, 1, 0, 1, -1));
  EXPECT_EQ(sign(I32({-7, 0, 9}, {3})).shape().ToString(), "i32[3]");
  EXPECT_THAT(sign(I32({INT32_MIN, 0, 9}, {3})).to_vector<int32_t>(), ElementsAre(-1, 0, 1));
  EXPECT_THAT(sign(Bool({true, false}, {2})).to_vector<bool>(), ElementsAre(true, false));
  Tensor p = F32({-1, 2}, {2});
  p.requires_grad_();
  Tensor loss = sum(add(mul(sign(p), 3.0), p));  // only the second term has a gradient
  loss.backward();
  EXPECT_THAT(p.grad().to_vector<float>(), ElementsAre(1, 1));
}

TEST(ElementwiseOpsTest, Where) {
  Tensor cond = Bool({true, false, true}, {3});
  Tensor a = F32({1, 2, 3}, {3});
  Tensor b = F32({-1, -2, -3}, {3});
  EXPECT_THAT(where(cond, a, b).to_vector<float>(), ElementsAre(1, -2, 3));
  // A non-bool condition means "non-zero".
  EXPECT_THAT(where(F32({0.0f, 0.5f, 0.0f}, {3}), a, b).to_vector<float>(), ElementsAre(-1, 2, -3));
  // Broadcast: cond [2,1], a [3], b 0-d.
  Tensor wide = where(Bool({true, false}, {2, 1}), a, F32({9}, {}));
  EXPECT_EQ(wide.shape().ToString(), "f32[2,3]");
  EXPECT_THAT(wide.to_vector<float>(), ElementsAre(1, 2, 3, 9, 9, 9));
  // Promotion of the two branches.
  Tensor mixed = where(cond, I32({1, 2, 3}, {3}), F32({0.5f, 0.5f, 0.5f}, {3}));
  EXPECT_EQ(mixed.dtype(), DType::kF32);
  EXPECT_THAT(mixed.to_vector<float>(), ElementsAre(1.0f, 0.5f, 3.0f));
  // Scalar branches.
  EXPECT_THAT(where(cond, a, 0).to_vector<float>(), ElementsAre(1, 0, 3));
  EXPECT_THAT(where(cond, 7, b).to_vector<float>(), ElementsAre(7, -2, 7));
  Tensor int_where = where(cond, I32({1, 2, 3}, {3}), 0.5);
  EXPECT_EQ(int_where.dtype(), DType::kF32);
  EXPECT_THAT(int_where.to_vector<float>(), ElementsAre(1.0f, 0.5f, 3.0f));
}

TEST(ElementwiseOpsTest, ScalarValueIsARuntimeParameter) {
  Tensor x = F32({1, 2}, {2});
  Tensor half = x * 0.5;
  Tensor quarter = x * 0.25;
  EXPECT_EQ(half.value().hash(), quarter.value().hash());
  EXPECT_EQ(Graph::Build({half.value()}).hash(), Graph::Build({quarter.value()}).hash());
  // The scalar is a Scalar leaf of the computation dtype: no cast node in between.
  const Node& mul_node = *half.value().node;
  EXPECT_EQ(mul_node.op(), OpKind::kMul);
  EXPECT_EQ(mul_node.operand(1).node->op(), OpKind::kScalar);
  EXPECT_EQ(mul_node.operand(1).shape().ToString(), "f32[]");
  EXPECT_EQ(mul_node.operand(1).node->scalar_value(), 0.5);
  EXPECT_THAT(half.to_vector<float>(), ElementsAre(0.5f, 1.0f));
  EXPECT_THAT(quarter.to_vector<float>(), ElementsAre(0.25f, 0.5f));
  // A different scalar dtype is a different graph.
  Tensor i = I32({1, 2}, {2});
  EXPECT_NE((i + 1).value().hash(), (i + 1.0).value().hash());
}

TEST(ElementwiseOpsTest, NoCastWhenDtypesAlreadyMatch) {
  Tensor a = F32({1}, {1});
  Tensor b = F32({2}, {1});
  Tensor same = a + b;
  const Node& add_node = *same.value().node;
  EXPECT_EQ(add_node.operand(0).node->op(), OpKind::kDeviceData);
  EXPECT_EQ(add_node.operand(1).node->op(), OpKind::kDeviceData);
  Tensor promoted = a + I32({2}, {1});
  const Node& mixed = *promoted.value().node;
  EXPECT_EQ(mixed.operand(0).node->op(), OpKind::kDeviceData);
  EXPECT_EQ(mixed.operand(1).node->op(), OpKind::kCast);
}

TEST(ElementwiseOpsTest, OperatorsRecordTheirCallSite) {
  Tensor x = F32({1, 2}, {2});
  const int line = __LINE__ + 1;
  Tensor y = x * 2.0;
  EXPECT_EQ(y.value().node->location().line(), static_cast<uint32_t>(line));
  const int exp_line = __LINE__ + 1;
  Tensor z = exp(x);
  EXPECT_EQ(z.value().node->location().line(), static_cast<uint32_t>(exp_line));
}

TEST(ElementwiseOpsTest, MethodForms) {
  Tensor x = F32({-4, 1}, {2});
  EXPECT_THAT(x.neg().to_vector<float>(), ElementsAre(4, -1));
  EXPECT_THAT(x.abs().to_vector<float>(), ElementsAre(4, 1));
  EXPECT_THAT(x.relu().to_vector<float>(), ElementsAre(0, 1));
  EXPECT_THAT(x.abs().sqrt().to_vector<float>(), Near({2, 1}));
  EXPECT_THAT(x.abs().rsqrt().to_vector<float>(), Near({0.5f, 1}));
  EXPECT_THAT(x.abs().log().exp().to_vector<float>(), Near({4, 1}, 1e-5f));
  EXPECT_THAT(x.tanh().to_vector<float>(), Near({-0.9993293f, 0.7615942f}));
  EXPECT_THAT(x.sigmoid().to_vector<float>(), Near({0.0179862f, 0.7310586f}));
}

}  // namespace
}  // namespace kiln
