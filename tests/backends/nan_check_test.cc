#include "backends/nan_check.h"

#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kiln {
namespace {

using ::testing::HasSubstr;

TEST(NanCheckTest, FindsTheFirstNonFiniteElementAndCountsThemAll) {
  const float inf = std::numeric_limits<float>::infinity();
  const std::vector<float> x = {0.5f, -2.0f, 3.0f, std::nanf(""), 1e38f, -inf, 7.0f, inf};
  const std::optional<NonFinite> found = FindNonFinite(Shape(DType::kF32, {2, 4}), x.data());
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->first, 3);
  EXPECT_TRUE(std::isnan(found->value));
  EXPECT_EQ(found->count, 3);

  const std::vector<double> y = {1.0, -1e308, -std::numeric_limits<double>::infinity()};
  const std::optional<NonFinite> in_y = FindNonFinite(Shape(DType::kF64, {3}), y.data());
  ASSERT_TRUE(in_y.has_value());
  EXPECT_EQ(in_y->first, 2);
  EXPECT_EQ(in_y->value, -std::numeric_limits<double>::infinity());
  EXPECT_EQ(in_y->count, 1);
}

TEST(NanCheckTest, FiniteFloatsIntegersAndEmptyBuffersHaveNone) {
  const std::vector<float> x = {0.25f, -1e-45f, 3.4e38f, -0.0f};
  EXPECT_FALSE(FindNonFinite(Shape(DType::kF32, {4}), x.data()).has_value());
  const std::vector<int32_t> i = {-1, 0x7f800000, 0x7fc00000};  // NaN's bits, as integers
  EXPECT_FALSE(FindNonFinite(Shape(DType::kI32, {3}), i.data()).has_value());
  EXPECT_FALSE(FindNonFinite(Shape(DType::kF32, {0, 5}), nullptr).has_value());
}

TEST(NanCheckTest, ErrorNamesTheElementByIndexAndListsTheKernel) {
  const Shape shape(DType::kF32, {2, 3, 4});
  const absl::Status status = NonFiniteError(
      "kernel kiln_k2 (row) of graph abc wrote", shape,
      NonFinite{/*first=*/17, -std::numeric_limits<double>::infinity(), 2},
      "%5 = f32[2,3,4] log(%4)", {"%4 = f32[2,3,4] sub(%0, %3)", "%5 = f32[2,3,4] log(%4)"});
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(),
            "KILN_CHECK_NAN: kernel kiln_k2 (row) of graph abc wrote -inf at element [1,1,1] "
            "of %5 = f32[2,3,4] log(%4) (the first of 2 non-finite elements of 24); the kernel "
            "computes:\n  %4 = f32[2,3,4] sub(%0, %3)\n  %5 = f32[2,3,4] log(%4)");
  EXPECT_THAT(NonFiniteError("argument 0 holds", Shape(DType::kF64, {}), NonFinite{0, NAN, 1},
                             "%0 = f64[] device_data()", {})
                  .message(),
              HasSubstr("argument 0 holds nan at element [] of %0 = f64[] device_data() (the "
                        "first of 1 non-finite elements of 1)"));
}

}  // namespace
}  // namespace kiln
