#include "ir/dtype.h"

#include <string>

#include "gtest/gtest.h"

namespace kiln {
namespace {

constexpr DType kAll[] = {DType::kBool, DType::kI32, DType::kI64, DType::kF16,
                          DType::kBF16, DType::kF32, DType::kF64};

TEST(DTypeTest, NamesRoundTrip) {
  for (DType d : kAll) {
    std::optional<DType> parsed = ParseDType(DTypeName(d));
    ASSERT_TRUE(parsed.has_value()) << DTypeName(d);
    EXPECT_EQ(*parsed, d);
  }
  EXPECT_STREQ(DTypeName(DType::kBool), "bool");
  EXPECT_STREQ(DTypeName(DType::kI32), "i32");
  EXPECT_STREQ(DTypeName(DType::kI64), "i64");
  EXPECT_STREQ(DTypeName(DType::kF16), "f16");
  EXPECT_STREQ(DTypeName(DType::kBF16), "bf16");
  EXPECT_STREQ(DTypeName(DType::kF32), "f32");
  EXPECT_STREQ(DTypeName(DType::kF64), "f64");
}

TEST(DTypeTest, UnknownNamesDoNotParse) {
  EXPECT_FALSE(ParseDType("float32").has_value());
  EXPECT_FALSE(ParseDType("F32").has_value());
  EXPECT_FALSE(ParseDType("").has_value());
  EXPECT_FALSE(ParseDType("f32 ").has_value());
}

TEST(DTypeTest, Sizes) {
  EXPECT_EQ(DTypeSize(DType::kBool), 1);
  EXPECT_EQ(DTypeSize(DType::kI32), 4);
  EXPECT_EQ(DTypeSize(DType::kI64), 8);
  EXPECT_EQ(DTypeSize(DType::kF16), 2);
  EXPECT_EQ(DTypeSize(DType::kBF16), 2);
  EXPECT_EQ(DTypeSize(DType::kF32), 4);
  EXPECT_EQ(DTypeSize(DType::kF64), 8);
}

TEST(DTypeTest, Categories) {
  EXPECT_TRUE(IsFloating(DType::kF32));
  EXPECT_TRUE(IsFloating(DType::kBF16));
  EXPECT_FALSE(IsFloating(DType::kI64));
  EXPECT_FALSE(IsFloating(DType::kBool));
  EXPECT_TRUE(IsIntegral(DType::kI32));
  EXPECT_TRUE(IsIntegral(DType::kI64));
  EXPECT_FALSE(IsIntegral(DType::kBool));
  EXPECT_FALSE(IsIntegral(DType::kF32));
  EXPECT_TRUE(IsReserved(DType::kF16));
  EXPECT_TRUE(IsReserved(DType::kBF16));
  EXPECT_FALSE(IsReserved(DType::kF32));
}

TEST(DTypeTest, DTypeOfMapsCxxTypes) {
  EXPECT_EQ(DTypeOf<float>, DType::kF32);
  EXPECT_EQ(DTypeOf<double>, DType::kF64);
  EXPECT_EQ(DTypeOf<int32_t>, DType::kI32);
  EXPECT_EQ(DTypeOf<int64_t>, DType::kI64);
  EXPECT_EQ(DTypeOf<bool>, DType::kBool);
}

struct PromoteCase {
  DType a, b, expected;
};

TEST(DTypeTest, PromoteTypesTable) {
  const PromoteCase cases[] = {
      {DType::kBool, DType::kBool, DType::kBool}, {DType::kBool, DType::kI32, DType::kI32},
      {DType::kBool, DType::kI64, DType::kI64},   {DType::kBool, DType::kF32, DType::kF32},
      {DType::kBool, DType::kF64, DType::kF64},   {DType::kI32, DType::kI32, DType::kI32},
      {DType::kI32, DType::kI64, DType::kI64},    {DType::kI32, DType::kF32, DType::kF32},
      {DType::kI64, DType::kF32, DType::kF32},    {DType::kI32, DType::kF64, DType::kF64},
      {DType::kF32, DType::kF64, DType::kF64},    {DType::kF32, DType::kF32, DType::kF32},
      {DType::kF16, DType::kBF16, DType::kF32},   {DType::kF16, DType::kF32, DType::kF32},
      {DType::kI64, DType::kF16, DType::kF16},    {DType::kBF16, DType::kF64, DType::kF64},
  };
  for (const PromoteCase& c : cases) {
    EXPECT_EQ(PromoteTypes(c.a, c.b), c.expected) << DTypeName(c.a) << "+" << DTypeName(c.b);
    // Promotion is symmetric.
    EXPECT_EQ(PromoteTypes(c.b, c.a), c.expected) << DTypeName(c.b) << "+" << DTypeName(c.a);
  }
}

}  // namespace
}  // namespace kiln
