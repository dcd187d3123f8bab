#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <vector>

#include "lazy/ops.h"
#include "lazy/tensor.h"
#include "tests/lazy/op_test_util.h"

namespace kiln {
namespace {

using ::kiln::testing::ErrorOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

using ::kiln::testing::Matrix;

TEST(IndexOpsTest, GatherAlongEachDim) {
  Tensor x = Matrix();
  // out[i][j] = x[i][index[i][j]]
  Tensor idx = Tensor::from_vector<int64_t>({2, 0, 1, 1}, {2, 2});
  Tensor g = gather(x, 1, idx);
  EXPECT_EQ(g.shape().ToString(), "f32[2,2]");
  EXPECT_THAT(g.to_vector<float>(), ElementsAre(3, 1, 5, 5));
  // out[i][j] = x[index[i][j]][j], with an i32 index and a negative dim.
  Tensor rows = Tensor::from_vector<int32_t>({1, 0, 1}, {1, 3});
  EXPECT_THAT(x.gather(-2, rows).to_vector<float>(), ElementsAre(4, 2, 6));
}

TEST(IndexOpsTest, IndexSelect) {
  Tensor x = Matrix();
  Tensor idx = Tensor::from_vector<int64_t>({2, 2, 0}, {3});
  Tensor cols = index_select(x, 1, idx);
  EXPECT_EQ(cols.shape().ToString(), "f32[2,3]");
  EXPECT_THAT(cols.to_vector<float>(), ElementsAre(3, 3, 1, 6, 6, 4));
  Tensor rows = x.index_select(0, Tensor::from_vector<int32_t>({1}, {1}));
  EXPECT_THAT(rows.to_vector<float>(), ElementsAre(4, 5, 6));
  // A 0-d index keeps the dimension with size 1.
  Tensor one = index_select(x, -1, Tensor::from_vector<int64_t>({1}, {}));
  EXPECT_EQ(one.shape().ToString(), "f32[2,1]");
  EXPECT_THAT(one.to_vector<float>(), ElementsAre(2, 5));
  // An empty index selects nothing.
  EXPECT_EQ(index_select(x, 0, Tensor::from_vector<int64_t>({}, {0})).shape().ToString(),
            "f32[0,3]");
}

TEST(IndexOpsTest, ScatterAddAccumulatesDuplicates) {
  Tensor self = Tensor::from_vector<float>({1, 1, 1, 1}, {4});
  Tensor idx = Tensor::from_vector<int64_t>({0, 2, 0}, {3});
  Tensor src = Tensor::from_vector<float>({10, 20, 30}, {3});
  Tensor out = scatter_add(self, 0, idx, src);
  EXPECT_EQ(out.shape().ToString(), "f32[4]");
  EXPECT_THAT(out.to_vector<float>(), ElementsAre(41, 1, 21, 1));
  // Out of place: self is unchanged.
  EXPECT_THAT(self.to_vector<float>(), ElementsAre(1, 1, 1, 1));
  // 2-d along dim 1: self[i][index[i][j]] += src[i][j].
  Tensor s2 = Tensor::from_vector<int32_t>({0, 0, 0, 0, 0, 0}, {2, 3});
  Tensor i2 = Tensor::from_vector<int32_t>({2, 2, 1, 0}, {2, 2});
  Tensor v2 = Tensor::from_vector<int32_t>({1, 2, 3, 4, 5, 6}, {2, 3});
  EXPECT_THAT(s2.scatter_add(-1, i2, v2).to_vector<int32_t>(), ElementsAre(0, 0, 3, 5, 4, 0));
}

TEST(IndexOpsTest, Errors) {
  Tensor x = Matrix();
  Tensor fidx = Tensor::from_vector<float>({0, 1}, {1, 2});
  EXPECT_THAT(ErrorOf([&] { gather(x, 1, fidx); }),
              HasSubstr("gather: expected an i32 or i64 index, got f32[1,2]"));
  EXPECT_THAT(ErrorOf([&] { gather(x, 1, Tensor::from_vector<int64_t>({0}, {1})); }),
              HasSubstr("gather: index i64[1] must have the rank of the input f32[2,3]"));
  EXPECT_THAT(ErrorOf([&] {
                gather(x, 1, Tensor::from_vector<int64_t>({0, 0, 0}, {3, 1}));
              }),
              HasSubstr("gather: index i64[3,1] is larger than the input f32[2,3] in dimension 0"));
  EXPECT_THAT(ErrorOf([&] {
                gather(x, 2, Tensor::from_vector<int64_t>({0}, {1, 1}));
              }),
              HasSubstr("gather: dimension 2 is out of range for f32[2,3]"));
  EXPECT_THAT(ErrorOf([&] { index_select(x, 0, Tensor::from_vector<bool>({true}, {1})); }),
              HasSubstr("index_select: expected an i32 or i64 index, got bool[1]"));
  EXPECT_THAT(ErrorOf([&] {
                index_select(x, 0, Tensor::from_vector<int64_t>({0}, {1, 1}));
              }),
              HasSubstr("index_select: expected a 1-d index, got i64[1,1]"));
  Tensor self = Tensor::from_vector<float>({0, 0}, {2});
  Tensor idx = Tensor::from_vector<int64_t>({0}, {1});
  EXPECT_THAT(ErrorOf([&] { scatter_add(self, 0, idx, Tensor::from_vector<double>({1}, {1})); }),
              HasSubstr("scatter_add: src f64[1] must have the dtype of self f32[2]"));
  EXPECT_THAT(ErrorOf([&] {
                scatter_add(self, 0, idx, Tensor::from_vector<float>({1}, {1, 1}));
              }),
              HasSubstr("scatter_add: self, index and src must have one rank"));
  EXPECT_THAT(ErrorOf([&] {
                scatter_add(self, 0, Tensor::from_vector<int64_t>({0, 1}, {2}),
                            Tensor::from_vector<float>({1}, {1}));
              }),
              HasSubstr("scatter_add: index i64[2] is larger than src f32[1] in dimension 0"));
}

}  // namespace
}  // namespace kiln
