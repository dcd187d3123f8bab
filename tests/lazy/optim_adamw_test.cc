// AdamW against a scalar reimplementation of torch.optim.AdamW, on f64 tensors.
#include "lazy/optim_adamw.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <vector>

#include "lazy/graph_executor.h"
#include "lazy/ops.h"
#include "lazy/optim_param_groups.h"
#include "tests/lazy/optim_test_util.h"

namespace kiln::optim {
namespace {

using ::kiln::testing::F64Param;
using ::kiln::testing::NearF64;
using ::kiln::testing::QuadraticGrad;
using ::kiln::testing::QuadraticLoss;
using ::kiln::testing::RandomVector;
using ::kiln::testing::ReferenceAdamW;

TEST(OptimAdamWTest, MatchesReferenceWithBiasCorrection) {
  std::vector<double> w = RandomVector(12, 101);
  const std::vector<double> tw = RandomVector(12, 102);
  Tensor w_t = F64Param(w, {3, 4});
  const Tensor target = Tensor::from_vector<double>(tw, {3, 4});
  // Large betas make the bias corrections matter for many steps.
  const AdamWOptions options{
      .lr = 0.05, .beta1 = 0.8, .beta2 = 0.99, .eps = 1e-6, .weight_decay = 0.1};
  AdamW opt({w_t}, options);
  ReferenceAdamW ref{.beta1 = 0.8, .beta2 = 0.99, .eps = 1e-6, .weight_decay = 0.1};
  for (int step = 0; step < 8; ++step) {
    opt.zero_grad();
    QuadraticLoss({w_t}, {target}).backward();
    opt.step();
    mark_step();
    ref.Step(w, QuadraticGrad(w, tw), 0.05);
    ASSERT_THAT(w_t.to_vector<double>(), NearF64(w)) << "step " << step;
  }
  EXPECT_EQ(opt.state(0, 0).step, 8);
  EXPECT_THAT(opt.state(0, 0).exp_avg.to_vector<double>(), NearF64(ref.exp_avg));
  EXPECT_THAT(opt.state(0, 0).exp_avg_sq.to_vector<double>(), NearF64(ref.exp_avg_sq));
}

TEST(OptimAdamWTest, TwoGroupsWithDifferentWeightDecayAndChangingLr) {
  std::vector<double> w = RandomVector(8, 111), b = RandomVector(4, 112), g = RandomVector(4, 113);
  const std::vector<double> tw = RandomVector(8, 114), tb = RandomVector(4, 115),
                            tg = RandomVector(4, 116);
  Tensor w_t = F64Param(w, {2, 4}), b_t = F64Param(b, {4}), g_t = F64Param(g, {1, 4});
  const std::vector<Tensor> targets = {Tensor::from_vector<double>(tw, {2, 4}),
                                       Tensor::from_vector<double>(tb, {4}),
                                       Tensor::from_vector<double>(tg, {1, 4})};
  // {w, g} decay (rank 2), {b} does not.
  std::vector<ParamGroup> groups = DecayGroupsByRank({{"w", w_t}, {"b", b_t}, {"g", g_t}}, 0.3);
  ASSERT_EQ(groups.size(), 2u);
  AdamW opt(std::move(groups), {.lr = 0.01});
  EXPECT_DOUBLE_EQ(opt.weight_decay(0), 0.3);
  EXPECT_DOUBLE_EQ(opt.weight_decay(1), 0.0);
  ReferenceAdamW ref_w{.weight_decay = 0.3}, ref_g{.weight_decay = 0.3};
  ReferenceAdamW ref_b{.weight_decay = 0.0};
  for (int step = 0; step < 6; ++step) {
    const double lr = 0.02 / (1 + step);
    opt.zero_grad();
    QuadraticLoss({w_t, b_t, g_t}, targets).backward();
    opt.set_lr(lr);
    opt.step();
    mark_step();
    ref_w.Step(w, QuadraticGrad(w, tw), lr);
    ref_b.Step(b, QuadraticGrad(b, tb), lr);
    ref_g.Step(g, QuadraticGrad(g, tg), lr);
  }
  EXPECT_THAT(w_t.to_vector<double>(), NearF64(w));
  EXPECT_THAT(b_t.to_vector<double>(), NearF64(b));
  EXPECT_THAT(g_t.to_vector<double>(), NearF64(g));
}

TEST(OptimAdamWTest, StepCountIsPerParameter) {
  // b gets a gradient on even steps only: its bias corrections use its own count.
  std::vector<double> w = RandomVector(3, 121), b = RandomVector(3, 122);
  const std::vector<double> tw = RandomVector(3, 123), tb = RandomVector(3, 124);
  Tensor w_t = F64Param(w, {3}), b_t = F64Param(b, {3});
  const Tensor target_w = Tensor::from_vector<double>(tw, {3});
  const Tensor target_b = Tensor::from_vector<double>(tb, {3});
  AdamW opt({w_t, b_t}, {.lr = 0.1, .weight_decay = 0.05});
  ReferenceAdamW ref_w{.weight_decay = 0.05}, ref_b{.weight_decay = 0.05};
  for (int step = 0; step < 5; ++step) {
    opt.zero_grad();
    if (step % 2 == 0) {
      QuadraticLoss({w_t, b_t}, {target_w, target_b}).backward();
      ref_b.Step(b, QuadraticGrad(b, tb), 0.1);
    } else {
      QuadraticLoss({w_t}, {target_w}).backward();
    }
    ref_w.Step(w, QuadraticGrad(w, tw), 0.1);
    opt.step();
    mark_step();
  }
  EXPECT_EQ(opt.step_count(), 5);
  EXPECT_EQ(opt.state(0, 0).step, 5);
  EXPECT_EQ(opt.state(0, 1).step, 3);
  EXPECT_THAT(w_t.to_vector<double>(), NearF64(w));
  EXPECT_THAT(b_t.to_vector<double>(), NearF64(b));
}

TEST(OptimAdamWTest, F32ParametersTrackTheReference) {
  const std::vector<double> w64 = RandomVector(16, 131), tw64 = RandomVector(16, 132);
  const std::vector<float> w32(w64.begin(), w64.end()), tw32(tw64.begin(), tw64.end());
  // The reference starts from the same (f32-rounded) values, in doubles.
  std::vector<double> w(w32.begin(), w32.end());
  const std::vector<double> tw(tw32.begin(), tw32.end());
  Tensor w_t = Tensor::from_vector<float>(w32, {4, 4});
  w_t.requires_grad_();
  const Tensor target = Tensor::from_vector<float>(tw32, {4, 4});
  AdamW opt({w_t}, {.lr = 0.01});
  ReferenceAdamW ref;
  for (int step = 0; step < 5; ++step) {
    opt.zero_grad();
    QuadraticLoss({w_t}, {target}).backward();
    opt.step();
    mark_step();
    ref.Step(w, QuadraticGrad(w, tw), 0.01);
  }
  const std::vector<float> got = w_t.to_vector<float>();
  for (size_t i = 0; i < w.size(); ++i) EXPECT_NEAR(got[i], w[i], 1e-5) << i;
}

}  // namespace
}  // namespace kiln::optim
