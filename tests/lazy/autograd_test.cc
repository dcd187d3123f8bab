// The autograd engine: which tensors get gradients, accumulation, detach and NoGradGuard,
// laziness, and the errors. Per-op formulas are checked in autograd_gradcheck_test.cc.
#include "lazy/autograd.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "lazy/composite_ops.h"
#include "lazy/creation.h"
#include "lazy/grad_mode.h"
#include "lazy/graph_executor.h"
#include "lazy/nn_functional.h"
#include "lazy/ops.h"
#include "tests/lazy/op_test_util.h"
#include "util/metrics.h"

namespace kiln {
namespace {

using ::kiln::testing::ErrorOf;
using ::kiln::testing::Near;
using ::testing::HasSubstr;

Tensor Param(std::vector<float> values, std::vector<int64_t> sizes) {
  Tensor t = Tensor::from_vector<float>(values, sizes);
  t.requires_grad_();
  return t;
}

TEST(AutogradTest, ProductRuleThroughBroadcasting) {
  Tensor x = Param({1, 2, 3, 4, 5, 6}, {2, 3});
  Tensor w = Param({0.5f, -1, 2}, {3});
  Tensor loss = sum(add(mul(x, w), x));
  EXPECT_TRUE(loss.requires_grad());
  EXPECT_FALSE(loss.is_leaf());
  loss.backward();
  // d/dx = w + 1 in every row; d/dw = column sums of x.
  EXPECT_THAT(x.grad().to_vector<float>(), Near({1.5f, 0, 3, 1.5f, 0, 3}));
  EXPECT_THAT(w.grad().to_vector<float>(), Near({5, 7, 9}));
}

TEST(AutogradTest, RoundingPassesNoGradient) {
  Tensor x = Param({-1.5f, 0.3f, 2.7f}, {3});
  // floor and ceil contribute nothing; round(x) * x contributes round(x), as in torch.
  Tensor loss = sum(add(add(floor(x), ceil(x)), mul(round(x), x)));
  loss.backward();
  EXPECT_THAT(x.grad().to_vector<float>(), Near({-2, 0, 3}));
}

TEST(AutogradTest, SharedSubexpressionsSumTheirContributions) {
  Tensor x = Param({1, -2, 3}, {3});
  Tensor y = mul(x, x);                  // both operands are the same leaf
  Tensor loss = sum(add(y, mul(y, x)));  // x^2 + x^3
  loss.backward();
  EXPECT_THAT(x.grad().to_vector<float>(), Near({2 + 3, -4 + 12, 6 + 27}));
}

TEST(AutogradTest, SecondBackwardThroughAFreedGraphThrows) {
  Tensor x = Param({1, 2}, {2});
  Tensor y = mul(x, x);
  Tensor loss = sum(y);
  loss.backward();
  EXPECT_THAT(ErrorOf([&] { loss.backward(); }),
              HasSubstr("graph of sum was freed by an earlier backward(); pass retain_graph=true"));
  // Any graph through a freed node: the error comes before anything is recorded.
  EXPECT_THAT(ErrorOf([&] { sum(mul(y, 2.0)).backward(); }), HasSubstr("retain_graph=true"));
  EXPECT_THAT(x.grad().to_vector<float>(), Near({2, 4}));
  // A fresh graph from the leaf is fine; freed nodes still name their op.
  sum(x).backward();
  EXPECT_THAT(x.grad().to_vector<float>(), Near({3, 5}));
  EXPECT_THAT(ErrorOf([&] { y.requires_grad_(false); }), HasSubstr("result of mul"));
}

TEST(AutogradTest, RetainGraphAllowsASecondBackward) {
  Tensor x = Param({1, 2}, {2});
  Tensor loss = sum(mul(x, x));
  loss.backward({}, /*retain_graph=*/true);
  loss.backward({}, /*retain_graph=*/true);
  EXPECT_THAT(x.grad().to_vector<float>(), Near({4, 8}));
  loss.backward();  // the last one frees it
  EXPECT_THAT(x.grad().to_vector<float>(), Near({6, 12}));
  EXPECT_THAT(ErrorOf([&] { loss.backward(); }), HasSubstr("retain_graph=true"));
}

TEST(AutogradTest, BackwardFreesTheForwardNodesItHeld) {
  Tensor x = Param({1, 2}, {2});
  Tensor y = mul(x, 3.0);
  const NodePtr mul_node = y.value().node;
  Tensor loss = sum(y);
  y = Tensor();
  const long before = mul_node.use_count();
  loss.backward();
  // The GradNode's reference is gone; the sum node (held by loss) still reads it.
  EXPECT_EQ(mul_node.use_count(), before - 1);
}

TEST(AutogradTest, GradientsAccumulateUntilZeroGrad) {
  Tensor x = Param({1, 2}, {2});
  sum(mul(x, 3.0)).backward();
  sum(mul(x, 2.0)).backward();
  EXPECT_THAT(x.grad().to_vector<float>(), Near({5, 5}));
  x.zero_grad();
  EXPECT_FALSE(x.grad().defined());
  sum(x).backward();
  EXPECT_THAT(x.grad().to_vector<float>(), Near({1, 1}));
}

TEST(AutogradTest, BackwardRecordsLazyOpsAndRunsNothing) {
  Tensor x = Param({1, 2, 3}, {3});
  mark_step();
  const int64_t steps = metrics::counter("MarkStep") + metrics::counter("ImplicitBarrier");
  Tensor loss = sum(exp(x));
  loss.backward();
  EXPECT_TRUE(x.grad().is_pending());
  EXPECT_EQ(metrics::counter("MarkStep") + metrics::counter("ImplicitBarrier"), steps);
  mark_step();
  EXPECT_FALSE(x.grad().is_pending());
  EXPECT_THAT(x.grad().to_vector<float>(), Near({2.7182817f, 7.3890561f, 20.085537f}, 1e-4f));
}

TEST(AutogradTest, NonScalarBackwardTakesAGradient) {
  Tensor x = Param({1, 2, 3}, {3});
  Tensor y = mul(x, x);
  EXPECT_THAT(ErrorOf([&] { y.backward(); }), HasSubstr("pass one for f32[3]"));
  EXPECT_THAT(ErrorOf([&] {
                y.backward(Tensor::from_vector<float>({1, 1}, {2}));
              }),
              HasSubstr("gradient f32[2] does not match the output f32[3]"));
  y.backward(Tensor::from_vector<float>({1, 0, -1}, {3}));
  EXPECT_THAT(x.grad().to_vector<float>(), Near({2, 0, -6}));
}

TEST(AutogradTest, BackwardOfALeafIsItsGradient) {
  Tensor x = Param({4}, {});
  x.backward();
  EXPECT_THAT(x.grad().to_vector<float>(), Near({1}));
}

TEST(AutogradTest, DetachCutsTheGradientPath) {
  Tensor x = Param({1, 2}, {2});
  Tensor y = mul(x, x);
  Tensor frozen = y.detach();
  EXPECT_FALSE(frozen.requires_grad());
  sum(add(mul(frozen, x), y)).backward();  // d/dx = y + 2x, not 3x^2
  EXPECT_THAT(x.grad().to_vector<float>(), Near({1 + 2, 4 + 4}));
  EXPECT_THAT(frozen.to_vector<float>(), Near({1, 4}));
}

TEST(AutogradTest, NoGradGuardRecordsNoGradient) {
  Tensor x = Param({1, 2}, {2});
  Tensor y;
  {
    NoGradGuard no_grad;
    EXPECT_FALSE(GradMode::enabled());
    y = mul(x, 2.0);
  }
  EXPECT_TRUE(GradMode::enabled());
  EXPECT_FALSE(y.requires_grad());
  EXPECT_THAT(ErrorOf([&] { sum(y).backward(); }), HasSubstr("does not require grad"));
}

TEST(AutogradTest, NonDifferentiableResultsNeedNoGradient) {
  Tensor x = Param({1, 2, 3}, {3});
  EXPECT_FALSE(gt(x, 1.5).requires_grad());
  EXPECT_FALSE(argmax(x).requires_grad());
  EXPECT_FALSE(cast(x, DType::kI32).requires_grad());
  EXPECT_TRUE(cast(x, DType::kF64).requires_grad());
  // A mask from a comparison routes gradient only through the selected branch.
  sum(where(gt(x, 1.5), x, mul(x, 0.0))).backward();
  EXPECT_THAT(x.grad().to_vector<float>(), Near({0, 1, 1}));
}

TEST(AutogradTest, ErrorsNameTheTensorAndTheRule) {
  Tensor ints = Tensor::from_vector<int32_t>({1, 2}, {2});
  EXPECT_THAT(ErrorOf([&] { ints.requires_grad_(); }),
              HasSubstr("requires_grad_: only floating tensors can require grad, got i32[2]"));
  EXPECT_FALSE(ints.requires_grad());
  EXPECT_THAT(ErrorOf([&] { ints.grad(); }),
              HasSubstr("grad: the tensor i32[2] does not require grad"));
  Tensor x = Param({1, 2}, {2});
  Tensor y = mul(x, x);
  EXPECT_THAT(ErrorOf([&] { y.grad(); }), HasSubstr("is the result of mul, not a leaf"));
  EXPECT_THAT(ErrorOf([&] { y.requires_grad_(false); }), HasSubstr("only leaves can change"));
  EXPECT_THAT(ErrorOf([&] { x.set_grad(Tensor::from_vector<float>({1}, {1})); }),
              HasSubstr("set_grad: the gradient f32[1] does not match the tensor f32[2]"));
  EXPECT_THAT(ErrorOf([] { Tensor().backward(); }), HasSubstr("undefined"));
}

TEST(AutogradTest, ParametersAreUpdatedInPlaceOnlyWithoutGrad) {
  Tensor w = Param({1, 2}, {2});
  sum(mul(w, w)).backward();
  EXPECT_THAT(ErrorOf([&] { w.assign_(sub(w, w.grad())); }),
              HasSubstr("update parameters under kiln::NoGradGuard"));
  {
    NoGradGuard no_grad;
    w.assign_(sub(w, mul(w.grad(), 0.25)));
  }
  EXPECT_TRUE(w.is_leaf());
  EXPECT_TRUE(w.requires_grad());
  EXPECT_THAT(w.to_vector<float>(), Near({0.5f, 1}));
}

TEST(AutogradTest, AssigningADifferentiableValueCarriesItsGradient) {
  Tensor x = Param({1, 2}, {2});
  Tensor y = Tensor::from_vector<float>({0, 0}, {2});
  y.assign_(mul(x, 3.0));
  EXPECT_TRUE(y.requires_grad());
  sum(y).backward();
  EXPECT_THAT(x.grad().to_vector<float>(), Near({3, 3}));
  // A later assignment without gradient replaces the value and drops the old path.
  y.assign_(Tensor::from_vector<float>({5, 5}, {2}));
  EXPECT_FALSE(y.requires_grad());
}

TEST(AutogradTest, LongChainsBackwardAndFreeWithoutDeepRecursion) {
  Tensor x = Param({1.0f}, {1});
  Tensor y = x;
  for (int i = 0; i < 200000; ++i) y = add(y, 1.0);
  sum(y).backward();
  y = Tensor();  // frees 200k GradNodes and IR nodes
  EXPECT_THAT(x.grad().to_vector<float>(), Near({1}));
}

// x @ W^T (a Linear layer): W's gradient is the product g^T x, which has W's own shape,
// under the two transposes that cancel; not x^T g (W^T's shape) transposed.
TEST(AutogradTest, TransposedMatmulOperandGradientIsComputedInItsOwnLayout) {
  Tensor w = full_data({3, 5}, 0.25);
  w.requires_grad_();
  Tensor x = full_data({4, 5}, 0.5);
  sum(matmul(x, transpose(w, 0, 1))).backward();
  Value v = w.grad().value();
  int views = 0;
  while (v.node->op() == OpKind::kPermute) {
    v = v.node->operand(0);
    ++views;
  }
  EXPECT_EQ(views, 2);
  ASSERT_EQ(v.node->op(), OpKind::kMatmul);
  EXPECT_THAT(v.node->shape().sizes(), ::testing::ElementsAre(3, 5));
}

// A composite with its own backward (RecordCustomGradient): its intermediates record no
// gradient, its formula runs over the saved values, and the graph is freed like any other.
TEST(AutogradTest, CustomGradientReplacesTheCompositesOwnOps) {
  Tensor x = Param({1, -2, 3}, {3});
  Tensor y;
  {
    NoGradGuard no_grad;
    y = mul(exp(x), 2.0);  // 2 e^x
  }
  EXPECT_FALSE(y.requires_grad());
  const Tensor* inputs[] = {&x};
  int calls = 0;
  autograd::RecordCustomGradient(inputs, y, {y},
                                 [&calls](const std::vector<Tensor>& saved, const Tensor& g) {
                                   ++calls;
                                   return std::vector<Tensor>{mul(saved[0], g)};  // d/dx = y
                                 });
  EXPECT_TRUE(y.requires_grad());
  Tensor loss = sum(mul(y, 0.5));
  loss.backward();
  EXPECT_EQ(calls, 1);
  EXPECT_THAT(x.grad().to_vector<float>(), Near({std::exp(1.0f), std::exp(-2.0f), std::exp(3.0f)}));
  EXPECT_THAT(ErrorOf([&] { loss.backward(); }), HasSubstr("retain_graph=true"));
}

TEST(AutogradTest, CustomGradientIsNotRecordedWithoutGradMode) {
  Tensor x = Param({1, 2}, {2});
  Tensor frozen = Tensor::from_vector<float>({1, 2}, {2});
  const auto record = [](const Tensor& in, const Tensor& out) {
    const Tensor* inputs[] = {&in};
    autograd::RecordCustomGradient(
        inputs, out, {out}, [](const auto&, const Tensor& g) { return std::vector<Tensor>{g}; });
  };
  Tensor y = exp(frozen.detach());
  record(frozen, y);  // no input requires grad
  EXPECT_FALSE(y.requires_grad());
  NoGradGuard no_grad;
  Tensor z = exp(x.detach());
  record(x, z);
  EXPECT_FALSE(z.requires_grad());
}

TEST(AutogradTest, CustomGradientOfTheWrongShapeIsAnError) {
  Tensor x = Param({1, 2}, {2});
  Tensor y = exp(x.detach());
  const Tensor* inputs[] = {&x};
  autograd::RecordCustomGradient(
      inputs, y, {}, [](const auto&, const Tensor& g) { return std::vector<Tensor>{sum(g)}; });
  EXPECT_THAT(ErrorOf([&] { sum(y).backward(); }),
              HasSubstr("(a composite): the gradient of operand 0 is f32[], expected f32[2]"));
}

// softmax and masked_softmax record softmax's own backward: x's gradient is
// p * (g - sum(g * p)), computed from the output p (not from the exponentials and their
// sum, which the forward then need not keep).
TEST(AutogradTest, SoftmaxGradientIsComputedFromItsOutput) {
  Tensor x = Param({1, -2, 3, 0.5f, 0, 2}, {2, 3});
  Tensor mask = gt(Tensor::from_vector<float>({1, 1, 0, 0, 0, 0}, {2, 3}), 0.5);
  for (bool masked : {false, true}) {
    x.zero_grad();
    Tensor p = masked ? nn::masked_softmax(x, mask, 1) : softmax(x, 1);
    Tensor g = Tensor::from_vector<float>({0.3f, -1, 2, 1, 0.5f, -0.25f}, {2, 3});
    sum(mul(p, g)).backward();
    const Value grad = x.grad().value();
    ASSERT_EQ(grad.node->op(), OpKind::kMul);
    EXPECT_EQ(grad.node->operand(0).node, p.value().node) << (masked ? "masked" : "plain");
    const std::vector<float> pv = p.to_vector<float>();
    const std::vector<float> gv = g.to_vector<float>();
    std::vector<float> want(6);
    for (int r = 0; r < 2; ++r) {
      float dot = 0;
      for (int c = 0; c < 3; ++c) dot += pv[r * 3 + c] * gv[r * 3 + c];
      for (int c = 0; c < 3; ++c) want[r * 3 + c] = pv[r * 3 + c] * (gv[r * 3 + c] - dot);
    }
    EXPECT_THAT(x.grad().to_vector<float>(), Near(want));
  }
}

}  // namespace
}  // namespace kiln
