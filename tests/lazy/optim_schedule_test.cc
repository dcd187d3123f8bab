#include "lazy/optim_schedule.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <numbers>

#include "tests/lazy/op_test_util.h"

namespace kiln::optim {
namespace {

using ::kiln::testing::ErrorOf;
using ::testing::HasSubstr;

TEST(OptimScheduleTest, ConstantIsConstant) {
  const LrSchedule schedule = ConstantSchedule(3e-4);
  EXPECT_DOUBLE_EQ(schedule(0), 3e-4);
  EXPECT_DOUBLE_EQ(schedule(12345), 3e-4);
}

// The workload's schedule: peak 1e-3, 20 warm-up steps, cosine to 1e-5 at step 99.
TEST(OptimScheduleTest, WarmupCosineFollowsTheFormula) {
  const double peak = 1e-3, min = 1e-5;
  const LrSchedule schedule = WarmupCosineSchedule(peak, 20, 100, min);
  const auto cosine = [&](double u) {
    return min + (peak - min) * 0.5 * (1 + std::cos(std::numbers::pi * (u - 20) / 80));
  };
  EXPECT_DOUBLE_EQ(schedule(0), peak / 20);
  EXPECT_DOUBLE_EQ(schedule(9), peak / 2);
  EXPECT_DOUBLE_EQ(schedule(19), peak);
  EXPECT_NEAR(schedule(20), cosine(21), 1e-15);
  EXPECT_DOUBLE_EQ(schedule(59), (peak + min) / 2);  // halfway through the cosine
  EXPECT_DOUBLE_EQ(schedule(59), 5.05e-4);
  EXPECT_NEAR(schedule(80), cosine(81), 1e-15);
  EXPECT_DOUBLE_EQ(schedule(99), min);
  EXPECT_DOUBLE_EQ(schedule(100), min);
  EXPECT_DOUBLE_EQ(schedule(1000), min);
}

TEST(OptimScheduleTest, WarmupCosineRisesThenFalls) {
  const LrSchedule schedule = WarmupCosineSchedule(1e-3, 20, 100, 1e-5);
  for (int64_t step = 1; step < 20; ++step) EXPECT_GT(schedule(step), schedule(step - 1));
  for (int64_t step = 20; step < 100; ++step) EXPECT_LT(schedule(step), schedule(step - 1));
}

TEST(OptimScheduleTest, NoWarmupStartsAtThePeak) {
  const LrSchedule schedule = WarmupCosineSchedule(0.1, 0, 10);
  EXPECT_DOUBLE_EQ(schedule(0), 0.1 * 0.5 * (1 + std::cos(std::numbers::pi / 10)));
  EXPECT_NEAR(schedule(9), 0, 1e-18);
}

TEST(OptimScheduleTest, BadArgumentsAreErrors) {
  EXPECT_THAT(ErrorOf([] { ConstantSchedule(-1); }),
              HasSubstr("ConstantSchedule: lr must be finite and >= 0, got -1"));
  EXPECT_THAT(ErrorOf([] { ConstantSchedule(NAN); }), HasSubstr("got nan"));
  EXPECT_THAT(ErrorOf([] { WarmupCosineSchedule(1e-3, 20, 100, 1e-2); }),
              HasSubstr("expected 0 <= min_lr <= peak_lr (finite), got min_lr 0.01 and "
                        "peak_lr 0.001"));
  EXPECT_THAT(ErrorOf([] { WarmupCosineSchedule(-1e-3, 20, 100, 0); }),
              HasSubstr("peak_lr -0.001"));
  EXPECT_THAT(ErrorOf([] { WarmupCosineSchedule(1e-3, 20, 20, 0); }),
              HasSubstr("expected 0 <= warmup_steps < total_steps, got warmup_steps 20 and "
                        "total_steps 20"));
  EXPECT_THAT(ErrorOf([] { WarmupCosineSchedule(1e-3, -1, 20, 0); }), HasSubstr("warmup_steps -1"));
  EXPECT_THAT(ErrorOf([] { WarmupCosineSchedule(1e-3, 2, 20)(-1); }),
              HasSubstr("WarmupCosineSchedule: step must be >= 0, got -1"));
  EXPECT_THAT(ErrorOf([] { ConstantSchedule(1)(-3); }), HasSubstr("got -3"));
}

}  // namespace
}  // namespace kiln::optim
