// Indexing ops on the interp backend: gather, index_select, scatter_add, with i32 and i64
// indices, duplicates, and out-of-range indices reported with their position.
#include <cstdint>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/backends/interp_test_util.h"

namespace kiln::interp_test {
namespace {

using ::testing::ElementsAre;

// The status of running `output`, which is expected to fail.
absl::Status RunError(const Value& output) {
  absl::StatusOr<std::vector<BufferPtr>> result = TryRun({output});
  EXPECT_FALSE(result.ok());
  return result.ok() ? absl::OkStatus() : result.status();
}

TEST(InterpIndexingTest, GatherAlongInnerDim) {
  const Value x = Param<float>({2, 3}, {1, 2, 3, 4, 5, 6});
  const Value index = Param<int64_t>({2, 2}, {2, 0, 1, 1});
  BufferPtr out = RunOne(Op(OpKind::kGather, {x, index}, DimAttr(1)));
  EXPECT_EQ(ShapeOf(out), "f32[2,2]");
  EXPECT_THAT(Read<float>(out), ElementsAre(3, 1, 5, 5));
}

TEST(InterpIndexingTest, GatherAlongOuterDimWithI32Index) {
  const Value x = Param<int64_t>({2, 3}, {1, 2, 3, 4, 5, 6});
  const Value index = Param<int32_t>({1, 3}, {1, 0, 1});
  BufferPtr out = RunOne(Op(OpKind::kGather, {x, index}, DimAttr(0)));
  EXPECT_EQ(ShapeOf(out), "i64[1,3]");
  EXPECT_THAT(Read<int64_t>(out), ElementsAre(4, 2, 6));
}

TEST(InterpIndexingTest, GatherWithIndexSmallerThanInput) {
  // index [1,2] over x [2,3] along dim 1 reads only row 0, columns given by the index.
  const Value x = Param<double>({2, 3}, {1, 2, 3, 4, 5, 6});
  const Value index = Param<int64_t>({1, 2}, {2, 2});
  EXPECT_THAT(Read<double>(RunOne(Op(OpKind::kGather, {x, index}, DimAttr(1)))), ElementsAre(3, 3));
  const Value flags = Param<bool>({3}, {true, false, false});
  const Value picks = Param<int32_t>({4}, {1, 0, 0, 2});
  EXPECT_THAT(Read<bool>(RunOne(Op(OpKind::kGather, {flags, picks}, DimAttr(0)))),
              ElementsAre(false, true, true, false));
}

TEST(InterpIndexingTest, GatherIndexOutOfRange) {
  const Value x = Param<float>({2, 5}, {1, 2, 3, 4, 5, 6, 7, 8, 9, 10});
  const Value index = Param<int64_t>({2, 2}, {0, 4, 7, 1});
  const absl::Status status = RunError(Op(OpKind::kGather, {x, index}, DimAttr(1)));
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(),
            "gather: index 7 at position [1,0] is out of range for dimension 1 of size 5");
}

TEST(InterpIndexingTest, GatherNegativeIndex) {
  const Value x = Param<float>({2, 5}, {1, 2, 3, 4, 5, 6, 7, 8, 9, 10});
  const Value index = Param<int32_t>({2, 2}, {0, -1, 2, 1});
  EXPECT_EQ(RunError(Op(OpKind::kGather, {x, index}, DimAttr(1))).message(),
            "gather: index -1 at position [0,1] is out of range for dimension 1 of size 5");
}

TEST(InterpIndexingTest, IndexSelectWithDuplicates) {
  const Value x = Param<float>({3, 2}, {1, 2, 3, 4, 5, 6});
  const Value rows = Param<int32_t>({3}, {2, 0, 2});
  BufferPtr out = RunOne(Op(OpKind::kIndexSelect, {x, rows}, DimAttr(0)));
  EXPECT_EQ(ShapeOf(out), "f32[3,2]");
  EXPECT_THAT(Read<float>(out), ElementsAre(5, 6, 1, 2, 5, 6));
  const Value cols = Param<int64_t>({3}, {1, 1, 0});
  BufferPtr picked = RunOne(Op(OpKind::kIndexSelect, {x, cols}, DimAttr(1)));
  EXPECT_EQ(ShapeOf(picked), "f32[3,3]");
  EXPECT_THAT(Read<float>(picked), ElementsAre(2, 2, 1, 4, 4, 3, 6, 6, 5));
  const Value none = Param<int64_t>({0}, {});
  EXPECT_EQ(ShapeOf(RunOne(Op(OpKind::kIndexSelect, {x, none}, DimAttr(1)))), "f32[3,0]");
}

TEST(InterpIndexingTest, IndexSelectIndexOutOfRange) {
  const Value x = Param<int32_t>({3, 2}, {1, 2, 3, 4, 5, 6});
  const Value rows = Param<int64_t>({2}, {0, 3});
  const absl::Status status = RunError(Op(OpKind::kIndexSelect, {x, rows}, DimAttr(0)));
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(),
            "index_select: index 3 at position [1] is out of range for dimension 0 of size 3");
}

TEST(InterpIndexingTest, ScatterAddAccumulatesDuplicates) {
  const Value self = Param<float>({3}, {1, 2, 3});
  const Value index = Param<int64_t>({4}, {0, 2, 0, 0});
  const Value src = Param<float>({4}, {10, 20, 30, 40});
  BufferPtr out = RunOne(Op(OpKind::kScatterAdd, {self, index, src}, DimAttr(0)));
  EXPECT_EQ(ShapeOf(out), "f32[3]");
  EXPECT_THAT(Read<float>(out), ElementsAre(81, 2, 23));
}

TEST(InterpIndexingTest, ScatterAddAlongInnerDimWithLargerSrc) {
  // src is [2,3] but index [2,2] only uses its first two columns.
  const Value self = Param<int32_t>({2, 3}, {1, 1, 1, 2, 2, 2});
  const Value index = Param<int32_t>({2, 2}, {0, 2, 1, 1});
  const Value src = Param<int32_t>({2, 3}, {10, 20, 30, 40, 50, 60});
  BufferPtr out = RunOne(Op(OpKind::kScatterAdd, {self, index, src}, DimAttr(1)));
  EXPECT_EQ(ShapeOf(out), "i32[2,3]");
  EXPECT_THAT(Read<int32_t>(out), ElementsAre(11, 1, 21, 2, 92, 2));
}

TEST(InterpIndexingTest, ScatterAddAlongOuterDim) {
  const Value self = Param<double>({2, 2}, {0.5, 0.5, 0.5, 0.5});
  const Value index = Param<int64_t>({3, 2}, {1, 0, 1, 1, 0, 1});
  const Value src = Param<double>({3, 2}, {1, 2, 3, 4, 5, 6});
  // Column 0 gets rows 0->1, 1->1, 2->0; column 1 gets 0->0, 1->1, 2->1.
  EXPECT_THAT(Read<double>(RunOne(Op(OpKind::kScatterAdd, {self, index, src}, DimAttr(0)))),
              ElementsAre(5.5, 2.5, 4.5, 10.5));
}

TEST(InterpIndexingTest, ScatterAddIndexOutOfRange) {
  const Value self = Param<int64_t>({2, 3}, {1, 1, 1, 2, 2, 2});
  const Value index = Param<int64_t>({2, 2}, {0, 3, 1, 1});
  const Value src = Param<int64_t>({2, 2}, {1, 2, 3, 4});
  const absl::Status status = RunError(Op(OpKind::kScatterAdd, {self, index, src}, DimAttr(1)));
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(),
            "scatter_add: index 3 at position [0,1] is out of range for dimension 1 of size 3");
}

}  // namespace
}  // namespace kiln::interp_test
