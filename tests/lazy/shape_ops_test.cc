#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
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

TEST(ShapeOpsTest, ReshapeInfersOneSize) {
  Tensor x = Matrix();
  Tensor r = reshape(x, {3, -1});
  EXPECT_EQ(r.shape().ToString(), "f32[3,2]");
  EXPECT_THAT(r.to_vector<float>(), ElementsAre(1, 2, 3, 4, 5, 6));
  EXPECT_EQ(x.view({-1}).shape().ToString(), "f32[6]");
  EXPECT_EQ(x.reshape({1, 6, 1}).shape().ToString(), "f32[1,6,1]");
  EXPECT_EQ(reshape(Tensor::from_vector<float>({7}, {1, 1}), {}).shape().ToString(), "f32[]");
  EXPECT_EQ(reshape(Tensor::from_vector<float>({}, {0, 3}), {3, -1, 2}).shape().ToString(),
            "f32[3,0,2]");
}

TEST(ShapeOpsTest, ReshapeErrors) {
  Tensor x = Matrix();
  EXPECT_THAT(ErrorOf([&] {
                reshape(x, {4, -1});
              }),
              HasSubstr("reshape: cannot reshape f32[2,3] (6 elements) to [4,-1]"));
  EXPECT_THAT(ErrorOf([&] { reshape(x, {-1, -1}); }), HasSubstr("only one size may be -1"));
  EXPECT_THAT(ErrorOf([&] { reshape(x, {5}); }),
              HasSubstr("cannot reshape f32[2,3] (6 elements) to [5]"));
  EXPECT_THAT(ErrorOf([&] { reshape(x, {-2, -3}); }), HasSubstr("sizes must be >= 0 or -1"));
  EXPECT_THAT(ErrorOf([] {
                reshape(Tensor::from_vector<float>({}, {0}), {0, -1});
              }),
              HasSubstr("the -1 is ambiguous"));
}

TEST(ShapeOpsTest, PermuteAndTranspose) {
  Tensor x = Matrix();
  Tensor t = transpose(x, 0, 1);
  EXPECT_EQ(t.shape().ToString(), "f32[3,2]");
  EXPECT_THAT(t.to_vector<float>(), ElementsAre(1, 4, 2, 5, 3, 6));
  EXPECT_THAT(x.transpose(-1, -2).to_vector<float>(), ElementsAre(1, 4, 2, 5, 3, 6));
  // [2,3,2] -> permute (2,0,1) -> [2,2,3]
  Tensor c = Tensor::from_vector<int32_t>({0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}, {2, 3, 2});
  Tensor p = permute(c, {2, 0, 1});
  EXPECT_EQ(p.shape().ToString(), "i32[2,2,3]");
  // p[k][i][j] = c[i][j][k] = 6i + 2j + k
  EXPECT_THAT(p.to_vector<int32_t>(), ElementsAre(0, 2, 4, 6, 8, 10, 1, 3, 5, 7, 9, 11));
  EXPECT_THAT(c.permute({-1, 0, 1}).to_vector<int32_t>(),
              ElementsAre(0, 2, 4, 6, 8, 10, 1, 3, 5, 7, 9, 11));
  EXPECT_THAT(ErrorOf([&] {
                permute(x, {0, 0});
              }),
              HasSubstr("permute: [0,0] is not a permutation of the 2 dimensions of f32[2,3]"));
  EXPECT_THAT(ErrorOf([&] { permute(x, {0}); }), HasSubstr("is not a permutation"));
  EXPECT_THAT(ErrorOf([&] { transpose(x, 0, 2); }),
              HasSubstr("transpose: dimension 2 is out of range for f32[2,3]"));
}

TEST(ShapeOpsTest, ExpandAndBroadcastTo) {
  Tensor col = Tensor::from_vector<float>({1, 2}, {2, 1});
  Tensor e = expand(col, {2, 3});
  EXPECT_EQ(e.shape().ToString(), "f32[2,3]");
  EXPECT_THAT(e.to_vector<float>(), ElementsAre(1, 1, 1, 2, 2, 2));
  // -1 keeps a size; a new leading dimension is added.
  Tensor lead = col.expand({2, -1, 2});
  EXPECT_EQ(lead.shape().ToString(), "f32[2,2,2]");
  EXPECT_THAT(lead.to_vector<float>(), ElementsAre(1, 1, 2, 2, 1, 1, 2, 2));
  EXPECT_EQ(broadcast_to(Tensor::from_vector<float>({4}, {}), {2, 2}).shape().ToString(),
            "f32[2,2]");
  EXPECT_THAT(ErrorOf([&] {
                expand(col, {3, 3});
              }),
              HasSubstr("expand: cannot expand f32[2,1] to [3,3]: dimension 0 has size 2 "
                        "(expected 1 or 3)"));
  EXPECT_THAT(ErrorOf([&] { expand(col, {2}); }), HasSubstr("which has fewer dimensions"));
  EXPECT_THAT(ErrorOf([&] {
                expand(col, {-1, 2, 3});
              }),
              HasSubstr("a new leading dimension needs an explicit size"));
}

TEST(ShapeOpsTest, UnsqueezeSqueezeFlatten) {
  Tensor x = Matrix();
  EXPECT_EQ(unsqueeze(x, 0).shape().ToString(), "f32[1,2,3]");
  EXPECT_EQ(unsqueeze(x, 2).shape().ToString(), "f32[2,3,1]");
  EXPECT_EQ(x.unsqueeze(-1).shape().ToString(), "f32[2,3,1]");
  EXPECT_EQ(x.unsqueeze(-3).shape().ToString(), "f32[1,2,3]");
  EXPECT_THAT(ErrorOf([&] { unsqueeze(x, 3); }),
              HasSubstr("unsqueeze: dimension 3 is out of range for f32[2,3] (expected -3..2)"));
  Tensor u = x.unsqueeze(1);
  EXPECT_EQ(squeeze(u, 1).shape().ToString(), "f32[2,3]");
  EXPECT_THAT(u.squeeze(-2).to_vector<float>(), ElementsAre(1, 2, 3, 4, 5, 6));
  EXPECT_THAT(ErrorOf([&] { squeeze(x, 0); }),
              HasSubstr("squeeze: dimension 0 of f32[2,3] has size 2 (expected 1)"));
  Tensor c = Tensor::from_vector<float>(std::vector<float>(24, 1.0f), {2, 3, 4});
  EXPECT_EQ(flatten(c).shape().ToString(), "f32[24]");
  EXPECT_EQ(c.flatten(1).shape().ToString(), "f32[2,12]");
  EXPECT_EQ(c.flatten(0, 1).shape().ToString(), "f32[6,4]");
  EXPECT_EQ(c.flatten(-2, -1).shape().ToString(), "f32[2,12]");
  EXPECT_EQ(c.flatten(1, 1).shape().ToString(), "f32[2,3,4]");
  EXPECT_EQ(flatten(Tensor::from_vector<float>({3}, {})).shape().ToString(), "f32[1]");
  EXPECT_THAT(ErrorOf([&] { flatten(c, 2, 1); }),
              HasSubstr("flatten: start_dim 2 comes after end_dim 1"));
}

TEST(ShapeOpsTest, SliceClampsLikePython) {
  Tensor v = Tensor::from_vector<int32_t>({0, 1, 2, 3, 4, 5}, {6});
  EXPECT_THAT(slice(v, 0, 1, 4).to_vector<int32_t>(), ElementsAre(1, 2, 3));
  EXPECT_THAT(slice(v, 0, 0, 6, 2).to_vector<int32_t>(), ElementsAre(0, 2, 4));
  EXPECT_THAT(slice(v, 0, 1, 6, 4).to_vector<int32_t>(), ElementsAre(1, 5));
  EXPECT_THAT(slice(v, 0, -2, 100).to_vector<int32_t>(), ElementsAre(4, 5));
  EXPECT_THAT(slice(v, 0, -100, 2).to_vector<int32_t>(), ElementsAre(0, 1));
  EXPECT_THAT(slice(v, 0, 0, -1).to_vector<int32_t>(), ElementsAre(0, 1, 2, 3, 4));
  // start past end gives an empty slice.
  Tensor empty = slice(v, 0, 4, 2);
  EXPECT_EQ(empty.shape().ToString(), "i32[0]");
  EXPECT_TRUE(empty.to_vector<int32_t>().empty());
  Tensor x = Matrix();
  EXPECT_THAT(x.slice(1, 1, 3).to_vector<float>(), ElementsAre(2, 3, 5, 6));
  EXPECT_THAT(x.slice(-2, 1, 2).to_vector<float>(), ElementsAre(4, 5, 6));
  EXPECT_THAT(ErrorOf([&] { slice(v, 0, 0, 3, 0); }), HasSubstr("slice: step must be > 0, got 0"));
  EXPECT_THAT(ErrorOf([&] { slice(x, 2, 0, 1); }),
              HasSubstr("slice: dimension 2 is out of range for f32[2,3]"));
}

TEST(ShapeOpsTest, StackJoinsAlongANewDimension) {
  Tensor a = Matrix();  // [[1,2,3],[4,5,6]]
  Tensor b = Tensor::from_vector<int32_t>({7, 8, 9, 10, 11, 12}, {2, 3});
  Tensor first = stack({a, b});
  EXPECT_EQ(first.shape().ToString(), "f32[2,2,3]");  // dtypes promote
  EXPECT_THAT(first.to_vector<float>(), ElementsAre(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12));
  Tensor last = stack({a, b}, -1);
  EXPECT_EQ(last.shape().ToString(), "f32[2,3,2]");
  EXPECT_THAT(last.to_vector<float>(), ElementsAre(1, 7, 2, 8, 3, 9, 4, 10, 5, 11, 6, 12));
  Tensor middle = stack({a, a, b}, 1);
  EXPECT_EQ(middle.shape().ToString(), "f32[2,3,3]");
  EXPECT_THAT(middle.to_vector<float>(),
              ElementsAre(1, 2, 3, 1, 2, 3, 7, 8, 9, 4, 5, 6, 4, 5, 6, 10, 11, 12));
  Tensor s = Tensor::from_vector<float>({2.5f}, {});
  EXPECT_EQ(stack({s, s, s}).shape().ToString(), "f32[3]");
  EXPECT_THAT(ErrorOf([&] {
                stack({a, s});
              }),
              HasSubstr("stack: all tensors need the same sizes, got f32[2,3], f32[]"));
  EXPECT_THAT(ErrorOf([&] { stack({a, a}, 3); }), HasSubstr("stack: dimension 3"));
}

TEST(ShapeOpsTest, FlipRollAndRepeatAsTorch) {
  Tensor x = Tensor::from_vector<int32_t>({1, 2, 3, 4, 5, 6}, {2, 3});
  EXPECT_THAT(flip(x, {1}).to_vector<int32_t>(), ElementsAre(3, 2, 1, 6, 5, 4));
  EXPECT_THAT(flip(x, {0, -1}).to_vector<int32_t>(), ElementsAre(6, 5, 4, 3, 2, 1));
  EXPECT_EQ(flip(x, {}).value().node, x.value().node);
  EXPECT_THAT(roll(x, {1}, {1}).to_vector<int32_t>(), ElementsAre(3, 1, 2, 6, 4, 5));
  EXPECT_THAT(roll(x, {-4, 1}, {1, 0}).to_vector<int32_t>(), ElementsAre(5, 6, 4, 2, 3, 1));
  EXPECT_THAT(roll(x, {2}).to_vector<int32_t>(), ElementsAre(5, 6, 1, 2, 3, 4));  // flattened
  EXPECT_EQ(roll(x, {2}).shape(), x.shape());
  Tensor tiled = repeat(x, {2, 1, 2});
  EXPECT_EQ(tiled.shape().ToString(), "i32[2,2,6]");
  EXPECT_THAT(tiled.to_vector<int32_t>(),
              ElementsAre(1, 2, 3, 1, 2, 3, 4, 5, 6, 4, 5, 6, 1, 2, 3, 1, 2, 3, 4, 5, 6, 4, 5, 6));
  EXPECT_EQ(repeat(x, {0, 1}).shape().ToString(), "i32[0,3]");
  EXPECT_THAT(ErrorOf([&] {
                roll(x, {1, 2}, {0});
              }),
              HasSubstr("roll: expected one shift per dimension, got shifts [1,2] and dims [0]"));
  EXPECT_THAT(ErrorOf([&] {
                roll(x, {1, 2});
              }),
              HasSubstr("roll: without dims, expected one shift (of the flattened tensor)"));
  EXPECT_THAT(ErrorOf([&] { repeat(x, {2}); }),
              HasSubstr("repeat: expected at least one repeat count per dimension of i32[2,3]"));
  EXPECT_THAT(ErrorOf([&] { repeat(x, {1, -1}); }), HasSubstr("must be >= 0"));
  EXPECT_THAT(ErrorOf([&] { flip(x, {2}); }),
              HasSubstr("flip: dimension 2 is out of range for i32[2,3]"));
}

// x[2,3,4] with x[i][j][k] = 100 i + 10 j + k, so each element names its position.
TEST(ShapeOpsTest, DiagonalAsTorch) {
  std::vector<float> values;
  for (int i = 0; i < 2; ++i) {
    for (int j = 0; j < 3; ++j) {
      for (int k = 0; k < 4; ++k) values.push_back(100 * i + 10 * j + k);
    }
  }
  const Tensor x = Tensor::from_vector<float>(values, {2, 3, 4});
  const Tensor m = Matrix();  // [[1, 2, 3], [4, 5, 6]]
  EXPECT_THAT(diagonal(m).to_vector<float>(), ElementsAre(1, 5));
  EXPECT_THAT(diagonal(m, 1).to_vector<float>(), ElementsAre(2, 6));
  EXPECT_THAT(diagonal(m, 2).to_vector<float>(), ElementsAre(3));
  EXPECT_THAT(diagonal(m, -1).to_vector<float>(), ElementsAre(4));
  EXPECT_EQ(diagonal(m, 3).shape().ToString(), "f32[0]");
  EXPECT_EQ(diagonal(m, -2).shape().ToString(), "f32[0]");
  // dim1 > dim2 reads the transpose.
  EXPECT_THAT(diagonal(m, 1, 1, 0).to_vector<float>(), ElementsAre(4));
  // The diagonal is the last dimension; the others keep their order.
  const Tensor d12 = diagonal(x, 1, 1, 2);
  EXPECT_EQ(d12.shape().ToString(), "f32[2,3]");
  EXPECT_THAT(d12.to_vector<float>(), ElementsAre(1, 12, 23, 101, 112, 123));
  const Tensor d02 = diagonal(x, 0, 0, -1);
  EXPECT_EQ(d02.shape().ToString(), "f32[3,2]");
  EXPECT_THAT(d02.to_vector<float>(), ElementsAre(0, 101, 10, 111, 20, 121));
  const Tensor d20 = diagonal(x, -1, 2, 0);  // x[i - 1][j][i]
  EXPECT_EQ(d20.shape().ToString(), "f32[3,2]");
  EXPECT_THAT(d20.to_vector<float>(), ElementsAre(1, 102, 11, 112, 21, 122));
  EXPECT_EQ(diagonal(Tensor::from_vector<float>({}, {0, 3})).shape().ToString(), "f32[0]");
}

TEST(ShapeOpsTest, TrilAndTriuAsTorch) {
  Tensor x = Tensor::from_vector<float>({1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}, {1, 3, 4});
  EXPECT_THAT(tril(x).to_vector<float>(), ElementsAre(1, 0, 0, 0, 5, 6, 0, 0, 9, 10, 11, 0));
  EXPECT_THAT(triu(x, 1).to_vector<float>(), ElementsAre(0, 2, 3, 4, 0, 0, 7, 8, 0, 0, 0, 12));
  EXPECT_THAT(tril(x, -1).to_vector<float>(), ElementsAre(0, 0, 0, 0, 5, 0, 0, 0, 9, 10, 0, 0));
  // bool keeps its dtype: a causal mask.
  Tensor causal = tril(Tensor::from_vector<bool>({true, true, true, true}, {2, 2}));
  EXPECT_EQ(causal.dtype(), DType::kBool);
  EXPECT_THAT(causal.to_vector<bool>(), ElementsAre(true, false, true, true));
  EXPECT_THAT(ErrorOf([&] {
                triu(Tensor::from_vector<float>({1, 2}, {2}));
              }),
              HasSubstr("triu: expected at least 2 dimensions, got f32[2]"));
}

TEST(ShapeOpsTest, SplitAndChunkAsTorch) {
  Tensor x = Tensor::from_vector<float>({0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, {5, 2});
  const auto shapes = [](const std::vector<Tensor>& parts) {
    std::vector<std::string> out;
    for (const Tensor& t : parts) out.push_back(t.shape().ToString());
    return out;
  };
  std::vector<Tensor> rows = split(x, 2);
  EXPECT_THAT(shapes(rows), ElementsAre("f32[2,2]", "f32[2,2]", "f32[1,2]"));
  EXPECT_THAT(rows[1].to_vector<float>(), ElementsAre(4, 5, 6, 7));
  EXPECT_THAT(rows[2].to_vector<float>(), ElementsAre(8, 9));
  std::vector<Tensor> cols = split(x, 1, -1);
  EXPECT_THAT(shapes(cols), ElementsAre("f32[5,1]", "f32[5,1]"));
  EXPECT_THAT(cols[1].to_vector<float>(), ElementsAre(1, 3, 5, 7, 9));
  EXPECT_THAT(shapes(split(x, 7)), ElementsAre("f32[5,2]"));
  // chunk: ceil(5 / 3) = 2 rows each; 6 rows in 4 chunks give 3 chunks of 2, as in torch.
  EXPECT_THAT(shapes(chunk(x, 3)), ElementsAre("f32[2,2]", "f32[2,2]", "f32[1,2]"));
  Tensor six = Tensor::from_vector<int64_t>({0, 1, 2, 3, 4, 5}, {6});
  std::vector<Tensor> parts = chunk(six, 4);
  EXPECT_THAT(shapes(parts), ElementsAre("i64[2]", "i64[2]", "i64[2]"));
  EXPECT_THAT(parts[2].to_vector<int64_t>(), ElementsAre(4, 5));
  // An empty dimension: one empty piece from split, `chunks` from chunk.
  Tensor empty = Tensor::from_vector<float>({}, {0, 2});
  EXPECT_THAT(shapes(split(empty, 3)), ElementsAre("f32[0,2]"));
  EXPECT_THAT(shapes(chunk(empty, 3)), ElementsAre("f32[0,2]", "f32[0,2]", "f32[0,2]"));
  EXPECT_THAT(ErrorOf([&] { split(x, 0); }),
              HasSubstr("split: expected a positive split size, got 0 for f32[5,2]"));
  EXPECT_THAT(ErrorOf([&] { chunk(x, -1, 1); }),
              HasSubstr("chunk: expected a positive number of chunks, got -1 for f32[5,2]"));
}

TEST(ShapeOpsTest, Concat) {
  Tensor a = Matrix();
  Tensor b = Tensor::from_vector<float>({7, 8, 9}, {1, 3});
  Tensor rows = concat({a, b}, 0);
  EXPECT_EQ(rows.shape().ToString(), "f32[3,3]");
  EXPECT_THAT(rows.to_vector<float>(), ElementsAre(1, 2, 3, 4, 5, 6, 7, 8, 9));
  Tensor c = Tensor::from_vector<float>({10, 20}, {2, 1});
  Tensor cols = concat({a, c}, -1);
  EXPECT_EQ(cols.shape().ToString(), "f32[2,4]");
  EXPECT_THAT(cols.to_vector<float>(), ElementsAre(1, 2, 3, 10, 4, 5, 6, 20));
  // Dtypes promote.
  Tensor i = Tensor::from_vector<int32_t>({1, 2}, {2});
  Tensor f = Tensor::from_vector<float>({0.5f}, {1});
  Tensor mixed = concat({i, f});
  EXPECT_EQ(mixed.dtype(), DType::kF32);
  EXPECT_THAT(mixed.to_vector<float>(), ElementsAre(1, 2, 0.5f));
  // One tensor and empty pieces.
  EXPECT_THAT(concat({i}).to_vector<int32_t>(), ElementsAre(1, 2));
  EXPECT_THAT(concat({Tensor::from_vector<int32_t>({}, {0}), i}).to_vector<int32_t>(),
              ElementsAre(1, 2));
  EXPECT_THAT(ErrorOf([] { concat({}); }), HasSubstr("concat: expected at least one tensor"));
  EXPECT_THAT(ErrorOf([&] {
                concat({a, c}, 0);
              }),
              HasSubstr("concat: sizes differ in dimension 1 (only dimension 0 may differ): "
                        "f32[2,3], f32[2,1]"));
  EXPECT_THAT(ErrorOf([&] {
                concat({a, i});
              }),
              HasSubstr("concat: all tensors need the same rank, got f32[2,3], i32[2]"));
}

TEST(ShapeOpsTest, PadUsesTorchOrder) {
  Tensor x = Tensor::from_vector<float>({1, 2, 3, 4}, {2, 2});
  // (last low, last high) = (1, 0): one column on the left.
  Tensor left = pad(x, {1, 0});
  EXPECT_EQ(left.shape().ToString(), "f32[2,3]");
  EXPECT_THAT(left.to_vector<float>(), ElementsAre(0, 1, 2, 0, 3, 4));
  // Then (first low, first high) = (0, 1): a row below, filled with 9.
  Tensor both = pad(x, {0, 1, 0, 1}, 9.0);
  EXPECT_EQ(both.shape().ToString(), "f32[3,3]");
  EXPECT_THAT(both.to_vector<float>(), ElementsAre(1, 2, 9, 3, 4, 9, 9, 9, 9));
  // Negative pads crop.
  Tensor crop = pad(x, {-1, 0});
  EXPECT_THAT(crop.to_vector<float>(), ElementsAre(2, 4));
  EXPECT_THAT(ErrorOf([&] { pad(x, {1}); }),
              HasSubstr("pad: padding [1] must have an even length"));
  EXPECT_THAT(ErrorOf([&] {
                pad(x, {1, 1, 1, 1, 1, 1});
              }),
              HasSubstr("at most 4 (2 per dimension of f32[2,2])"));
  EXPECT_THAT(ErrorOf([&] {
                pad(x, {-2, -1});
              }),
              HasSubstr("pad: padding [-2,-1] makes dimension 1 of f32[2,2] negative (-1)"));
}

}  // namespace
}  // namespace kiln
