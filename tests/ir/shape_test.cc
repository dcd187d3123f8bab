#include "ir/shape.h"

#include <cstdint>

#include "gtest/gtest.h"

namespace kiln {
namespace {

TEST(ShapeTest, NumelAndByteSize) {
  const Shape s(DType::kF32, {2, 3, 4});
  EXPECT_EQ(s.numel(), 24);
  EXPECT_EQ(s.byte_size(), 96);
  EXPECT_EQ(Shape(DType::kF64, {}).numel(), 1);
}

// The other sizes' product would overflow int64 (the sanitizer stage reports that).
TEST(ShapeTest, AnEmptyDimensionMakesNoElementsWhateverTheOthers) {
  constexpr int64_t kHuge = int64_t{1} << 40;
  EXPECT_EQ(Shape(DType::kF32, {kHuge, kHuge, 0}).numel(), 0);
  EXPECT_EQ(Shape(DType::kF32, {0, kHuge, kHuge}).byte_size(), 0);
}

TEST(ShapeTest, CheckedProductCountsOrSaysItDoesNotFit) {
  constexpr int64_t kHuge = int64_t{1} << 40;
  EXPECT_EQ(CheckedProduct({2, 3, 4}), 24);
  EXPECT_EQ(CheckedProduct({2, 3, 4}, /*unit=*/8), 192);
  EXPECT_EQ(CheckedProduct({}), 1);
  EXPECT_EQ(CheckedProduct({kHuge, kHuge}), std::nullopt);
  // Fits as a count, not as a count of 8-byte values.
  EXPECT_EQ(CheckedProduct({int64_t{1} << 61}), int64_t{1} << 61);
  EXPECT_EQ(CheckedProduct({int64_t{1} << 61}, 8), std::nullopt);
  // A 0 anywhere, even after an overflow, makes the product 0.
  EXPECT_EQ(CheckedProduct({kHuge, kHuge, 0}), 0);
  EXPECT_EQ(CheckedProduct({0, kHuge, kHuge}, 4), 0);
}

}  // namespace
}  // namespace kiln
