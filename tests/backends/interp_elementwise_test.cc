// Elementwise ops, generators and broadcasting on the interp backend.
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "codegen/kernel_numerics.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/backends/interp_test_util.h"

namespace kiln::interp_test {
namespace {

using ::testing::ElementsAre;
using ::testing::ElementsAreArray;
using ::testing::HasSubstr;
using ::testing::NanSensitiveDoubleEq;
using ::testing::NanSensitiveFloatEq;
using ::testing::Pointwise;

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
constexpr float kInf = std::numeric_limits<float>::infinity();

struct FloatUnaryCase {
  OpKind op;
  double (*reference)(double);
};

const FloatUnaryCase kFloatUnaryCases[] = {
    {OpKind::kExp, [](double x) { return std::exp(x); }},
    {OpKind::kLog, [](double x) { return std::log(x); }},
    {OpKind::kSqrt, [](double x) { return std::sqrt(x); }},
    {OpKind::kRsqrt, [](double x) { return 1.0 / std::sqrt(x); }},
    {OpKind::kTanh, [](double x) { return std::tanh(x); }},
    {OpKind::kErf, [](double x) { return std::erf(x); }},
    {OpKind::kSigmoid, [](double x) { return 1.0 / (1.0 + std::exp(-x)); }},
    {OpKind::kSin, [](double x) { return std::sin(x); }},
    {OpKind::kCos, [](double x) { return std::cos(x); }},
};

TEST(InterpElementwiseTest, RoundingOps) {
  const std::vector<double> input = {-2.5, -1.5, -0.5, -0.2, 0.5, 1.5, 2.5, 2.6, -7.0};
  const auto run = [&](OpKind op) {
    return Read<double>(RunOne(Op(op, {Param<double>({9}, input)})));
  };
  EXPECT_THAT(run(OpKind::kFloor), ElementsAre(-3, -2, -1, -1, 0, 1, 2, 2, -7));
  EXPECT_THAT(run(OpKind::kCeil), ElementsAre(-2, -1, -0.0, -0.0, 1, 2, 3, 3, -7));
  // Ties to even, as torch.round.
  EXPECT_THAT(run(OpKind::kRound), ElementsAre(-2, -2, -0.0, -0.0, 0, 2, 2, 3, -7));
  const float nan = std::numeric_limits<float>::quiet_NaN();
  EXPECT_THAT(Read<float>(RunOne(Op(OpKind::kFloor, {Param<float>({2}, {nan, -1e30f})}))),
              ElementsAre(NanSensitiveFloatEq(nan), -1e30f));
}

TEST(InterpElementwiseTest, FloatUnaryOpsF32) {
  const std::vector<float> input = {0.25f, 0.5f, 1.0f, 2.0f, 4.0f};
  for (const FloatUnaryCase& c : kFloatUnaryCases) {
    const Value x = Param<float>({5}, input);
    std::vector<float> expected;
    for (float v : input) expected.push_back(static_cast<float>(c.reference(v)));
    BufferPtr out = RunOne(Op(c.op, {x}));
    EXPECT_EQ(ShapeOf(out), "f32[5]");
    EXPECT_THAT(Read<float>(out), Pointwise(NanSensitiveFloatEq(), expected)) << OpName(c.op);
  }
}

TEST(InterpElementwiseTest, FloatUnaryOpsF64) {
  const std::vector<double> input = {0.25, 0.5, 1.0, 2.0, 4.0};
  for (const FloatUnaryCase& c : kFloatUnaryCases) {
    const Value x = Param<double>({5}, input);
    std::vector<double> expected;
    for (double v : input) expected.push_back(c.reference(v));
    EXPECT_THAT(Read<double>(RunOne(Op(c.op, {x}))), Pointwise(NanSensitiveDoubleEq(), expected))
        << OpName(c.op);
  }
}

TEST(InterpElementwiseTest, FloatUnaryHandValues) {
  const Value x = Param<float>({3}, {0.0f, 4.0f, -1.0f});
  EXPECT_THAT(Read<float>(RunOne(Op(OpKind::kSigmoid, {x}))),
              Pointwise(NanSensitiveFloatEq(), {0.5f, 0.98201379f, 0.26894142f}));
  EXPECT_THAT(Read<float>(RunOne(Op(OpKind::kRsqrt, {x}))),
              Pointwise(NanSensitiveFloatEq(), {kInf, 0.5f, kNaN}));
  EXPECT_THAT(Read<float>(RunOne(Op(OpKind::kLog, {x}))),
              Pointwise(NanSensitiveFloatEq(), {-kInf, 1.3862944f, kNaN}));
  EXPECT_THAT(Read<float>(RunOne(Op(OpKind::kErf, {x}))),
              Pointwise(NanSensitiveFloatEq(), {0.0f, 1.0f, -0.84270079f}));
}

template <typename T>
class InterpNumericTest : public ::testing::Test {};
using NumericTypes = ::testing::Types<int32_t, int64_t, float, double>;
TYPED_TEST_SUITE(InterpNumericTest, NumericTypes);

TYPED_TEST(InterpNumericTest, NegAbsRelu) {
  using T = TypeParam;
  const Value x = Param<T>({2, 2}, {-3, 0, 2, -1});
  BufferPtr neg = RunOne(Op(OpKind::kNeg, {x}));
  EXPECT_EQ(ShapeOf(neg), std::string(DTypeName(DTypeOf<T>)) + "[2,2]");
  EXPECT_THAT(Read<T>(neg), ElementsAre(3, 0, -2, 1));
  EXPECT_THAT(Read<T>(RunOne(Op(OpKind::kAbs, {x}))), ElementsAre(3, 0, 2, 1));
  EXPECT_THAT(Read<T>(RunOne(Op(OpKind::kRelu, {x}))), ElementsAre(0, 0, 2, 0));
}

TYPED_TEST(InterpNumericTest, ArithmeticWithBroadcast) {
  using T = TypeParam;
  // a is [2,2], b is [2] and broadcasts over the rows.
  const Value a = Param<T>({2, 2}, {7, -7, 8, 12});
  const Value b = Param<T>({2}, {2, -3});
  EXPECT_THAT(Read<T>(RunOne(Op(OpKind::kAdd, {a, b}))), ElementsAre(9, -10, 10, 9));
  EXPECT_THAT(Read<T>(RunOne(Op(OpKind::kSub, {a, b}))), ElementsAre(5, -4, 6, 15));
  EXPECT_THAT(Read<T>(RunOne(Op(OpKind::kMul, {a, b}))), ElementsAre(14, 21, 16, -36));
  EXPECT_THAT(Read<T>(RunOne(Op(OpKind::kMaximum, {a, b}))), ElementsAre(7, -3, 8, 12));
  EXPECT_THAT(Read<T>(RunOne(Op(OpKind::kMinimum, {a, b}))), ElementsAre(2, -7, 2, -3));
  EXPECT_THAT(Read<bool>(RunOne(Op(OpKind::kLt, {a, b}))), ElementsAre(false, true, false, false));
  EXPECT_THAT(Read<bool>(RunOne(Op(OpKind::kEq, {b, b}))), ElementsAre(true, true));
}

TYPED_TEST(InterpNumericTest, PowWithScalarExponent) {
  using T = TypeParam;
  const Value base = Param<T>({4}, {3, -2, 5, 1});
  const Value exponent = Param<T>({}, {3});
  EXPECT_THAT(Read<T>(RunOne(Op(OpKind::kPow, {base, exponent}))), ElementsAre(27, -8, 125, 1));
  const Value zero = Param<T>({}, {0});
  EXPECT_THAT(Read<T>(RunOne(Op(OpKind::kPow, {base, zero}))), ElementsAre(1, 1, 1, 1));
}

TEST(InterpElementwiseTest, FloatArithmeticWithBroadcast) {
  const Value a = Param<float>({2, 3}, {1, 2, 3, 4, 5, 6});
  const Value b = Param<float>({3}, {0.5f, -2, 4});
  EXPECT_THAT(Read<float>(RunOne(Op(OpKind::kDiv, {a, b}))),
              ElementsAre(2, -1, 0.75f, 8, -2.5f, 1.5f));
  EXPECT_THAT(Read<float>(RunOne(Op(OpKind::kPow, {a, b}))),
              Pointwise(NanSensitiveFloatEq(), {1.0f, 0.25f, 81.0f, 2.0f, 0.04f, 1296.0f}));
}

TEST(InterpElementwiseTest, FloatDivisionByZeroIsIeee) {
  const Value a = Param<double>({3}, {1, -1, 0});
  const Value b = Param<double>({}, {0});
  EXPECT_THAT(Read<double>(RunOne(Op(OpKind::kDiv, {a, b}))),
              Pointwise(NanSensitiveDoubleEq(), {std::numeric_limits<double>::infinity(),
                                                 -std::numeric_limits<double>::infinity(),
                                                 std::numeric_limits<double>::quiet_NaN()}));
}

template <typename T>
class InterpIntegerTest : public ::testing::Test {};
using IntegerTypes = ::testing::Types<int32_t, int64_t>;
TYPED_TEST_SUITE(InterpIntegerTest, IntegerTypes);

TYPED_TEST(InterpIntegerTest, DivisionTruncatesTowardZero) {
  using T = TypeParam;
  const Value a = Param<T>({5}, {7, -7, 7, -7, 6});
  const Value b = Param<T>({5}, {2, 2, -2, -2, 3});
  EXPECT_THAT(Read<T>(RunOne(Op(OpKind::kDiv, {a, b}))), ElementsAre(3, -3, -3, 3, 2));
}

TYPED_TEST(InterpIntegerTest, DivisionByZeroIsAnError) {
  using T = TypeParam;
  const Value a = Param<T>({3}, {1, 2, 3});
  const Value b = Param<T>({3}, {1, 0, 1});
  absl::StatusOr<std::vector<BufferPtr>> result = TryRun({Op(OpKind::kDiv, {a, b})});
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(result.status().message(), "div: integer division by zero");
}

TYPED_TEST(InterpIntegerTest, DivisionOfMinByMinusOneWraps) {
  using T = TypeParam;
  constexpr T kMin = std::numeric_limits<T>::min();
  const Value a = Param<T>({2}, {kMin, 9});
  const Value b = Param<T>({}, {-1});
  EXPECT_THAT(Read<T>(RunOne(Op(OpKind::kDiv, {a, b}))), ElementsAre(kMin, -9));
}

TYPED_TEST(InterpIntegerTest, NegativeExponentIsAnError) {
  using T = TypeParam;
  const Value a = Param<T>({2}, {2, 3});
  const Value b = Param<T>({2}, {1, -1});
  absl::StatusOr<std::vector<BufferPtr>> result = TryRun({Op(OpKind::kPow, {a, b})});
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(result.status().message(), HasSubstr("pow: integer base raised to the negative "
                                                   "exponent -1 at position [1]"));
}

TYPED_TEST(InterpIntegerTest, NegAndAbsOfMinWrap) {
  using T = TypeParam;
  constexpr T kMin = std::numeric_limits<T>::min();
  const Value x = Param<T>({2}, {kMin, -5});
  EXPECT_THAT(Read<T>(RunOne(Op(OpKind::kNeg, {x}))), ElementsAre(kMin, 5));
  EXPECT_THAT(Read<T>(RunOne(Op(OpKind::kAbs, {x}))), ElementsAre(kMin, 5));
}

TEST(InterpElementwiseTest, IntegerPowUsesRepeatedSquaringAndWraps) {
  const Value base64 = Param<int64_t>({2}, {2, -3});
  const Value exp64 = Param<int64_t>({2}, {40, 5});
  EXPECT_THAT(Read<int64_t>(RunOne(Op(OpKind::kPow, {base64, exp64}))),
              ElementsAre(int64_t{1} << 40, -243));
  // 2^40 modulo 2^32 is 0; 3^21 = 10460353203 wraps to 10460353203 - 2 * 2^32.
  const Value base32 = Param<int32_t>({2}, {2, 3});
  const Value exp32 = Param<int32_t>({2}, {40, 21});
  EXPECT_THAT(Read<int32_t>(RunOne(Op(OpKind::kPow, {base32, exp32}))), ElementsAre(0, 1870418611));
}

TEST(InterpElementwiseTest, EmptyOutputSkipsDivisionCheck) {
  const Value a = Param<int32_t>({0}, {});
  const Value b = Param<int32_t>({1}, {0});
  BufferPtr out = RunOne(Op(OpKind::kDiv, {a, b}));
  EXPECT_EQ(ShapeOf(out), "i32[0]");
}

TEST(InterpElementwiseTest, MaximumMinimumPropagateNaN) {
  const Value a = Param<float>({3}, {1, kNaN, 3});
  const Value b = Param<float>({3}, {kNaN, 2, 1});
  EXPECT_THAT(Read<float>(RunOne(Op(OpKind::kMaximum, {a, b}))),
              Pointwise(NanSensitiveFloatEq(), {kNaN, kNaN, 3.0f}));
  EXPECT_THAT(Read<float>(RunOne(Op(OpKind::kMinimum, {a, b}))),
              Pointwise(NanSensitiveFloatEq(), {kNaN, kNaN, 1.0f}));
}

TEST(InterpElementwiseTest, ReluKeepsNaN) {
  const Value x = Param<double>({3}, {std::numeric_limits<double>::quiet_NaN(), -0.5, 0.5});
  EXPECT_THAT(
      Read<double>(RunOne(Op(OpKind::kRelu, {x}))),
      Pointwise(NanSensitiveDoubleEq(), {std::numeric_limits<double>::quiet_NaN(), 0.0, 0.5}));
}

TEST(InterpElementwiseTest, ComparisonsWithNaNAndBroadcast) {
  const Value a = Param<float>({2, 2}, {1, 2, 3, kNaN});
  const Value b = Param<float>({2}, {2, 2});
  EXPECT_THAT(Read<bool>(RunOne(Op(OpKind::kEq, {a, b}))), ElementsAre(false, true, false, false));
  EXPECT_THAT(Read<bool>(RunOne(Op(OpKind::kNe, {a, b}))), ElementsAre(true, false, true, true));
  EXPECT_THAT(Read<bool>(RunOne(Op(OpKind::kLt, {a, b}))), ElementsAre(true, false, false, false));
  EXPECT_THAT(Read<bool>(RunOne(Op(OpKind::kLe, {a, b}))), ElementsAre(true, true, false, false));
  EXPECT_THAT(Read<bool>(RunOne(Op(OpKind::kGt, {a, b}))), ElementsAre(false, false, true, false));
  EXPECT_THAT(Read<bool>(RunOne(Op(OpKind::kGe, {a, b}))), ElementsAre(false, true, true, false));
}

TEST(InterpElementwiseTest, ComparisonsOnBool) {
  const Value a = Param<bool>({2}, {true, false});
  const Value b = Param<bool>({2}, {true, true});
  EXPECT_THAT(Read<bool>(RunOne(Op(OpKind::kEq, {a, b}))), ElementsAre(true, false));
  EXPECT_THAT(Read<bool>(RunOne(Op(OpKind::kGt, {b, a}))), ElementsAre(false, true));
}

TEST(InterpElementwiseTest, LogicalOpsBroadcast) {
  const Value a = Param<bool>({2, 2}, {true, false, true, false});
  const Value b = Param<bool>({2, 1}, {true, false});
  BufferPtr both = RunOne(Op(OpKind::kLogicalAnd, {a, b}));
  EXPECT_EQ(ShapeOf(both), "bool[2,2]");
  EXPECT_THAT(Read<bool>(both), ElementsAre(true, false, false, false));
  EXPECT_THAT(Read<bool>(RunOne(Op(OpKind::kLogicalOr, {a, b}))),
              ElementsAre(true, true, true, false));
  EXPECT_THAT(Read<bool>(RunOne(Op(OpKind::kLogicalNot, {a}))),
              ElementsAre(false, true, false, true));
}

TEST(InterpElementwiseTest, WhereBroadcastsAllThree) {
  const Value cond = Param<bool>({2, 1}, {true, false});
  const Value a = Param<float>({3}, {1, 2, 3});
  const Value b = Param<float>({}, {-1});
  BufferPtr out = RunOne(Op(OpKind::kWhere, {cond, a, b}));
  EXPECT_EQ(ShapeOf(out), "f32[2,3]");
  EXPECT_THAT(Read<float>(out), ElementsAre(1, 2, 3, -1, -1, -1));

  const Value c = Param<bool>({3}, {false, true, false});
  const Value x = Param<int64_t>({3}, {10, 20, 30});
  const Value y = Param<int64_t>({3}, {-10, -20, -30});
  EXPECT_THAT(Read<int64_t>(RunOne(Op(OpKind::kWhere, {c, x, y}))), ElementsAre(-10, 20, -30));
}

Attributes CastTo(DType dtype) { return Attributes().Set("dtype", dtype); }

TEST(InterpElementwiseTest, CastFloatToIntegerTruncatesAndSaturates) {
  const Value x = Param<float>({6}, {2.7f, -2.7f, kNaN, 1e10f, -1e10f, 0.0f});
  constexpr int32_t kMax32 = std::numeric_limits<int32_t>::max();
  constexpr int32_t kMin32 = std::numeric_limits<int32_t>::min();
  EXPECT_THAT(Read<int32_t>(RunOne(Op(OpKind::kCast, {x}, CastTo(DType::kI32)))),
              ElementsAre(2, -2, 0, kMax32, kMin32, 0));
  EXPECT_THAT(Read<int64_t>(RunOne(Op(OpKind::kCast, {x}, CastTo(DType::kI64)))),
              ElementsAre(2, -2, 0, 10000000000, -10000000000, 0));
  EXPECT_THAT(Read<bool>(RunOne(Op(OpKind::kCast, {x}, CastTo(DType::kBool)))),
              ElementsAre(true, true, true, true, true, false));
  const Value big = Param<double>({2}, {1e300, -1e300});
  EXPECT_THAT(
      Read<int64_t>(RunOne(Op(OpKind::kCast, {big}, CastTo(DType::kI64)))),
      ElementsAre(std::numeric_limits<int64_t>::max(), std::numeric_limits<int64_t>::min()));
  EXPECT_THAT(Read<float>(RunOne(Op(OpKind::kCast, {big}, CastTo(DType::kF32)))),
              ElementsAre(kInf, -kInf));
}

TEST(InterpElementwiseTest, CastBetweenIntegersWraps) {
  const Value x = Param<int64_t>({3}, {4294967297, -1, 3000000000});
  EXPECT_THAT(Read<int32_t>(RunOne(Op(OpKind::kCast, {x}, CastTo(DType::kI32)))),
              ElementsAre(1, -1, -1294967296));
  EXPECT_THAT(Read<double>(RunOne(Op(OpKind::kCast, {x}, CastTo(DType::kF64)))),
              ElementsAre(4294967297.0, -1.0, 3000000000.0));
}

TEST(InterpElementwiseTest, CastFromAndToBool) {
  const Value b = Param<bool>({3}, {true, false, true});
  EXPECT_THAT(Read<float>(RunOne(Op(OpKind::kCast, {b}, CastTo(DType::kF32)))),
              ElementsAre(1, 0, 1));
  EXPECT_THAT(Read<int64_t>(RunOne(Op(OpKind::kCast, {b}, CastTo(DType::kI64)))),
              ElementsAre(1, 0, 1));
  const Value i = Param<int32_t>({3}, {0, -4, 9});
  EXPECT_THAT(Read<bool>(RunOne(Op(OpKind::kCast, {i}, CastTo(DType::kBool)))),
              ElementsAre(false, true, true));
  const Value d = Param<double>({2}, {0.1, -1.5});
  EXPECT_THAT(Read<float>(RunOne(Op(OpKind::kCast, {d}, CastTo(DType::kF32)))),
              ElementsAre(0.1f, -1.5f));
}

TEST(InterpElementwiseTest, BroadcastExtendsRank) {
  // [2,1,3] + [4,1] -> [2,4,3]: out[i][j][k] = a[i][0][k] + b[j][0].
  const Value a = Param<float>({2, 1, 3}, {1, 2, 3, 4, 5, 6});
  const Value b = Param<float>({4, 1}, {10, 20, 30, 40});
  BufferPtr out = RunOne(Op(OpKind::kAdd, {a, b}));
  EXPECT_EQ(ShapeOf(out), "f32[2,4,3]");
  EXPECT_THAT(Read<float>(out),
              ElementsAreArray<float>({11, 12, 13, 21, 22, 23, 31, 32, 33, 41, 42, 43,
                                       14, 15, 16, 24, 25, 26, 34, 35, 36, 44, 45, 46}));
}

TEST(InterpElementwiseTest, BroadcastScalarAgainstColumn) {
  const Value a = Param<int32_t>({3, 1}, {1, 2, 3});
  const Value b = Param<int32_t>({1, 2}, {10, 100});
  BufferPtr out = RunOne(Op(OpKind::kMul, {a, b}));
  EXPECT_EQ(ShapeOf(out), "i32[3,2]");
  EXPECT_THAT(Read<int32_t>(out), ElementsAre(10, 100, 20, 200, 30, 300));
}

TEST(InterpElementwiseTest, EmptyTensors) {
  const Value a = Param<float>({0, 3}, {});
  const Value b = Param<float>({3}, {1, 2, 3});
  EXPECT_EQ(ShapeOf(RunOne(Op(OpKind::kAdd, {a, b}))), "f32[0,3]");
  EXPECT_EQ(ShapeOf(RunOne(Op(OpKind::kExp, {a}))), "f32[0,3]");
  const Value c = Param<bool>({2, 0}, {});
  EXPECT_EQ(ShapeOf(RunOne(Op(OpKind::kLogicalNot, {c}))), "bool[2,0]");
  const Value d = Param<float>({2, 1}, {1, 2});
  EXPECT_EQ(ShapeOf(RunOne(Op(OpKind::kWhere, {c, d, d}))), "f32[2,0]");
}

TEST(InterpElementwiseTest, Constant) {
  const Value f =
      Op(OpKind::kConstant, {}, Attributes().Set("value", 2.5).Set("dtype", DType::kF32));
  BufferPtr out = RunOne(f);
  EXPECT_EQ(ShapeOf(out), "f32[]");
  EXPECT_THAT(Read<float>(out), ElementsAre(2.5f));
  const Value i =
      Op(OpKind::kConstant, {}, Attributes().Set("value", -2.7).Set("dtype", DType::kI32));
  EXPECT_THAT(Read<int32_t>(RunOne(i)), ElementsAre(-2));
  // A constant broadcast against a parameter.
  const Value x = Param<int64_t>({3}, {1, 2, 3});
  const Value three =
      Op(OpKind::kConstant, {}, Attributes().Set("value", 3.0).Set("dtype", DType::kI64));
  EXPECT_THAT(Read<int64_t>(RunOne(Op(OpKind::kMul, {x, three}))), ElementsAre(3, 6, 9));
}

Attributes ArangeAttrs(double start, double step, int64_t size, DType dtype) {
  return Attributes().Set("start", start).Set("step", step).Set("size", size).Set("dtype", dtype);
}

TEST(InterpElementwiseTest, Arange) {
  EXPECT_THAT(Read<float>(RunOne(Op(OpKind::kArange, {}, ArangeAttrs(0.5, 1.5, 4, DType::kF32)))),
              ElementsAre(0.5f, 2.0f, 3.5f, 5.0f));
  // Computed in f64, then cast (truncating toward zero).
  EXPECT_THAT(Read<int32_t>(RunOne(Op(OpKind::kArange, {}, ArangeAttrs(0.5, 1.5, 4, DType::kI32)))),
              ElementsAre(0, 2, 3, 5));
  EXPECT_THAT(Read<double>(RunOne(Op(OpKind::kArange, {}, ArangeAttrs(1, -0.25, 3, DType::kF64)))),
              ElementsAre(1.0, 0.75, 0.5));
  EXPECT_THAT(Read<int64_t>(RunOne(Op(OpKind::kArange, {}, ArangeAttrs(-2, 3, 3, DType::kI64)))),
              ElementsAre(-2, 1, 4));
  EXPECT_EQ(ShapeOf(RunOne(Op(OpKind::kArange, {}, ArangeAttrs(0, 1, 0, DType::kF32)))), "f32[0]");
}

TEST(InterpElementwiseTest, RandUniformIsPhiloxOfEachPosition) {
  constexpr int64_t kKey = (int64_t{1} << 40) + 17;
  for (DType dt : {DType::kF32, DType::kF64}) {
    const Value key{Node::CreateScalar(DType::kI64, static_cast<double>(kKey)), 0};
    const BufferPtr out =
        RunOne(Op(OpKind::kRandUniform, {key},
                  Attributes().Set("sizes", std::vector<int64_t>{3, 5}).Set("dtype", dt)));
    EXPECT_EQ(ShapeOf(out), dt == DType::kF32 ? "f32[3,5]" : "f64[3,5]");
    if (dt == DType::kF32) {
      const std::vector<float> v = Read<float>(out);
      for (int64_t i = 0; i < 15; ++i) EXPECT_EQ(v[i], numerics::RandUniform<float>(kKey, i));
    } else {
      const std::vector<double> v = Read<double>(out);
      for (int64_t i = 0; i < 15; ++i) EXPECT_EQ(v[i], numerics::RandUniform<double>(kKey, i));
    }
  }
}

}  // namespace
}  // namespace kiln::interp_test
