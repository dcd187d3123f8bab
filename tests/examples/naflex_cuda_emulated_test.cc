// The NaFlex training loop through the cuda backend's generated kernels, on the emulated
// device (each kernel checked by NVRTC for sm_80 and sm_90, then run on the CPU): every
// kernel of the forward, backward, AdamW and evaluation graphs of two buckets, fused the
// way the real workload fuses them, against the cpu backend from the same seed.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "examples/naflex_vit/trainer.h"
#include "lazy/device.h"
#include "lazy/graph_executor.h"
#include "tests/examples/naflex_test_util.h"
#include "util/config.h"

namespace naflex {
namespace {

TEST(NaFlexCudaEmulatedTest, TrainingMatchesTheCpuBackendStepByStep) {
  kiln::ScopedConfigOverride cfg;
  cfg->debug = 0;
  TrainOptions options = testing::TinyOptions();
  options.steps = 6;
  options.eval_batches = 1;
  kiln::set_device("cpu");
  const TrainResult cpu = Train(options);
  kiln::set_device("cuda_emulated");
  const TrainResult cuda = Train(options);
  kiln::set_device("cpu");

  ASSERT_EQ(cuda.steps.size(), cpu.steps.size());
  std::vector<int64_t> buckets;
  for (size_t i = 0; i < cpu.steps.size(); ++i) {
    const StepRecord& want = cpu.steps[i];
    const StepRecord& got = cuda.steps[i];
    EXPECT_EQ(got.bucket, want.bucket) << "step " << i;
    // Six steps of AdamW from the same weights: the two backends sum in different
    // orders, so the losses agree to f32 rounding, not bit for bit.
    EXPECT_NEAR(got.loss, want.loss, 1e-4 * std::max(1.0, std::fabs(want.loss))) << "step " << i;
    buckets.push_back(want.bucket);
  }
  std::sort(buckets.begin(), buckets.end());
  EXPECT_GT(std::unique(buckets.begin(), buckets.end()) - buckets.begin(), 1)
      << "both buckets should be trained";
  ASSERT_GT(cpu.eval_samples, 0);
  EXPECT_EQ(cuda.eval_samples, cpu.eval_samples);
  EXPECT_NEAR(cuda.eval_loss, cpu.eval_loss, 1e-4 * std::max(1.0, std::fabs(cpu.eval_loss)));
  EXPECT_EQ(cuda.compiles_during_training, 0);
}

}  // namespace
}  // namespace naflex
