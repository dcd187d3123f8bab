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

}  // namespace
}  // namespace kiln
