// Every class of bad input throws kiln::Error naming the op, the shapes and what was
// expected, and leaves the operands as they were: same pending IR, same values, and no
// new pending tensor behind.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <vector>

#include "lazy/composite_ops.h"
#include "lazy/creation.h"
#include "lazy/ops.h"
#include "lazy/tensor.h"
#include "tests/lazy/op_errors_util.h"

namespace kiln {
namespace {

class OpErrorsTest : public ::testing::Test {
 protected:
  // Materialised and pending operands of several dtypes.
  Tensor f34_ = Tensor::from_vector<float>(std::vector<float>(12, 1.5f), {3, 4});
  Tensor f5_ = Tensor::from_vector<float>({1, 2, 3, 4, 5}, {5});
  Tensor i5_ = Tensor::from_vector<int32_t>({1, 2, 3, 4, 5}, {5});
  Tensor pending_ = Tensor::from_vector<float>({1, 2, 3, 4, 5, 6}, {2, 3}) * 2.0;
  Tensor flags_ = Tensor::from_vector<bool>({true, false}, {2});
};

TEST_F(OpErrorsTest, MismatchedBroadcast) {
  ExpectRejected([&] { add(f34_, f5_); },
                 "add: cannot broadcast f32[3,4] with f32[5]: dimension sizes 4 and 5 differ and "
                 "neither is 1",
                 {f34_, f5_});
  // The i32 operand would need a cast: nothing is recorded for it either.
  ExpectRejected([&] { f34_* i5_; }, "mul: cannot broadcast f32[3,4] with i32[5]", {f34_, i5_});
  ExpectRejected([&] { pending_ < f5_; }, "lt: cannot broadcast f32[2,3] with f32[5]",
                 {pending_, f5_});
  ExpectRejected([&] { where(flags_, f34_, f5_); },
                 "where: cannot broadcast bool[2] with f32[3,4] with f32[5]", {flags_, f34_, f5_});
  ExpectRejected([&] { expand(f5_, {3, 4}); }, "expand: cannot expand f32[5] to [3,4]", {f5_});
  EXPECT_THAT(f5_.to_vector<float>(), ::testing::ElementsAre(1, 2, 3, 4, 5));
  EXPECT_THAT(pending_.to_vector<float>(), ::testing::ElementsAre(2, 4, 6, 8, 10, 12));
}

TEST_F(OpErrorsTest, BadAxis) {
  ExpectRejected([&] { sum(pending_, {3}); },
                 "sum: dimension 3 is out of range for f32[2,3] (expected -2..1)", {pending_});
  ExpectRejected([&] { softmax(pending_, -3); },
                 "softmax: dimension -3 is out of range for f32[2,3] (expected -2..1)", {pending_});
  ExpectRejected(
      [&] {
        mean(pending_, {0, -2});
      },
      "mean: dimension 0 appears more than once in [0,-2] for f32[2,3]", {pending_});
  ExpectRejected([&] { slice(f5_, 1, 0, 1); }, "slice: dimension 1 is out of range for f32[5]",
                 {f5_});
  ExpectRejected(
      [&] {
        concat({f5_, i5_}, 1);
      },
      "concat: dimension 1 is out of range for f32[5] (expected -1..0)", {f5_, i5_});
  ExpectRejected([&] { squeeze(pending_, 0); },
                 "squeeze: dimension 0 of f32[2,3] has size 2 (expected 1)", {pending_});
}

TEST_F(OpErrorsTest, DtypeNotAllowed) {
  ExpectRejected([&] { neg(flags_); },
                 "neg: expected a numeric dtype (i32, i64, f32 or f64), got bool[2]", {flags_});
  ExpectRejected([&] { flags_ - flags_; },
                 "sub: not supported for two bool operands (bool[2] and bool[2])", {flags_});
  ExpectRejected([&] { pow(flags_, true); },
                 "pow: not supported for two bool operands (bool[2] and a bool scalar)", {flags_});
  ExpectRejected([&] { mean(i5_); }, "mean: expected a floating dtype, got i32[5]; cast first",
                 {i5_});
  ExpectRejected([&] { matmul(flags_, flags_); }, "matmul: bool operands are not supported",
                 {flags_});
  ExpectRejected([&] { cast(f5_, DType::kBF16); },
                 "cast: dtype bf16 is not supported by any op yet", {f5_});
  ExpectRejected([&] { scatter_add(flags_, 0, i5_, flags_); },
                 "scatter_add: expected a numeric dtype (i32, i64, f32 or f64), got bool[2]",
                 {flags_, i5_});
}

TEST_F(OpErrorsTest, MatmulInnerSizes) {
  ExpectRejected([&] { matmul(f34_, pending_); },
                 "matmul: inner sizes differ: f32[3,4] x f32[2,3] (4 vs 2)", {f34_, pending_});
  ExpectRejected([&] { f5_.matmul(f34_); },
                 "matmul: inner sizes differ: f32[5] x f32[3,4] (5 vs 3)", {f5_, f34_});
}

TEST_F(OpErrorsTest, ReshapeMismatch) {
  ExpectRejected(
      [&] {
        reshape(pending_, {4, -1});
      },
      "reshape: cannot reshape f32[2,3] (6 elements) to [4,-1]", {pending_});
  ExpectRejected([&] { pending_.view({7}); },
                 "reshape: cannot reshape f32[2,3] (6 elements) to [7]", {pending_});
  ExpectRejected([&] { flatten(f34_, 1, 0); }, "flatten: start_dim 1 comes after end_dim 0",
                 {f34_});
}

TEST_F(OpErrorsTest, BadPermutation) {
  ExpectRejected(
      [&] {
        permute(pending_, {1, 1});
      },
      "permute: [1,1] is not a permutation of the 2 dimensions of f32[2,3]", {pending_});
  ExpectRejected(
      [&] {
        pending_.permute({0, 1, 2});
      },
      "permute: [0,1,2] is not a permutation of the 2 dimensions of f32[2,3]", {pending_});
  ExpectRejected([&] { permute(pending_, {0, 5}); }, "is not a permutation", {pending_});
}

TEST_F(OpErrorsTest, IndexDtype) {
  ExpectRejected([&] { gather(f34_, 0, f34_); },
                 "gather: expected an i32 or i64 index, got f32[3,4]", {f34_});
  ExpectRejected([&] { index_select(f5_, 0, flags_); },
                 "index_select: expected an i32 or i64 index, got bool[2]", {f5_, flags_});
  ExpectRejected([&] { scatter_add(f5_, 0, f5_, f5_); },
                 "scatter_add: expected an i32 or i64 index, got f32[5]", {f5_});
  ExpectRejected([&] { cross_entropy(pending_, f5_); },
                 "cross_entropy: expected i32 or i64 labels [N], got f32[5]", {pending_, f5_});
}

TEST_F(OpErrorsTest, UndefinedTensor) {
  const Tensor undefined;
  ExpectRejected([&] { add(undefined, f5_); }, "add: first operand is an undefined tensor", {f5_});
  ExpectRejected([&] { f5_* undefined; }, "mul: second operand is an undefined tensor", {f5_});
  ExpectRejected([&] { undefined + 1; }, "add: first operand is an undefined tensor", {});
  ExpectRejected([&] { sum(undefined); }, "sum: input is an undefined tensor", {});
  ExpectRejected([&] { exp(undefined); }, "exp: input is an undefined tensor", {});
  ExpectRejected([&] { reshape(undefined, {1}); }, "reshape: input is an undefined tensor", {});
  ExpectRejected([&] { matmul(pending_, undefined); },
                 "matmul: second operand is an undefined tensor", {pending_});
  ExpectRejected(
      [&] {
        concat({f5_, undefined});
      },
      "concat: tensor 1 is an undefined tensor", {f5_});
  ExpectRejected([&] { where(undefined, f5_, f5_); }, "where: condition is an undefined tensor",
                 {f5_});
  ExpectRejected([&] { gather(f5_, 0, undefined); }, "gather: index is an undefined tensor", {f5_});
  ExpectRejected([&] { undefined.sum(); }, "sum: input is an undefined tensor", {});
}

TEST_F(OpErrorsTest, BadArguments) {
  ExpectRejected([&] { slice(f5_, 0, 0, 5, -1); }, "slice: step must be > 0, got -1", {f5_});
  ExpectRejected(
      [&] {
        pad(f5_, {1, 2, 3});
      },
      "pad: padding [1,2,3] must have an even length", {f5_});
  ExpectRejected([] { concat({}); }, "concat: expected at least one tensor", {});
  ExpectRejected([&] { matmul(f5_, Tensor::from_vector<float>({1}, {})); },
                 "matmul: both operands need at least 1 dimension, got f32[5] x f32[]", {f5_});
  ExpectRejected([] { arange(1, 2, 0); }, "arange: expected finite bounds and a non-zero step", {});
}

}  // namespace
}  // namespace kiln
