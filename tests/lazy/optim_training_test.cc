// Optimizers in a traced training loop: a learning rate that changes every step, the
// step count and Adam's bias corrections must not recompile or grow the graph, and
// parameters and optimizer state must keep their identity from step to step.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "ir/graph.h"
#include "ir/op_kind.h"
#include "lazy/graph_executor.h"
#include "lazy/ops.h"
#include "lazy/optim_adamw.h"
#include "lazy/optim_param_groups.h"
#include "lazy/optim_schedule.h"
#include "lazy/optim_sgd.h"
#include "tests/lazy/optim_test_util.h"
#include "util/config.h"
#include "util/metrics.h"

namespace kiln::optim {
namespace {

using ::kiln::testing::F64Param;
using ::kiln::testing::NearF64;
using ::kiln::testing::QuadraticGrad;
using ::kiln::testing::QuadraticLoss;
using ::kiln::testing::RandomVector;
using ::kiln::testing::ReferenceAdamW;
using ::kiln::testing::ReferenceSgd;

constexpr int kSteps = 100;

int64_t Count(const char* name) { return metrics::counter(name); }

class OptimTrainingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    cfg_->debug = 0;
    cfg_->error_on_recompile = false;
    metrics::reset();
    clear_compile_cache();
  }

  ScopedConfigOverride cfg_;
};

// A small quadratic problem: a matrix (weight decay) and a bias (none).
struct Problem {
  std::vector<double> w = RandomVector(12, 201), b = RandomVector(3, 202);
  std::vector<double> tw = RandomVector(12, 203), tb = RandomVector(3, 204);
  Tensor w_t = F64Param(w, {4, 3});
  Tensor b_t = F64Param(b, {3});
  std::vector<Tensor> targets = {Tensor::from_vector<double>(tw, {4, 3}),
                                 Tensor::from_vector<double>(tb, {3})};
};

// The training loop of lazy/optim_schedule.h; returns the nodes traced at each step.
std::vector<int64_t> Train(Optimizer& opt, Problem& problem, const LrSchedule& schedule) {
  std::vector<int64_t> nodes;
  for (int64_t step = 0; step < kSteps; ++step) {
    const int64_t before = Count("NodesTraced");
    opt.zero_grad();
    Tensor loss = QuadraticLoss({problem.w_t, problem.b_t}, problem.targets);
    opt.set_lr(schedule(step));
    loss.backward();
    opt.step();
    mark_step();
    nodes.push_back(Count("NodesTraced") - before);
  }
  return nodes;
}

TEST_F(OptimTrainingTest, AdamWWithWarmupCosineCompilesOnce) {
  Problem problem;
  const LrSchedule schedule = WarmupCosineSchedule(1e-3, 20, kSteps, 1e-5);
  AdamW opt(DecayGroupsByRank({problem.w_t, problem.b_t}, 0.05));
  ASSERT_EQ(opt.param_groups().size(), 2u);

  const std::vector<int64_t> nodes = Train(opt, problem, schedule);
  // The state exists from the first step on and is still the same tensors.
  const AdamW::State& w_state = opt.state(0, 0);
  const AdamW::State& b_state = opt.state(1, 0);
  EXPECT_EQ(w_state.step, kSteps);
  EXPECT_EQ(b_state.step, kSteps);

  // Every step is the same graph: compiled once, then 99 cache hits, no hidden barrier.
  EXPECT_EQ(Count("UncachedCompile"), 1);
  EXPECT_EQ(Count("CachedCompile"), kSteps - 1);
  EXPECT_EQ(Count("MarkStep"), kSteps);
  EXPECT_EQ(Count("ImplicitBarrier"), 0);
  EXPECT_EQ(nodes[2], nodes[50]);
  for (int step = 0; step < kSteps; ++step) EXPECT_EQ(nodes[step], nodes[0]) << "step " << step;
  RecordProperty("nodes_per_step", static_cast<int>(nodes[0]));

  // And it computed what torch.optim.AdamW with the schedule computes.
  ReferenceAdamW ref_w{.weight_decay = 0.05}, ref_b{.weight_decay = 0.0};
  for (int64_t step = 0; step < kSteps; ++step) {
    ref_w.Step(problem.w, QuadraticGrad(problem.w, problem.tw), schedule(step));
    ref_b.Step(problem.b, QuadraticGrad(problem.b, problem.tb), schedule(step));
  }
  EXPECT_THAT(problem.w_t.to_vector<double>(), NearF64(problem.w, 1e-10));
  EXPECT_THAT(problem.b_t.to_vector<double>(), NearF64(problem.b, 1e-10));
  EXPECT_THAT(w_state.exp_avg_sq.to_vector<double>(), NearF64(ref_w.exp_avg_sq, 1e-10));
}

TEST_F(OptimTrainingTest, SgdWithMomentumAndCosineCompilesOnce) {
  Problem problem;
  const LrSchedule schedule = WarmupCosineSchedule(0.05, 10, kSteps, 1e-3);
  SGD opt({problem.w_t, problem.b_t}, {.momentum = 0.9, .weight_decay = 1e-3, .nesterov = true});
  const std::vector<int64_t> nodes = Train(opt, problem, schedule);
  EXPECT_EQ(Count("UncachedCompile"), 1);
  EXPECT_EQ(Count("CachedCompile"), kSteps - 1);
  EXPECT_EQ(nodes[2], nodes[50]);
  for (int step = 0; step < kSteps; ++step) EXPECT_EQ(nodes[step], nodes[0]) << "step " << step;
  RecordProperty("nodes_per_step", static_cast<int>(nodes[0]));

  ReferenceSgd ref_w{.momentum = 0.9, .weight_decay = 1e-3, .nesterov = true};
  ReferenceSgd ref_b = ref_w;
  for (int64_t step = 0; step < kSteps; ++step) {
    ref_w.Step(problem.w, QuadraticGrad(problem.w, problem.tw), schedule(step));
    ref_b.Step(problem.b, QuadraticGrad(problem.b, problem.tb), schedule(step));
  }
  EXPECT_THAT(problem.w_t.to_vector<double>(), NearF64(problem.w, 1e-10));
  EXPECT_THAT(problem.b_t.to_vector<double>(), NearF64(problem.b, 1e-10));
}

TEST_F(OptimTrainingTest, ParametersAndStateKeepTheirIdentity) {
  Problem problem;
  const Tensor w_handle = problem.w_t;  // a copy held elsewhere, e.g. by a module
  AdamW adamw({problem.w_t, problem.b_t});
  Tensor v_t = F64Param({1, 2, 3}, {3});
  SGD sgd({v_t}, {.momentum = 0.5});
  const Tensor v_target = Tensor::from_vector<double>({0, 0, 0}, {3});
  const auto identities = [&] {
    return std::vector<const TensorImpl*>{problem.w_t.impl().get(),
                                          problem.b_t.impl().get(),
                                          adamw.state(0, 0).exp_avg.impl().get(),
                                          adamw.state(0, 0).exp_avg_sq.impl().get(),
                                          adamw.state(0, 1).exp_avg.impl().get(),
                                          adamw.state(0, 1).exp_avg_sq.impl().get(),
                                          v_t.impl().get(),
                                          sgd.momentum_buffer(0, 0).impl().get()};
  };
  // The state exists, as zeros, from construction on.
  const std::vector<const TensorImpl*> at_construction = identities();
  EXPECT_THAT(adamw.state(0, 1).exp_avg_sq.to_vector<double>(), NearF64({0, 0, 0}, 0));
  for (int step = 0; step < 10; ++step) {
    adamw.zero_grad();
    sgd.zero_grad();
    add(QuadraticLoss({problem.w_t, problem.b_t}, problem.targets),
        QuadraticLoss({v_t}, {v_target}))
        .backward();
    adamw.step();
    sgd.step();
    mark_step();
    EXPECT_EQ(identities(), at_construction) << "step " << step;
  }
  EXPECT_EQ(w_handle.impl().get(), problem.w_t.impl().get());
  EXPECT_EQ(adamw.param_groups()[0].params[0].impl().get(), problem.w_t.impl().get());
  // The handle held elsewhere sees the updated value.
  EXPECT_THAT(w_handle.to_vector<double>(), ::testing::Not(NearF64(RandomVector(12, 201))));
  EXPECT_TRUE(problem.w_t.is_leaf());
  EXPECT_TRUE(problem.w_t.requires_grad());
}

TEST_F(OptimTrainingTest, UpdateBakesNoConstants) {
  // With gradients set by hand, the pending update holds only the optimizer's ops: every
  // number in it (lr, betas, eps, bias corrections, weight decay) is a Scalar parameter.
  Tensor w_t = F64Param(RandomVector(6, 211), {2, 3});
  AdamW opt({w_t}, {.lr = 0.01, .weight_decay = 0.1});
  for (int step = 0; step < 3; ++step) {
    w_t.set_grad(Tensor::from_vector<double>(RandomVector(6, 212 + step), {2, 3}));
    opt.step();
    const AdamW::State& state = opt.state(0, 0);
    const Graph graph =
        Graph::Build({w_t.value(), state.exp_avg.value(), state.exp_avg_sq.value()});
    int constants = 0, scalars = 0;
    for (const Node* node : graph.post_order()) {
      constants += node->op() == OpKind::kConstant;
      scalars += node->op() == OpKind::kScalar;
    }
    EXPECT_EQ(constants, 0) << "step " << step;
    // 1 - lr*wd, beta1, 1 - beta1, beta2, 1 - beta2, sqrt(bias_correction2), eps, lr/bc1.
    EXPECT_EQ(scalars, 8) << "step " << step;
    mark_step();
  }
  EXPECT_EQ(Count("UncachedCompile"), 1);
  EXPECT_EQ(Count("CachedCompile"), 2);
}

}  // namespace
}  // namespace kiln::optim
