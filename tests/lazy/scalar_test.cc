#include "lazy/scalar.h"

#include <gtest/gtest.h>

namespace kiln {
namespace {

TEST(ScalarTest, RemembersLiteralKind) {
  EXPECT_EQ(Scalar(1).kind(), Scalar::Kind::kInt);
  EXPECT_EQ(Scalar(int64_t{1} << 40).kind(), Scalar::Kind::kInt);
  EXPECT_EQ(Scalar(0.5).kind(), Scalar::Kind::kFloat);
  EXPECT_EQ(Scalar(0.5f).kind(), Scalar::Kind::kFloat);
  EXPECT_EQ(Scalar(true).kind(), Scalar::Kind::kBool);
  EXPECT_DOUBLE_EQ(Scalar(-3).to_double(), -3.0);
}

TEST(ScalarTest, PromotionNeverWidensWithinACategory) {
  // Float scalars make bool/integer tensors f32 and keep floating tensors' dtype.
  EXPECT_EQ(Scalar(0.5).PromoteWith(DType::kI32), DType::kF32);
  EXPECT_EQ(Scalar(0.5).PromoteWith(DType::kI64), DType::kF32);
  EXPECT_EQ(Scalar(0.5).PromoteWith(DType::kBool), DType::kF32);
  EXPECT_EQ(Scalar(0.5).PromoteWith(DType::kF64), DType::kF64);
  // Integer scalars keep integer and floating tensors' dtype; bool tensors become i64.
  EXPECT_EQ(Scalar(2).PromoteWith(DType::kI32), DType::kI32);
  EXPECT_EQ(Scalar(2).PromoteWith(DType::kF32), DType::kF32);
  EXPECT_EQ(Scalar(2).PromoteWith(DType::kBool), DType::kI64);
  // Bool scalars never change the tensor's dtype.
  EXPECT_EQ(Scalar(true).PromoteWith(DType::kBool), DType::kBool);
  EXPECT_EQ(Scalar(true).PromoteWith(DType::kI32), DType::kI32);
}

}  // namespace
}  // namespace kiln
