// SGD against a scalar reimplementation of torch.optim.SGD, on f64 tensors.
#include "lazy/optim_sgd.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <vector>

#include "lazy/graph_executor.h"
#include "lazy/ops.h"
#include "tests/lazy/optim_test_util.h"

namespace kiln::optim {
namespace {

using ::kiln::testing::F64Param;
using ::kiln::testing::NearF64;
using ::kiln::testing::QuadraticGrad;
using ::kiln::testing::QuadraticLoss;
using ::kiln::testing::RandomVector;
using ::kiln::testing::ReferenceSgd;

// Runs `steps` SGD steps on a quadratic loss over a matrix and a vector parameter, with
// a learning rate changing each step, and compares with the reference after each.
void ExpectMatchesReference(const SGDOptions& options, int steps, uint32_t seed) {
  std::vector<double> w = RandomVector(12, seed), b = RandomVector(4, seed + 1);
  const std::vector<double> tw = RandomVector(12, seed + 2), tb = RandomVector(4, seed + 3);
  Tensor w_t = F64Param(w, {3, 4}), b_t = F64Param(b, {4});
  const std::vector<Tensor> targets = {Tensor::from_vector<double>(tw, {3, 4}),
                                       Tensor::from_vector<double>(tb, {4})};
  SGD opt({w_t, b_t}, options);
  ReferenceSgd ref_w{options.momentum, options.weight_decay, options.nesterov};
  ReferenceSgd ref_b = ref_w;
  for (int step = 0; step < steps; ++step) {
    const double lr = options.lr * (1 + 0.25 * step);
    opt.zero_grad();
    QuadraticLoss({w_t, b_t}, targets).backward();
    opt.set_lr(lr);
    opt.step();
    mark_step();
    ref_w.Step(w, QuadraticGrad(w, tw), lr);
    ref_b.Step(b, QuadraticGrad(b, tb), lr);
    ASSERT_THAT(w_t.to_vector<double>(), NearF64(w)) << "step " << step;
    ASSERT_THAT(b_t.to_vector<double>(), NearF64(b)) << "step " << step;
  }
  EXPECT_EQ(opt.step_count(), steps);
  // Without momentum there is no state.
  EXPECT_EQ(opt.momentum_buffer(0, 0).defined(), options.momentum != 0);
}

TEST(OptimSgdTest, PlainMatchesReference) { ExpectMatchesReference({.lr = 0.05}, 5, 11); }

TEST(OptimSgdTest, WeightDecayMatchesReference) {
  ExpectMatchesReference({.lr = 0.05, .weight_decay = 0.1}, 5, 21);
}

TEST(OptimSgdTest, MomentumAndWeightDecayMatchReference) {
  ExpectMatchesReference({.lr = 0.03, .momentum = 0.9, .weight_decay = 0.01}, 6, 31);
}

TEST(OptimSgdTest, NesterovMatchesReference) {
  ExpectMatchesReference({.lr = 0.03, .momentum = 0.8, .weight_decay = 0.05, .nesterov = true}, 6,
                         41);
}

TEST(OptimSgdTest, GroupsHaveTheirOwnLearningRateAndWeightDecay) {
  std::vector<double> w = RandomVector(6, 51), b = RandomVector(3, 52);
  const std::vector<double> tw = RandomVector(6, 53), tb = RandomVector(3, 54);
  Tensor w_t = F64Param(w, {2, 3}), b_t = F64Param(b, {3});
  const std::vector<Tensor> targets = {Tensor::from_vector<double>(tw, {2, 3}),
                                       Tensor::from_vector<double>(tb, {3})};
  SGD opt(std::vector<ParamGroup>{{.params = {w_t}, .weight_decay = 0.2}, {.params = {b_t}}},
          {.lr = 0.1, .momentum = 0.5, .weight_decay = 0.0});
  opt.set_lr(1, 0.02);
  EXPECT_DOUBLE_EQ(opt.lr(0), 0.1);
  EXPECT_DOUBLE_EQ(opt.lr(1), 0.02);
  EXPECT_DOUBLE_EQ(opt.weight_decay(0), 0.2);
  EXPECT_DOUBLE_EQ(opt.weight_decay(1), 0.0);
  ReferenceSgd ref_w{.momentum = 0.5, .weight_decay = 0.2};
  ReferenceSgd ref_b{.momentum = 0.5, .weight_decay = 0.0};
  for (int step = 0; step < 4; ++step) {
    opt.zero_grad();
    QuadraticLoss({w_t, b_t}, targets).backward();
    opt.step();
    mark_step();
    ref_w.Step(w, QuadraticGrad(w, tw), 0.1);
    ref_b.Step(b, QuadraticGrad(b, tb), 0.02);
  }
  EXPECT_THAT(w_t.to_vector<double>(), NearF64(w));
  EXPECT_THAT(b_t.to_vector<double>(), NearF64(b));
}

TEST(OptimSgdTest, ParameterWithoutGradientIsSkipped) {
  const std::vector<double> w = RandomVector(4, 61), unused = RandomVector(4, 62);
  Tensor w_t = F64Param(w, {4}), unused_t = F64Param(unused, {4});
  const Tensor target = Tensor::from_vector<double>(RandomVector(4, 63), {4});
  SGD opt({w_t, unused_t}, {.lr = 0.1, .momentum = 0.9});
  QuadraticLoss({w_t}, {target}).backward();
  opt.step();
  mark_step();
  EXPECT_FALSE(unused_t.grad().defined());
  EXPECT_THAT(unused_t.to_vector<double>(), NearF64(unused, 0));
  EXPECT_THAT(opt.momentum_buffer(0, 1).to_vector<double>(), NearF64({0, 0, 0, 0}, 0));
  EXPECT_THAT(opt.momentum_buffer(0, 0).to_vector<double>(), ::testing::Not(NearF64({0, 0, 0, 0})));
  EXPECT_THAT(w_t.to_vector<double>(), ::testing::Not(NearF64(w)));
}

TEST(OptimSgdTest, ZeroGradDropsEveryGradient) {
  Tensor w_t = F64Param({1, 2}, {2}), b_t = F64Param({3}, {1});
  SGD opt({w_t, b_t});
  sum(add(w_t, sum(b_t))).backward();
  EXPECT_TRUE(w_t.grad().defined());
  EXPECT_TRUE(b_t.grad().defined());
  opt.zero_grad();
  EXPECT_FALSE(w_t.grad().defined());
  EXPECT_FALSE(b_t.grad().defined());
}

TEST(OptimSgdTest, UpdatesLeaveGradientRecordingOn) {
  Tensor w_t = F64Param({1, 2}, {2});
  SGD opt({w_t}, {.lr = 0.5});
  sum(w_t).backward();
  opt.step();
  EXPECT_TRUE(w_t.is_leaf());
  EXPECT_TRUE(w_t.requires_grad());
  EXPECT_TRUE(mul(w_t, 2.0).requires_grad());
  EXPECT_THAT(w_t.to_vector<double>(), NearF64({0.5, 1.5}));
}

}  // namespace
}  // namespace kiln::optim
