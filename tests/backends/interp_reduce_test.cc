// Reductions (sum, mean, max, min, argmax) on the interp backend.
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/backends/interp_test_util.h"

namespace kiln::interp_test {
namespace {

using ::testing::ElementsAre;
using ::testing::NanSensitiveFloatEq;
using ::testing::Pointwise;

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
constexpr float kInf = std::numeric_limits<float>::infinity();

Attributes ArgmaxAttrs(int64_t dim, bool keepdim) {
  return Attributes().Set("dim", dim).Set("keepdim", keepdim);
}

template <typename T>
class InterpSumTest : public ::testing::Test {};
using NumericTypes = ::testing::Types<int32_t, int64_t, float, double>;
TYPED_TEST_SUITE(InterpSumTest, NumericTypes);

TYPED_TEST(InterpSumTest, SumOverEachDimension) {
  using T = TypeParam;
  const std::string dtype(DTypeName(DTypeOf<T>));
  const Value x = Param<T>({2, 3}, {1, 2, 3, 4, 5, -6});
  BufferPtr rows = RunOne(Op(OpKind::kSum, {x}, ReduceAttrs({1}, false)));
  EXPECT_EQ(ShapeOf(rows), dtype + "[2]");
  EXPECT_THAT(Read<T>(rows), ElementsAre(6, 3));
  BufferPtr kept = RunOne(Op(OpKind::kSum, {x}, ReduceAttrs({1}, true)));
  EXPECT_EQ(ShapeOf(kept), dtype + "[2,1]");
  EXPECT_THAT(Read<T>(kept), ElementsAre(6, 3));
  EXPECT_THAT(Read<T>(RunOne(Op(OpKind::kSum, {x}, ReduceAttrs({0}, false)))),
              ElementsAre(5, 7, -3));
  BufferPtr all = RunOne(Op(OpKind::kSum, {x}, ReduceAttrs({0, 1}, false)));
  EXPECT_EQ(ShapeOf(all), dtype + "[]");
  EXPECT_THAT(Read<T>(all), ElementsAre(9));
  // No dims: nothing is reduced.
  EXPECT_THAT(Read<T>(RunOne(Op(OpKind::kSum, {x}, ReduceAttrs({}, false)))),
              ElementsAre(1, 2, 3, 4, 5, -6));
}

TYPED_TEST(InterpSumTest, MaxAndMin) {
  using T = TypeParam;
  const Value x = Param<T>({2, 2}, {3, -1, 2, 8});
  EXPECT_THAT(Read<T>(RunOne(Op(OpKind::kMax, {x}, ReduceAttrs({1}, false)))), ElementsAre(3, 8));
  EXPECT_THAT(Read<T>(RunOne(Op(OpKind::kMin, {x}, ReduceAttrs({0}, true)))), ElementsAre(2, -1));
  EXPECT_THAT(Read<T>(RunOne(Op(OpKind::kMax, {x}, ReduceAttrs({0, 1}, false)))), ElementsAre(8));
  EXPECT_THAT(Read<T>(RunOne(Op(OpKind::kMin, {x}, ReduceAttrs({0, 1}, false)))), ElementsAre(-1));
}

TYPED_TEST(InterpSumTest, Prod) {
  using T = TypeParam;
  const Value x = Param<T>({2, 3}, {1, 2, 3, 4, 5, -6});
  EXPECT_THAT(Read<T>(RunOne(Op(OpKind::kProd, {x}, ReduceAttrs({0}, false)))),
              ElementsAre(4, 10, -18));
  EXPECT_THAT(Read<T>(RunOne(Op(OpKind::kProd, {x}, ReduceAttrs({1}, true)))),
              ElementsAre(6, -120));
  EXPECT_THAT(Read<T>(RunOne(Op(OpKind::kProd, {x}, ReduceAttrs({0, 1}, false)))),
              ElementsAre(-720));
  // The product of nothing is 1.
  const Value empty = Param<T>({0, 2}, {});
  EXPECT_THAT(Read<T>(RunOne(Op(OpKind::kProd, {empty}, ReduceAttrs({0}, false)))),
              ElementsAre(1, 1));
}

TYPED_TEST(InterpSumTest, ArgmaxTakesFirstOccurrence) {
  using T = TypeParam;
  const Value x = Param<T>({3, 2}, {5, 1, 5, 9, 2, 9});
  BufferPtr cols = RunOne(Op(OpKind::kArgmax, {x}, ArgmaxAttrs(0, false)));
  EXPECT_EQ(ShapeOf(cols), "i64[2]");
  EXPECT_THAT(Read<int64_t>(cols), ElementsAre(0, 1));
  BufferPtr rows = RunOne(Op(OpKind::kArgmax, {x}, ArgmaxAttrs(1, true)));
  EXPECT_EQ(ShapeOf(rows), "i64[3,1]");
  EXPECT_THAT(Read<int64_t>(rows), ElementsAre(0, 1, 1));
}

TEST(InterpReduceTest, SumOverOuterAndInnerDimsOfRank3) {
  // x[i][j][k] = 6i + 2j + k + 1; sum over i and k leaves j.
  const Value x = Param<float>({2, 3, 2}, {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12});
  BufferPtr out = RunOne(Op(OpKind::kSum, {x}, ReduceAttrs({0, 2}, false)));
  EXPECT_EQ(ShapeOf(out), "f32[3]");
  EXPECT_THAT(Read<float>(out), ElementsAre(18, 26, 34));
  BufferPtr kept = RunOne(Op(OpKind::kSum, {x}, ReduceAttrs({0, 2}, true)));
  EXPECT_EQ(ShapeOf(kept), "f32[1,3,1]");
  EXPECT_THAT(Read<float>(kept), ElementsAre(18, 26, 34));
  // Middle dim only.
  EXPECT_THAT(Read<float>(RunOne(Op(OpKind::kSum, {x}, ReduceAttrs({1}, false)))),
              ElementsAre(9, 12, 27, 30));
}

TEST(InterpReduceTest, SumOfFloatsAccumulatesInDouble) {
  // 0.1f is 0.100000001490116...; a float accumulator drifts to about 100958, while an
  // f64 accumulator gives 100000.0015 which rounds to 100000.
  const std::vector<float> values(1000000, 0.1f);
  const Value x = Param<float>({1000000}, values);
  const std::vector<float> sum =
      Read<float>(RunOne(Op(OpKind::kSum, {x}, ReduceAttrs({0}, false))));
  ASSERT_EQ(sum.size(), 1u);
  EXPECT_NEAR(sum[0], 100000.0f, 0.01f);
  const std::vector<float> mean =
      Read<float>(RunOne(Op(OpKind::kMean, {x}, ReduceAttrs({0}, false))));
  EXPECT_FLOAT_EQ(mean[0], 0.1f);
}

TEST(InterpReduceTest, Mean) {
  const Value x = Param<float>({2, 3}, {1, 2, 3, 4, 5, 7});
  EXPECT_THAT(Read<float>(RunOne(Op(OpKind::kMean, {x}, ReduceAttrs({1}, false)))),
              ElementsAre(2, 16.0f / 3));
  const Value y = Param<double>({2, 3}, {1, 2, 3, 4, 5, 7});
  BufferPtr cols = RunOne(Op(OpKind::kMean, {y}, ReduceAttrs({0}, true)));
  EXPECT_EQ(ShapeOf(cols), "f64[1,3]");
  EXPECT_THAT(Read<double>(cols), ElementsAre(2.5, 3.5, 5.0));
  EXPECT_THAT(Read<double>(RunOne(Op(OpKind::kMean, {y}, ReduceAttrs({0, 1}, false)))),
              ElementsAre(22.0 / 6));
}

TEST(InterpReduceTest, EmptyReductions) {
  // Summing nothing gives 0; the mean of nothing is 0/0.
  const Value x = Param<float>({2, 0}, {});
  BufferPtr sum = RunOne(Op(OpKind::kSum, {x}, ReduceAttrs({1}, false)));
  EXPECT_EQ(ShapeOf(sum), "f32[2]");
  EXPECT_THAT(Read<float>(sum), ElementsAre(0, 0));
  EXPECT_THAT(Read<float>(RunOne(Op(OpKind::kMean, {x}, ReduceAttrs({1}, false)))),
              Pointwise(NanSensitiveFloatEq(), {kNaN, kNaN}));
  // Reducing the non-empty dim of an empty tensor gives an empty result.
  EXPECT_EQ(ShapeOf(RunOne(Op(OpKind::kMax, {x}, ReduceAttrs({0}, false)))), "f32[0]");
  const Value i = Param<int64_t>({0, 3}, {});
  EXPECT_THAT(Read<int64_t>(RunOne(Op(OpKind::kSum, {i}, ReduceAttrs({0}, false)))),
              ElementsAre(0, 0, 0));
}

TEST(InterpReduceTest, MaxAndMinPropagateNaN) {
  const Value x = Param<float>({2, 3}, {1, 5, -2, 7, kNaN, 3});
  EXPECT_THAT(Read<float>(RunOne(Op(OpKind::kMax, {x}, ReduceAttrs({1}, false)))),
              Pointwise(NanSensitiveFloatEq(), {5.0f, kNaN}));
  EXPECT_THAT(Read<float>(RunOne(Op(OpKind::kMin, {x}, ReduceAttrs({1}, false)))),
              Pointwise(NanSensitiveFloatEq(), {-2.0f, kNaN}));
  EXPECT_THAT(Read<float>(RunOne(Op(OpKind::kMax, {x}, ReduceAttrs({0}, false)))),
              Pointwise(NanSensitiveFloatEq(), {7.0f, kNaN, 3.0f}));
  EXPECT_THAT(Read<float>(RunOne(Op(OpKind::kMin, {x}, ReduceAttrs({0}, false)))),
              Pointwise(NanSensitiveFloatEq(), {1.0f, kNaN, -2.0f}));
}

TEST(InterpReduceTest, MaxOfInfinities) {
  const Value x = Param<float>({2, 2}, {-kInf, -kInf, kInf, 1});
  EXPECT_THAT(Read<float>(RunOne(Op(OpKind::kMax, {x}, ReduceAttrs({1}, false)))),
              ElementsAre(-kInf, kInf));
  EXPECT_THAT(Read<float>(RunOne(Op(OpKind::kMin, {x}, ReduceAttrs({1}, false)))),
              ElementsAre(-kInf, 1));
}

TEST(InterpReduceTest, ArgmaxTreatsNaNAsMaximum) {
  const Value x = Param<float>({3, 4}, {1, 7, 7, 2, 3, kNaN, 9, kNaN, -1, -5, -0.5f, -3});
  BufferPtr out = RunOne(Op(OpKind::kArgmax, {x}, ArgmaxAttrs(1, false)));
  EXPECT_EQ(ShapeOf(out), "i64[3]");
  EXPECT_THAT(Read<int64_t>(out), ElementsAre(1, 1, 2));
}

TEST(InterpReduceTest, ArgmaxOverMiddleDimOfRank3) {
  // x[i][j][k]: argmax over j for each (i, k).
  const Value x = Param<int32_t>({2, 3, 2}, {1, 9, 4, 2, 3, 8, 6, 0, 6, 5, 7, 5});
  BufferPtr out = RunOne(Op(OpKind::kArgmax, {x}, ArgmaxAttrs(1, false)));
  EXPECT_EQ(ShapeOf(out), "i64[2,2]");
  EXPECT_THAT(Read<int64_t>(out), ElementsAre(1, 0, 2, 1));
}

}  // namespace
}  // namespace kiln::interp_test
