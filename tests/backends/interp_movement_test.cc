// Data-movement ops on the interp backend: reshape, permute, expand, slice, concat, pad.
#include <cstdint>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/backends/interp_test_util.h"

namespace kiln::interp_test {
namespace {

using ::testing::ElementsAre;
using ::testing::ElementsAreArray;

Attributes Ints(const char* name, std::vector<int64_t> values) {
  return Attributes().Set(name, std::move(values));
}

Attributes SliceAttrs(int64_t dim, int64_t start, int64_t end, int64_t step) {
  return Attributes().Set("dim", dim).Set("start", start).Set("end", end).Set("step", step);
}

Attributes PadAttrs(std::vector<int64_t> pads, double value) {
  return Attributes().Set("pads", std::move(pads)).Set("value", value);
}

TEST(InterpMovementTest, ReshapeKeepsRowMajorOrder) {
  const Value x = Param<int64_t>({2, 3}, {1, 2, 3, 4, 5, 6});
  BufferPtr out = RunOne(Op(OpKind::kReshape, {x}, Ints("sizes", {3, 1, 2})));
  EXPECT_EQ(ShapeOf(out), "i64[3,1,2]");
  EXPECT_THAT(Read<int64_t>(out), ElementsAre(1, 2, 3, 4, 5, 6));
  const Value b = Param<bool>({4}, {true, false, false, true});
  EXPECT_THAT(Read<bool>(RunOne(Op(OpKind::kReshape, {b}, Ints("sizes", {2, 2})))),
              ElementsAre(true, false, false, true));
  const Value s = Param<float>({1}, {7.5f});
  BufferPtr scalar = RunOne(Op(OpKind::kReshape, {s}, Ints("sizes", {})));
  EXPECT_EQ(ShapeOf(scalar), "f32[]");
  EXPECT_THAT(Read<float>(scalar), ElementsAre(7.5f));
}

TEST(InterpMovementTest, PermuteTransposes) {
  const Value x = Param<float>({2, 3}, {1, 2, 3, 4, 5, 6});
  BufferPtr out = RunOne(Op(OpKind::kPermute, {x}, Ints("perm", {1, 0})));
  EXPECT_EQ(ShapeOf(out), "f32[3,2]");
  EXPECT_THAT(Read<float>(out), ElementsAre(1, 4, 2, 5, 3, 6));
}

TEST(InterpMovementTest, PermuteRank3) {
  // x[i][j][k] = 100i + 10j + k, shape [2,3,4]; perm [2,0,1] gives out[k][i][j].
  std::vector<int32_t> values;
  for (int i = 0; i < 2; ++i) {
    for (int j = 0; j < 3; ++j) {
      for (int k = 0; k < 4; ++k) values.push_back(100 * i + 10 * j + k);
    }
  }
  const Value x = Param<int32_t>({2, 3, 4}, values);
  BufferPtr out = RunOne(Op(OpKind::kPermute, {x}, Ints("perm", {2, 0, 1})));
  EXPECT_EQ(ShapeOf(out), "i32[4,2,3]");
  EXPECT_THAT(Read<int32_t>(out),
              ElementsAreArray({0, 10, 20, 100, 110, 120, 1, 11, 21, 101, 111, 121,
                                2, 12, 22, 102, 112, 122, 3, 13, 23, 103, 113, 123}));
}

TEST(InterpMovementTest, ExpandStretchesAndAddsDims) {
  const Value row = Param<double>({3}, {1, 2, 3});
  BufferPtr out = RunOne(Op(OpKind::kExpand, {row}, Ints("sizes", {2, 3})));
  EXPECT_EQ(ShapeOf(out), "f64[2,3]");
  EXPECT_THAT(Read<double>(out), ElementsAre(1, 2, 3, 1, 2, 3));
  const Value column = Param<double>({2, 1}, {4, 5});
  EXPECT_THAT(Read<double>(RunOne(Op(OpKind::kExpand, {column}, Ints("sizes", {2, 3})))),
              ElementsAre(4, 4, 4, 5, 5, 5));
  const Value inner = Param<int32_t>({1, 2}, {6, 7});
  BufferPtr lead = RunOne(Op(OpKind::kExpand, {inner}, Ints("sizes", {2, 3, 2})));
  EXPECT_EQ(ShapeOf(lead), "i32[2,3,2]");
  EXPECT_THAT(Read<int32_t>(lead), ElementsAre(6, 7, 6, 7, 6, 7, 6, 7, 6, 7, 6, 7));
  const Value zero_d = Param<bool>({}, {true});
  EXPECT_THAT(Read<bool>(RunOne(Op(OpKind::kExpand, {zero_d}, Ints("sizes", {2})))),
              ElementsAre(true, true));
}

TEST(InterpMovementTest, SliceWithStep) {
  const Value x = Param<int32_t>({10}, {0, 1, 2, 3, 4, 5, 6, 7, 8, 9});
  BufferPtr out = RunOne(Op(OpKind::kSlice, {x}, SliceAttrs(0, 1, 8, 3)));
  EXPECT_EQ(ShapeOf(out), "i32[3]");
  EXPECT_THAT(Read<int32_t>(out), ElementsAre(1, 4, 7));
  EXPECT_THAT(Read<int32_t>(RunOne(Op(OpKind::kSlice, {x}, SliceAttrs(0, 7, 10, 1)))),
              ElementsAre(7, 8, 9));
}

TEST(InterpMovementTest, SliceInnerDimension) {
  const Value x = Param<float>({3, 4}, {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11});
  BufferPtr out = RunOne(Op(OpKind::kSlice, {x}, SliceAttrs(1, 1, 4, 2)));
  EXPECT_EQ(ShapeOf(out), "f32[3,2]");
  EXPECT_THAT(Read<float>(out), ElementsAre(1, 3, 5, 7, 9, 11));
  EXPECT_THAT(Read<float>(RunOne(Op(OpKind::kSlice, {x}, SliceAttrs(0, 1, 3, 1)))),
              ElementsAre(4, 5, 6, 7, 8, 9, 10, 11));
  EXPECT_EQ(ShapeOf(RunOne(Op(OpKind::kSlice, {x}, SliceAttrs(1, 2, 2, 1)))), "f32[3,0]");
}

TEST(InterpMovementTest, ConcatThreeAlongInnerDim) {
  const Value a = Param<float>({2, 1}, {1, 2});
  const Value b = Param<float>({2, 2}, {3, 4, 5, 6});
  const Value c = Param<float>({2, 1}, {7, 8});
  BufferPtr out = RunOne(Op(OpKind::kConcat, {a, b, c}, DimAttr(1)));
  EXPECT_EQ(ShapeOf(out), "f32[2,4]");
  EXPECT_THAT(Read<float>(out), ElementsAre(1, 3, 4, 7, 2, 5, 6, 8));
}

TEST(InterpMovementTest, ConcatAlongOuterDimWithEmptyPart) {
  const Value a = Param<int64_t>({1, 2}, {1, 2});
  const Value empty = Param<int64_t>({0, 2}, {});
  const Value b = Param<int64_t>({2, 2}, {3, 4, 5, 6});
  BufferPtr out = RunOne(Op(OpKind::kConcat, {a, empty, b}, DimAttr(0)));
  EXPECT_EQ(ShapeOf(out), "i64[3,2]");
  EXPECT_THAT(Read<int64_t>(out), ElementsAre(1, 2, 3, 4, 5, 6));
  const Value flags = Param<bool>({2}, {true, false});
  EXPECT_THAT(Read<bool>(RunOne(Op(OpKind::kConcat, {flags, flags}, DimAttr(0)))),
              ElementsAre(true, false, true, false));
}

TEST(InterpMovementTest, PadAndCrop) {
  // pads = [lo0, hi0, lo1, hi1]: one row of padding on top, crop one column on the left
  // and add two on the right.
  const Value x = Param<float>({2, 3}, {1, 2, 3, 4, 5, 6});
  BufferPtr out = RunOne(Op(OpKind::kPad, {x}, PadAttrs({1, 0, -1, 2}, 9.5)));
  EXPECT_EQ(ShapeOf(out), "f32[3,4]");
  EXPECT_THAT(Read<float>(out),
              ElementsAre(9.5f, 9.5f, 9.5f, 9.5f, 2, 3, 9.5f, 9.5f, 5, 6, 9.5f, 9.5f));
}

TEST(InterpMovementTest, PadIntegersWithCropOfLastRow) {
  const Value x = Param<int32_t>({2, 3}, {1, 2, 3, 4, 5, 6});
  BufferPtr out = RunOne(Op(OpKind::kPad, {x}, PadAttrs({0, -1, 1, 1}, 7.9)));
  EXPECT_EQ(ShapeOf(out), "i32[1,5]");
  EXPECT_THAT(Read<int32_t>(out), ElementsAre(7, 1, 2, 3, 7));
  // Cropping everything away leaves an empty tensor.
  EXPECT_EQ(ShapeOf(RunOne(Op(OpKind::kPad, {x}, PadAttrs({-1, -1, 0, 0}, 0)))), "i32[0,3]");
  // Cropping more than the pad on the other side keeps the output consistent.
  const Value y = Param<double>({4}, {1, 2, 3, 4});
  EXPECT_THAT(Read<double>(RunOne(Op(OpKind::kPad, {y}, PadAttrs({-3, 2}, -1)))),
              ElementsAre(4, -1, -1));
}

}  // namespace
}  // namespace kiln::interp_test
