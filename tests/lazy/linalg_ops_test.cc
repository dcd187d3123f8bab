#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <vector>

#include "lazy/ops.h"
#include "lazy/tensor.h"
#include "tests/lazy/op_test_util.h"

namespace kiln {
namespace {

using ::kiln::testing::ErrorOf;
using ::kiln::testing::Near;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

// [[1, 2, 3], [4, 5, 6]]
Tensor A() { return ::kiln::testing::Matrix(); }
// [[1, 0], [0, 1], [2, -1]]
Tensor B() { return Tensor::from_vector<float>({1, 0, 0, 1, 2, -1}, {3, 2}); }

TEST(LinalgOpsTest, MatrixTimesMatrix) {
  Tensor c = matmul(A(), B());
  EXPECT_EQ(c.shape().ToString(), "f32[2,2]");
  // [1+0+6, 0+2-3], [4+0+12, 0+5-6]
  EXPECT_THAT(c.to_vector<float>(), Near({7, -1, 16, -1}));
  EXPECT_THAT(A().matmul(B()).to_vector<float>(), Near({7, -1, 16, -1}));
}

TEST(LinalgOpsTest, VectorOperands) {
  Tensor v = Tensor::from_vector<float>({1, -1, 2}, {3});
  // [3] x [3,2] -> [2]: (1 - 0 + 4, 0 - 1 - 2)
  Tensor vm = matmul(v, B());
  EXPECT_EQ(vm.shape().ToString(), "f32[2]");
  EXPECT_THAT(vm.to_vector<float>(), Near({5, -3}));
  // [2,3] x [3] -> [2]: (1 - 2 + 6, 4 - 5 + 12)
  Tensor mv = matmul(A(), v);
  EXPECT_EQ(mv.shape().ToString(), "f32[2]");
  EXPECT_THAT(mv.to_vector<float>(), Near({5, 11}));
  // [3] x [3] -> []: 1 + 1 + 4
  Tensor dot = matmul(v, v);
  EXPECT_EQ(dot.shape().ToString(), "f32[]");
  EXPECT_NEAR(dot.item(), 6, 1e-6);
  // Batched matrix times a vector: [2,1,3] x [3] -> [2,1].
  Tensor batch = reshape(A(), {2, 1, 3});
  Tensor bv = matmul(batch, v);
  EXPECT_EQ(bv.shape().ToString(), "f32[2,1]");
  EXPECT_THAT(bv.to_vector<float>(), Near({5, 11}));
  // A vector times a batch: [3] x [2,3,1] -> [2,1].
  Tensor vb = matmul(v, reshape(A(), {2, 3, 1}));
  EXPECT_EQ(vb.shape().ToString(), "f32[2,1]");
  EXPECT_THAT(vb.to_vector<float>(), Near({5, 11}));
}

TEST(LinalgOpsTest, BatchDimensionsBroadcast) {
  // [2,1,2,3] x [3,2] -> [2,1,2,2]; every batch entry uses the same B.
  Tensor a = Tensor::from_vector<float>({1, 2, 3, 4, 5, 6, 0, 1, 0, 1, 0, 0}, {2, 1, 2, 3});
  Tensor c = matmul(a, B());
  EXPECT_EQ(c.shape().ToString(), "f32[2,1,2,2]");
  EXPECT_THAT(c.to_vector<float>(), Near({7, -1, 16, -1, 0, 1, 1, 0}));
  // [2,2,3] x [1,3,2] -> [2,2,2]
  Tensor d = matmul(reshape(a, {2, 2, 3}), reshape(B(), {1, 3, 2}));
  EXPECT_EQ(d.shape().ToString(), "f32[2,2,2]");
}

TEST(LinalgOpsTest, PromotesDtypes) {
  Tensor i = Tensor::from_vector<int32_t>({1, 2, 3, 4}, {2, 2});
  Tensor f = Tensor::from_vector<float>({0.5f, 0, 0, 0.5f}, {2, 2});
  Tensor c = matmul(i, f);
  EXPECT_EQ(c.dtype(), DType::kF32);
  EXPECT_THAT(c.to_vector<float>(), Near({0.5f, 1, 1.5f, 2}));
  Tensor ii = matmul(i, i);
  EXPECT_EQ(ii.dtype(), DType::kI32);
  EXPECT_THAT(ii.to_vector<int32_t>(), ElementsAre(7, 10, 15, 22));
}

TEST(LinalgOpsTest, EmptyInnerDimensionGivesZeros) {
  Tensor a = Tensor::from_vector<float>({}, {2, 0});
  Tensor b = Tensor::from_vector<float>({}, {0, 3});
  Tensor c = matmul(a, b);
  EXPECT_EQ(c.shape().ToString(), "f32[2,3]");
  EXPECT_THAT(c.to_vector<float>(), ElementsAre(0, 0, 0, 0, 0, 0));
}

TEST(LinalgOpsTest, Errors) {
  EXPECT_THAT(ErrorOf([] { matmul(A(), A()); }),
              HasSubstr("matmul: inner sizes differ: f32[2,3] x f32[2,3] (3 vs 2)"));
  EXPECT_THAT(ErrorOf([] {
                matmul(A(), Tensor::from_vector<float>({1, 2}, {2}));
              }),
              HasSubstr("matmul: inner sizes differ: f32[2,3] x f32[2] (3 vs 2)"));
  EXPECT_THAT(ErrorOf([] { matmul(Tensor::from_vector<float>({1}, {}), A()); }),
              HasSubstr("matmul: both operands need at least 1 dimension, got f32[] x f32[2,3]"));
  Tensor flags = Tensor::from_vector<bool>({true, false, true, false}, {2, 2});
  EXPECT_THAT(ErrorOf([&] { matmul(flags, flags); }),
              HasSubstr("matmul: bool operands are not supported, got bool[2,2] x bool[2,2]"));
  Tensor a = Tensor::from_vector<float>(std::vector<float>(12, 1.0f), {2, 2, 3});
  Tensor b = Tensor::from_vector<float>(std::vector<float>(18, 1.0f), {3, 3, 2});
  EXPECT_THAT(ErrorOf([&] { matmul(a, b); }),
              HasSubstr("matmul: cannot broadcast the batch dimensions of f32[2,2,3] with "
                        "f32[3,3,2]: sizes 2 and 3 differ and neither is 1"));
}

}  // namespace
}  // namespace kiln
