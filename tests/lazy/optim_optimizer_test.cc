// The Optimizer base: options, groups, learning rates, the step counter and the errors.
#include "lazy/optim_optimizer.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "lazy/creation.h"
#include "lazy/ops.h"
#include "lazy/optim_adamw.h"
#include "lazy/optim_sgd.h"
#include "tests/lazy/op_test_util.h"

namespace kiln::optim {
namespace {

using ::kiln::testing::ErrorOf;
using ::testing::HasSubstr;

Tensor Param(std::vector<int64_t> sizes) {
  Tensor t = zeros(sizes);
  t.requires_grad_();
  return t;
}

TEST(OptimOptimizerTest, GroupsTakeTheOptimizerDefaults) {
  const Tensor w = Param({2, 2}), b = Param({2});
  AdamW opt(std::vector<ParamGroup>{{.params = {w}, .lr = 0.5}, {.params = {b}}},
            {.lr = 0.1, .weight_decay = 0.2});
  EXPECT_EQ(opt.name(), "AdamW");
  EXPECT_DOUBLE_EQ(opt.lr(0), 0.5);
  EXPECT_DOUBLE_EQ(opt.lr(1), 0.1);
  EXPECT_DOUBLE_EQ(opt.weight_decay(0), 0.2);
  EXPECT_DOUBLE_EQ(*opt.param_groups()[1].weight_decay, 0.2);
  opt.set_lr(0.01);
  EXPECT_DOUBLE_EQ(opt.lr(0), 0.01);
  EXPECT_DOUBLE_EQ(opt.lr(1), 0.01);
  opt.set_lr(1, 0.02);
  EXPECT_DOUBLE_EQ(opt.lr(0), 0.01);
  EXPECT_DOUBLE_EQ(opt.lr(1), 0.02);
  EXPECT_EQ(opt.options().beta1, 0.9);
  EXPECT_EQ(opt.options().beta2, 0.999);
  EXPECT_EQ(opt.options().eps, 1e-8);
}

TEST(OptimOptimizerTest, StepCountsCallsEvenWithoutGradients) {
  const Tensor w = Param({2});
  SGD opt({w});
  EXPECT_EQ(opt.step_count(), 0);
  opt.step();  // no gradient yet: nothing to update
  EXPECT_EQ(opt.step_count(), 1);
  EXPECT_THAT(w.to_vector<float>(), ::kiln::testing::Near({0, 0}));
}

TEST(OptimOptimizerTest, BadOptionsAreErrors) {
  const Tensor w = Param({2, 3});
  EXPECT_THAT(ErrorOf([&] { SGD({w}, {.lr = -0.1}); }),
              HasSubstr("SGD: lr must be in [0, inf), got -0.1"));
  EXPECT_THAT(ErrorOf([&] { AdamW({w}, {.lr = NAN}); }),
              HasSubstr("AdamW: lr must be in [0, inf), got nan"));
  EXPECT_THAT(ErrorOf([&] { AdamW({w}, {.beta1 = 1.0}); }),
              HasSubstr("AdamW: beta1 must be in [0, 1), got 1"));
  EXPECT_THAT(ErrorOf([&] { AdamW({w}, {.beta2 = -0.5}); }),
              HasSubstr("AdamW: beta2 must be in [0, 1), got -0.5"));
  EXPECT_THAT(ErrorOf([&] { AdamW({w}, {.eps = -1e-8}); }),
              HasSubstr("AdamW: eps must be in [0, inf), got -1e-08"));
  EXPECT_THAT(ErrorOf([&] { AdamW({w}, {.weight_decay = -1}); }),
              HasSubstr("AdamW: weight_decay must be in [0, inf), got -1"));
  EXPECT_THAT(ErrorOf([&] { SGD({w}, {.momentum = -0.9}); }),
              HasSubstr("SGD: momentum must be in [0, inf), got -0.9"));
  EXPECT_THAT(ErrorOf([&] { SGD({w}, {.nesterov = true}); }),
              HasSubstr("SGD: nesterov needs a momentum > 0, got momentum 0"));
  EXPECT_THAT(
      ErrorOf([&] { AdamW(std::vector<ParamGroup>{{.params = {w}, .weight_decay = -0.1}}); }),
      HasSubstr("AdamW: weight_decay of group 0 must be in [0, inf), got -0.1"));
}

TEST(OptimOptimizerTest, BadParametersAreErrors) {
  const Tensor w = Param({2, 3}), b = Param({3});
  const Tensor plain = zeros({4});
  EXPECT_THAT(ErrorOf([&] {
                AdamW({w, plain});
              }),
              HasSubstr("AdamW: parameter 1 of group 0 (f32[4]) does not require grad; call "
                        "requires_grad_() on it or leave it out"));
  EXPECT_THAT(ErrorOf([&] {
                AdamW(std::vector<ParamGroup>{{.params = {w}}, {.params = {}}});
              }),
              HasSubstr("AdamW: parameter group 1 is empty"));
  EXPECT_THAT(ErrorOf([&] { SGD(std::vector<Tensor>{}); }),
              HasSubstr("SGD: parameter group 0 is empty"));
  EXPECT_THAT(ErrorOf([&] { SGD(std::vector<ParamGroup>{}); }),
              HasSubstr("SGD: got no parameters to optimize"));
  EXPECT_THAT(ErrorOf([&] {
                SGD({w, Tensor()});
              }),
              HasSubstr("SGD: parameter 1 of group 0 is undefined"));
  EXPECT_THAT(ErrorOf([&] { SGD({mul(w, 2.0)}); }),
              HasSubstr("SGD: parameter 0 of group 0 (f32[2,3]) is the result of an op, not a "
                        "leaf"));
  EXPECT_THAT(ErrorOf([&] {
                SGD(std::vector<ParamGroup>{{.params = {w, b}}, {.params = {w}}});
              }),
              HasSubstr("SGD: parameter 0 of group 1 (f32[2,3]) is also parameter 0 of group 0; "
                        "a tensor may appear only once"));
}

TEST(OptimOptimizerTest, BadLearningRatesAndGroupsAreErrors) {
  const Tensor w = Param({2});
  SGD opt({w}, {.lr = 0.1});
  EXPECT_THAT(ErrorOf([&] { opt.set_lr(-1e-3); }),
              HasSubstr("SGD: lr must be in [0, inf), got -0.001"));
  EXPECT_THAT(ErrorOf([&] { opt.set_lr(0, INFINITY); }), HasSubstr("got inf"));
  EXPECT_THAT(ErrorOf([&] { opt.set_lr(1, 0.1); }),
              HasSubstr("SGD: no parameter group 1 (the optimizer has 1)"));
  EXPECT_THAT(ErrorOf([&] { opt.lr(3); }), HasSubstr("no parameter group 3"));
  EXPECT_DOUBLE_EQ(opt.lr(), 0.1);  // unchanged by the failed calls
  AdamW adamw({w});
  EXPECT_THAT(ErrorOf([&] { adamw.state(0, 1); }), HasSubstr("AdamW: no parameter 1 in group 0"));
  EXPECT_THAT(ErrorOf([&] { opt.momentum_buffer(1, 0); }),
              HasSubstr("SGD: no parameter 0 in group 1"));
}

}  // namespace
}  // namespace kiln::optim
