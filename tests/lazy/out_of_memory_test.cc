// An allocation the machine cannot satisfy, on the default device: mark_step throws a
// kiln::Error naming the size and shape, every tensor keeps its value or its pending IR,
// and the process goes on. Likewise the host memory of the values a creation op makes.
#include <cstdint>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lazy/kiln.h"
#include "lazy/live_tensors.h"
#include "util/error.h"

namespace kiln {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(OutOfMemoryTest, AnAllocationTooLargeIsAnErrorAndChangesNothing) {
  const Tensor x = Tensor::from_vector<float>({1, 2}, {2, 1});
  const Tensor kept = x * 3.0;
  mark_step();
  // 2^45 columns of f32: 256 TiB, more than any machine here has or can map.
  constexpr int64_t kColumns = int64_t{1} << 45;
  Tensor huge = expand(x, {2, kColumns}) + 1.0;
  const Tensor small = kept + 1.0;
  std::string message;
  try {
    mark_step();
  } catch (const Error& e) {
    message = e.what();
  }
  EXPECT_THAT(message, HasSubstr("out of memory allocating 281474976710656 bytes for "
                                 "f32[2,35184372088832]"));
  EXPECT_TRUE(huge.is_pending());
  EXPECT_TRUE(small.is_pending());
  EXPECT_FALSE(kept.is_pending());
  EXPECT_THAT(kept.to_vector<float>(), ElementsAre(3, 6));

  huge = Tensor();
  EXPECT_THAT(small.to_vector<float>(), ElementsAre(4, 7));
  EXPECT_THAT((x + kept).to_vector<float>(), ElementsAre(4, 8));
}

// rand and friends draw their values on the host before uploading them; full_data fills
// them there. 2^45 doubles: 256 TiB, more than the address space can map. (Under the
// sanitizers, whose operator new stops the process instead of throwing std::bad_alloc,
// scripts/kiln.sh leaves this test out.)
TEST(OutOfMemoryTest, HostValuesTooLargeAreAnErrorAndMakeNothing) {
  constexpr int64_t kValues = int64_t{1} << 45;
  Generator gen(7);
  const size_t live = live_tensors::Count();
  EXPECT_THAT(
      [&] {
        randn({2, kValues / 2}, gen);
      },
      ::testing::ThrowsMessage<Error>(
          HasSubstr("randn: out of memory allocating 281474976710656 bytes on the host "
                    "for the 35184372088832 values of sizes [2,17592186044416]")));
  EXPECT_THAT([&] { full_data({kValues}, 1.5, DType::kF64); },
              ::testing::ThrowsMessage<Error>(
                  HasSubstr("full_data: out of memory allocating 281474976710656 bytes")));
  EXPECT_EQ(live_tensors::Count(), live);
  const Tensor drawn = randn({3}, gen);
  EXPECT_EQ(drawn.to_vector<float>().size(), 3u);
}

}  // namespace
}  // namespace kiln
