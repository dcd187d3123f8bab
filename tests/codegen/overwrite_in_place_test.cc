#include "codegen/overwrite_in_place.h"

#include "codegen/cpp_emitter.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kiln::codegen {
namespace {

// b1[i0] = value over i0 < 4, reading b0; `value` builds the stored expression from the
// load of b0 at i0 (expression 1).
class OverwriteInPlaceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ir_.name = "k";
    ir_.kind = KernelKind::kElementwise;
    ir_.buffers = {BufferArg{DType::kF32, BufferRole::kInput, 0, {4}},
                   BufferArg{DType::kF32, BufferRole::kOutput, 1, {4}}};
    ir_.vars = {LoopVar{4, -1}};
    i0_ = Add({ExprKind::kVar, DType::kI64, OpKind::kAdd, {}, 0, 0, 0});
    load_ = Load(i0_);
    ir_.vars[0].size_expr = Add({ExprKind::kConstant, DType::kI64, OpKind::kAdd, {}, 4, 4, -1});
  }
  int Add(Expr e) {
    ir_.exprs.push_back(std::move(e));
    return static_cast<int>(ir_.exprs.size()) - 1;
  }
  int Load(int offset) {
    return Add({ExprKind::kLoad, DType::kF32, OpKind::kAdd, {offset}, 0, 0, 0});
  }
  int Op(OpKind op, std::vector<int> args) {
    return Add({ExprKind::kOp, DType::kF32, op, std::move(args), 0, 0, -1});
  }
  void StoreAt(int offset, int value, bool accumulate = false) {
    ir_.nests = {LoopNest{{0}, 1, {Store{1, offset, value, accumulate}}}};
  }

  KernelIR ir_;
  int i0_ = -1, load_ = -1;
};

TEST_F(OverwriteInPlaceTest, SameElementIsSafe) {
  StoreAt(i0_, Op(OpKind::kNeg, {load_}));
  EXPECT_TRUE(CanOverwriteInPlace(ir_, 0, 1));
}

TEST_F(OverwriteInPlaceTest, MayAliasBuffersAreEmittedWithoutRestrict) {
  StoreAt(i0_, Op(OpKind::kNeg, {load_}));
  EXPECT_THAT(EmitCppKernel(ir_), ::testing::HasSubstr("const float* __restrict b0 ="));
  ir_.buffers[0].may_alias = ir_.buffers[1].may_alias = true;
  const std::string source = EmitCppKernel(ir_);
  EXPECT_THAT(source, ::testing::HasSubstr("const float* b0 ="));
  EXPECT_THAT(source, ::testing::HasSubstr("float* b1 ="));
  EXPECT_THAT(source, ::testing::Not(::testing::HasSubstr("__restrict")));
}

TEST_F(OverwriteInPlaceTest, AnotherElementIsNot) {
  const int one = Add({ExprKind::kConstant, DType::kI64, OpKind::kAdd, {}, 1, 1, -1});
  const int next = Load(Add({ExprKind::kIdxAdd, DType::kI64, OpKind::kAdd, {i0_, one}, 0, 0, -1}));
  StoreAt(i0_, Op(OpKind::kAdd, {load_, next}));
  EXPECT_FALSE(CanOverwriteInPlace(ir_, 0, 1));
}

TEST_F(OverwriteInPlaceTest, AccumulatingStoreOrOtherKindsAreNot) {
  StoreAt(i0_, load_, /*accumulate=*/true);
  EXPECT_FALSE(CanOverwriteInPlace(ir_, 0, 1));
  StoreAt(i0_, load_);
  ir_.kind = KernelKind::kMatmul;
  EXPECT_FALSE(CanOverwriteInPlace(ir_, 0, 1));
  ir_.kind = KernelKind::kElementwise;
  EXPECT_FALSE(CanOverwriteInPlace(ir_, 1, 0));  // roles swapped
}

TEST_F(OverwriteInPlaceTest, AReductionOverTheInputIsNot) {
  // b1[i0] = b0[i0] - sum over i1 of b0[i1]: the sum reads elements already overwritten.
  ir_.vars.push_back(LoopVar{4, -1});
  const int i1 = Add({ExprKind::kVar, DType::kI64, OpKind::kAdd, {}, 0, 0, 1});
  Expr reduce{ExprKind::kReduce, DType::kF32, OpKind::kSum, {Load(i1)}, 0, 0, -1};
  reduce.vars = {1};
  StoreAt(i0_, Op(OpKind::kSub, {load_, Add(reduce)}));
  EXPECT_FALSE(CanOverwriteInPlace(ir_, 0, 1));
}

TEST_F(OverwriteInPlaceTest, ALaterNestReadingTheInputIsNot) {
  StoreAt(i0_, Op(OpKind::kNeg, {load_}));
  ir_.buffers.push_back(BufferArg{DType::kF32, BufferRole::kOutput, 2, {4}});
  ir_.nests.push_back(LoopNest{{0}, 1, {Store{2, i0_, Op(OpKind::kExp, {load_})}}});
  EXPECT_FALSE(CanOverwriteInPlace(ir_, 0, 1));
}

}  // namespace
}  // namespace kiln::codegen
