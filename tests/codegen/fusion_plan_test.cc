// The fusion planner on hand-written IR (exact kernel counts per pattern) and on real
// graphs traced through the lazy API (invariants; the plans are printed for reading).
#include "codegen/fusion_plan.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <iostream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "ir/ir_text.h"
#include "lazy/autograd.h"
#include "lazy/composite_ops.h"
#include "lazy/creation.h"
#include "lazy/generator.h"
#include "lazy/nn_attention.h"
#include "lazy/nn_loss.h"
#include "lazy/nn_mlp.h"
#include "lazy/ops.h"
#include "lazy/optim_sgd.h"
#include "util/check.h"

namespace kiln::codegen {
namespace {

// Plans `graph`, checks the invariants and prints the plan when KILN_TEST_PRINT is on.
FusionPlan PlanAndVerify(const Graph& graph) {
  FusionPlan plan = PlanFusion(graph);
  const absl::Status status = VerifyFusionPlan(graph, plan);
  EXPECT_TRUE(status.ok()) << status << "\n" << PrintGraph(graph) << plan.ToString(graph);
  return plan;
}

Graph Trace(const std::vector<Tensor>& outputs) {
  std::vector<Value> values;
  for (const Tensor& t : outputs) values.push_back(t.value());
  return Graph::Build(values);
}

Tensor Input(std::vector<int64_t> sizes, bool requires_grad = false) {
  Tensor t = full_data(sizes, 0.5);
  if (requires_grad) t.requires_grad_();
  return t;
}

Graph Parse(const std::string& text) {
  absl::StatusOr<Graph> graph = ParseGraph(text);
  KILN_CHECK(graph.ok()) << graph.status() << "\n" << text;
  return *std::move(graph);
}

int CountKind(const FusionPlan& plan, KernelKind kind) {
  int count = 0;
  for (const Kernel& k : plan.kernels) count += k.kind == kind;
  return count;
}

// The kernel that has position `p` as a member (the first, for recomputed nodes).
const Kernel* KernelOf(const FusionPlan& plan, int p) {
  for (const Kernel& k : plan.kernels) {
    if (std::find(k.nodes.begin(), k.nodes.end(), p) != k.nodes.end()) return &k;
  }
  return nullptr;
}

int KernelsWithMember(const FusionPlan& plan, int p) {
  int count = 0;
  for (const Kernel& k : plan.kernels) {
    count += std::find(k.nodes.begin(), k.nodes.end(), p) != k.nodes.end();
  }
  return count;
}

bool Stored(const FusionPlan& plan, int p) {
  for (const Kernel& k : plan.kernels) {
    if (std::find(k.stores.begin(), k.stores.end(), p) != k.stores.end()) return true;
  }
  return false;
}

TEST(FusionPlanDumpTest, Composites) {
  Tensor x = Input({4, 16}, true);
  Tensor w = Input({16}, true);
  Tensor b = Input({16}, true);
  for (const auto& [name, y] :
       std::vector<std::pair<std::string, Tensor>>{{"softmax", softmax(x, 1)},
                                                   {"log_softmax", log_softmax(x, 1)},
                                                   {"layer_norm", layer_norm(x, w, b)},
                                                   {"gelu", gelu(x, GeluApproximation::kTanh)}}) {
    Graph g = Trace({y});
    std::cout << "== " << name << "\n" << PrintGraph(g) << PlanFusion(g).ToString(g);
  }
}

TEST(FusionPlanTest, ElementwiseChainThenLayerNormIsOneRowKernel) {
  Graph g = Parse(R"(graph {
  %0 = f32[8,32] device_data()
  %1 = f32[32] device_data()
  %2 = f32[8,32] add(%0, %1)
  %3 = f32[] scalar()
  %4 = f32[8,32] mul(%2, %3)
  %5 = f32[8,32] device_data()
  %6 = f32[8,32] add(%4, %5)
  %7 = f32[8,1] mean(%6) dims=[1] keepdim=true
  %8 = f32[8,32] sub(%6, %7)
  %9 = f32[8,32] mul(%8, %8)
  %10 = f32[8,1] mean(%9) dims=[1] keepdim=true
  %11 = f32[] constant() value=1.0000000000000001e-05 dtype=f32
  %12 = f32[8,1] add(%10, %11)
  %13 = f32[8,1] rsqrt(%12)
  %14 = f32[8,32] mul(%8, %13)
  %15 = f32[8,32] mul(%14, %1)
  %16 = f32[8,32] add(%15, %1)
  return (%16, %6)
})");
  FusionPlan plan = PlanAndVerify(g);
  ASSERT_EQ(plan.kernels.size(), 1u) << plan.ToString(g);
  EXPECT_EQ(plan.kernels[0].kind, KernelKind::kRow);
  EXPECT_EQ(plan.kernels[0].stores, (std::vector<int>{6, 16}));  // the residual and y
  EXPECT_EQ(plan.kernels[0].loads, (std::vector<int>{0, 1, 3, 5}));
}

TEST(FusionPlanTest, BiasGeluMulIsOneKernel) {
  for (GeluApproximation approx : {GeluApproximation::kTanh, GeluApproximation::kNone}) {
    Tensor x = Input({4, 16});
    Tensor b = Input({16});
    Tensor s = Input({4, 16});
    Graph g = Trace({mul(gelu(add(x, b), approx), s)});
    FusionPlan plan = PlanAndVerify(g);
    ASSERT_EQ(plan.kernels.size(), 1u) << plan.ToString(g);
    EXPECT_EQ(plan.kernels[0].kind, KernelKind::kElementwise);
    EXPECT_EQ(plan.kernels[0].loads.size(), 3u);
  }
}

TEST(FusionPlanTest, SoftmaxAndLogSoftmaxAreOneRowKernel) {
  Tensor x = Input({4, 16});
  for (const Tensor& y : {softmax(x, 1), log_softmax(x, 1), softmax(x, 0)}) {
    Graph g = Trace({y});
    FusionPlan plan = PlanAndVerify(g);
    ASSERT_EQ(plan.kernels.size(), 1u) << plan.ToString(g);
    EXPECT_EQ(plan.kernels[0].kind, KernelKind::kRow);
    EXPECT_EQ(plan.kernels[0].stores.size(), 1u);
  }
}

TEST(FusionPlanTest, SoftmaxBackwardJoinsTheForwardRowKernel) {
  Tensor x = Input({4, 16}, true);
  Tensor dy = Input({4, 16});
  Tensor y = softmax(x, 1);
  sum(mul(y, dy)).backward();
  Graph g = Trace({y, x.grad()});
  FusionPlan plan = PlanAndVerify(g);
  std::cout << PrintGraph(g) << plan.ToString(g);
  EXPECT_EQ(plan.kernels.size(), 1u) << plan.ToString(g);
}

TEST(FusionPlanTest, LayerNormBackwardIsAtMostTwoKernels) {
  Tensor x = Input({2, 4, 16}, true);
  Tensor w = Input({16}, true);
  Tensor b = Input({16}, true);
  Tensor dy = Input({2, 4, 16});
  Tensor y = layer_norm(x, w, b);
  sum(mul(y, dy)).backward();
  Graph g = Trace({y, x.grad(), w.grad(), b.grad()});
  FusionPlan plan = PlanAndVerify(g);
  std::cout << PrintGraph(g) << plan.ToString(g);
  EXPECT_LE(plan.kernels.size(), 2u) << plan.ToString(g);
  EXPECT_EQ(CountKind(plan, KernelKind::kRow), static_cast<int>(plan.kernels.size()));
}

TEST(FusionPlanTest, TanhGeluBackwardRecomputesTanhInsteadOfStoringIt) {
  // An MLP: h = x @ w1, y = gelu(h) into a second matmul z = y @ w2, whose square is
  // the loss, so the backward of gelu comes after z. The forward stores y (the second
  // matmul's operand) but not tanh(...): the backward recomputes it from h.
  Tensor x = Input({8, 16});
  Tensor w1 = Input({16, 32}, true);
  Tensor w2 = Input({32, 4}, true);
  Tensor y = gelu(matmul(x, w1), GeluApproximation::kTanh);
  Tensor z = matmul(y, w2);
  sum(mul(z, z)).backward();
  Graph g = Trace({w1.grad(), w2.grad()});
  FusionPlan plan = PlanAndVerify(g);
  const auto& order = g.post_order();
  int kernels_with_tanh = 0;
  for (const Kernel& k : plan.kernels) {
    for (int p : k.stores) EXPECT_NE(order[p]->op(), OpKind::kTanh) << plan.ToString(g);
    kernels_with_tanh += std::any_of(k.nodes.begin(), k.nodes.end(),
                                     [&](int p) { return order[p]->op() == OpKind::kTanh; });
  }
  EXPECT_EQ(kernels_with_tanh, 2) << plan.ToString(g);
}

TEST(FusionPlanTest, TanhGeluOfALinearStoresTanhButNotTheBiasedInput) {
  // As above with a bias, x = h + b: the forward stores tanh(...) and y, not x; the
  // backward loads h and tanh and adds the bias itself. tanh's chain from h is nine ops
  // (x is used three times but counted once), one over the limit.
  Tensor x = Input({8, 16});
  Tensor w1 = Input({16, 32}, true);
  Tensor b1 = Input({32}, true);
  Tensor w2 = Input({32, 4}, true);
  Tensor y = gelu(add(matmul(x, w1), b1), GeluApproximation::kTanh);
  Tensor z = matmul(y, w2);
  sum(mul(z, z)).backward();
  Graph g = Trace({w1.grad(), b1.grad(), w2.grad()});
  FusionPlan plan = PlanAndVerify(g);
  const auto& order = g.post_order();
  int kernels_with_tanh = 0;
  int stored_tanh = 0;
  for (const Kernel& k : plan.kernels) {
    kernels_with_tanh += std::any_of(k.nodes.begin(), k.nodes.end(),
                                     [&](int p) { return order[p]->op() == OpKind::kTanh; });
    for (int p : k.stores) {
      const Node& n = *order[p];
      stored_tanh += n.op() == OpKind::kTanh;
      const bool adds_to_a_matmul =
          n.op() == OpKind::kAdd && n.operand(0).node->op() == OpKind::kMatmul;  // h + b
      EXPECT_FALSE(adds_to_a_matmul) << plan.ToString(g);
    }
  }
  EXPECT_EQ(stored_tanh, 1) << plan.ToString(g);
  EXPECT_EQ(kernels_with_tanh, 1) << plan.ToString(g);
}

TEST(FusionPlanTest, LongElementwiseChainIsOneKernel) {
  std::string text = "graph {\n  %0 = f32[64,64] device_data()\n  %1 = f32[64] device_data()\n";
  constexpr int kOps = 50;
  const char* ops[] = {"add", "mul", "sub", "maximum"};
  for (int i = 0; i < kOps; ++i) {
    const int p = i + 2;
    if (i % 5 == 4) {
      absl::StrAppend(&text, "  %", p, " = f32[64,64] tanh(%", p - 1, ")\n");
    } else {
      absl::StrAppend(&text, "  %", p, " = f32[64,64] ", ops[i % 4], "(%", i == 0 ? 0 : p - 1,
                      ", %", i % 2 == 0 ? 1 : 0, ")\n");
    }
  }
  absl::StrAppend(&text, "  return (%", kOps + 1, ")\n}\n");
  Graph g = Parse(text);
  FusionPlan plan = PlanAndVerify(g);
  ASSERT_EQ(plan.kernels.size(), 1u) << plan.ToString(g);
  EXPECT_EQ(plan.kernels[0].nodes.size(), static_cast<size_t>(kOps));
  EXPECT_EQ(plan.kernels[0].stores, (std::vector<int>{kOps + 1}));
}

TEST(FusionPlanTest, MatmulBiasGeluIsTwoKernels) {
  Tensor x = Input({8, 32});
  Tensor w = Input({32, 64});
  Tensor b = Input({64});
  Graph g = Trace({gelu(add(matmul(x, w), b), GeluApproximation::kTanh)});
  FusionPlan plan = PlanAndVerify(g);
  ASSERT_EQ(plan.kernels.size(), 2u) << plan.ToString(g);
  EXPECT_EQ(plan.kernels[0].kind, KernelKind::kMatmul);
  EXPECT_EQ(plan.kernels[0].boundary, "matmul runs in BLAS");
  EXPECT_EQ(plan.kernels[1].kind, KernelKind::kElementwise);
  EXPECT_EQ(plan.kernels[1].loads.size(), 2u);  // the product and the bias
}

TEST(FusionPlanTest, TransposedMatmulOperandIsAFlagNotACopy) {
  Graph g = Parse(R"(graph {
  %0 = f32[8,32] device_data()
  %1 = f32[64,32] device_data()
  %2 = f32[32,64] permute(%1) perm=[1,0]
  %3 = f32[8,64] matmul(%0, %2)
  %4 = f32[8,64] tanh(%3)
  %5 = f32[64,8] permute(%4) perm=[1,0]
  %6 = f32[64,32] matmul(%5, %0)
  return (%6)
})");
  FusionPlan plan = PlanAndVerify(g);
  ASSERT_EQ(plan.kernels.size(), 3u) << plan.ToString(g);
  EXPECT_EQ(plan.kernels[0].nodes, (std::vector<int>{2, 3}));
  EXPECT_EQ(plan.kernels[0].loads, (std::vector<int>{0, 1}));
  EXPECT_EQ(plan.kernels[1].stores, (std::vector<int>{4}));  // tanh, not its transpose
  EXPECT_EQ(plan.kernels[2].nodes, (std::vector<int>{5, 6}));
  EXPECT_EQ(plan.kernels[2].loads, (std::vector<int>{0, 4}));
  EXPECT_FALSE(Stored(plan, 2));
  EXPECT_FALSE(Stored(plan, 5));
}

TEST(FusionPlanTest, NodeUsedByReductionsOverDifferentDims) {
  Graph g = Parse(R"(graph {
  %0 = f32[8,32] device_data()
  %1 = f32[8,32] exp(%0)
  %2 = f32[8] sum(%1) dims=[1] keepdim=false
  %3 = f32[32] sum(%1) dims=[0] keepdim=false
  return (%2, %3)
})");
  FusionPlan plan = PlanAndVerify(g);
  std::cout << plan.ToString(g);
  ASSERT_EQ(plan.kernels.size(), 2u) << plan.ToString(g);
  EXPECT_EQ(CountKind(plan, KernelKind::kRow), 2);
  // exp is one op on a parameter: recomputed in both reductions' prologues, not stored.
  EXPECT_EQ(KernelsWithMember(plan, 1), 2);
  EXPECT_FALSE(Stored(plan, 1));
}

TEST(FusionPlanTest, ExpensiveNodeUsedByReductionsOverDifferentDimsIsStoredOnce) {
  Graph g = Parse(R"(graph {
  %0 = f32[8,32] device_data()
  %1 = f32[8,32] exp(%0)
  %2 = f32[8,32] tanh(%1)
  %3 = f32[8,32] sin(%2)
  %4 = f32[8,32] cos(%3)
  %5 = f32[8,32] erf(%4)
  %6 = f32[8] sum(%5) dims=[1] keepdim=false
  %7 = f32[32] sum(%5) dims=[0] keepdim=false
  return (%6, %7)
})");
  FusionPlan plan = PlanAndVerify(g);
  ASSERT_EQ(plan.kernels.size(), 2u) << plan.ToString(g);
  EXPECT_EQ(KernelsWithMember(plan, 5), 1);
  EXPECT_TRUE(Stored(plan, 5));
  EXPECT_EQ(plan.kernels[1].loads, (std::vector<int>{5}));
}

TEST(FusionPlanTest, MultiUseRecomputeRule) {
  // %2 (two ops on parameters) is recomputed by its users in two kernels; %4 reads a
  // reduction's result, so it is computed once and stored for the other kernel.
  Graph g = Parse(R"(graph {
  %0 = f32[8,32] device_data()
  %1 = f32[8,32] exp(%0)
  %2 = f32[8,32] neg(%1)
  %3 = f32[8,1] max(%2) dims=[1] keepdim=true
  %4 = f32[8,32] sub(%2, %3)
  %5 = f32[32] sum(%4) dims=[0] keepdim=false
  %6 = f32[8,32] mul(%4, %0)
  %7 = f32[32] sum(%2) dims=[0] keepdim=false
  return (%5, %6, %7)
})");
  FusionPlan plan = PlanAndVerify(g);
  std::cout << plan.ToString(g);
  EXPECT_FALSE(Stored(plan, 2));
  EXPECT_GE(KernelsWithMember(plan, 2), 2);
  EXPECT_TRUE(Stored(plan, 4));
  EXPECT_EQ(KernelsWithMember(plan, 4), 1);
}

TEST(FusionPlanTest, ShortChainOverOneStoredResultIsRecomputedByItsReaders) {
  // %4 is one op on the matmul's result: each kernel that reads it loads %2 and
  // recomputes %4 rather than have %4 stored as well (a forward activation saved for
  // the backward pass).
  Graph g = Parse(R"(graph {
  %0 = f32[8,32] device_data()
  %1 = f32[32,32] device_data()
  %2 = f32[8,32] matmul(%0, %1)
  %3 = f32[] scalar()
  %4 = f32[8,32] mul(%2, %3)
  %5 = f32[8,32] tanh(%4)
  %6 = f32[8] sum(%4) dims=[1] keepdim=false
  %7 = f32[32] sum(%4) dims=[0] keepdim=false
  return (%5, %6, %7)
})");
  FusionPlan plan = PlanAndVerify(g);
  EXPECT_FALSE(Stored(plan, 4)) << plan.ToString(g);
  EXPECT_GE(KernelsWithMember(plan, 4), 2) << plan.ToString(g);
  EXPECT_TRUE(Stored(plan, 2));
}

TEST(FusionPlanTest, BiasAddedToAStoredResultIsRecomputedByItsReaders) {
  // %4 = matmul + bias, read by two kernels: each loads the matmul's %2 and the small
  // bias %3 and adds them itself. %9 adds a parameter as large as %2 instead: recomputing
  // it would have each reader load both, so it is stored.
  Graph g = Parse(R"(graph {
  %0 = f32[16,32] device_data()
  %1 = f32[32,32] device_data()
  %2 = f32[16,32] matmul(%0, %1)
  %3 = f32[32] device_data()
  %4 = f32[16,32] add(%2, %3)
  %5 = f32[16,32] tanh(%4)
  %6 = f32[16] sum(%4) dims=[1] keepdim=false
  %7 = f32[32] sum(%4) dims=[0] keepdim=false
  %8 = f32[16,32] device_data()
  %9 = f32[16,32] add(%2, %8)
  %10 = f32[16,32] tanh(%9)
  %11 = f32[16] sum(%9) dims=[1] keepdim=false
  %12 = f32[32] sum(%9) dims=[0] keepdim=false
  return (%5, %6, %7, %10, %11, %12)
})");
  FusionPlan plan = PlanAndVerify(g);
  EXPECT_FALSE(Stored(plan, 4)) << plan.ToString(g);
  EXPECT_GE(KernelsWithMember(plan, 4), 2) << plan.ToString(g);
  EXPECT_TRUE(Stored(plan, 9)) << plan.ToString(g);
  EXPECT_EQ(KernelsWithMember(plan, 9), 1) << plan.ToString(g);
}

TEST(FusionPlanTest, ResultReadOnlyThroughARecomputedChainIsStored) {
  // %3 reads only the reduction %1 and is recomputed in the row kernel of %1 and in the
  // kernel of %5; that second kernel loads %1, so %1 is stored although every user of it
  // is a member of its own kernel.
  Graph g = Parse(R"(graph {
  %0 = f32[8,32] device_data()
  %1 = f32[8,1] sum(%0) dims=[1] keepdim=true
  %2 = f32[] scalar()
  %3 = f32[8,1] mul(%1, %2)
  %4 = f32[8,32] add(%0, %3)
  %5 = f32[1,1] sum(%3) dims=[0] keepdim=true
  return (%4, %5)
})");
  FusionPlan plan = PlanAndVerify(g);  // every load is a parameter or an earlier store
  EXPECT_TRUE(Stored(plan, 1)) << plan.ToString(g);
  EXPECT_EQ(KernelsWithMember(plan, 3), 2) << plan.ToString(g);
}

TEST(FusionPlanTest, ViewsInsideAChainAreOneKernel) {
  Graph g = Parse(R"(graph {
  %0 = f32[4,6] device_data()
  %1 = f32[4,6] exp(%0)
  %2 = f32[2,2,6] reshape(%1) sizes=[2,2,6]
  %3 = f32[2,6,2] permute(%2) perm=[0,2,1]
  %4 = f32[2,4,2] slice(%3) dim=1 start=1 end=5 step=1
  %5 = f32[2,6,2] pad(%4) pads=[0,0,1,1,0,0] value=0.0
  %6 = f32[2,12,2] concat(%5, %3) dim=1
  %7 = f32[3,2,12,2] expand(%6) sizes=[3,2,12,2]
  %8 = f32[3,2,12,2] neg(%7)
  return (%8)
})");
  FusionPlan plan = PlanAndVerify(g);
  ASSERT_EQ(plan.kernels.size(), 1u) << plan.ToString(g);
  EXPECT_EQ(plan.kernels[0].stores, (std::vector<int>{8}));
}

TEST(FusionPlanTest, GatherFeedingElementwiseIsOneKernel) {
  Graph g = Parse(R"(graph {
  %0 = f32[100,16] device_data()
  %1 = i64[8] device_data()
  %2 = f32[8,16] index_select(%0, %1) dim=0
  %3 = f32[8,16] device_data()
  %4 = f32[8,16] add(%2, %3)
  %5 = i64[8,1] reshape(%1) sizes=[8,1]
  %6 = f32[8,1] gather(%4, %5) dim=1
  %7 = f32[8,1] exp(%6)
  return (%7, %4)
})");
  FusionPlan plan = PlanAndVerify(g);
  std::cout << plan.ToString(g);
  EXPECT_EQ(plan.kernels.size(), 2u) << plan.ToString(g);
  EXPECT_EQ(KernelsWithMember(plan, 2), 1);
}

TEST(FusionPlanTest, GatherIntoAnElementwiseOpIsOneKernel) {
  Graph g = Parse(R"(graph {
  %0 = f32[100,16] device_data()
  %1 = i64[8] device_data()
  %2 = f32[8,16] index_select(%0, %1) dim=0
  %3 = f32[16] device_data()
  %4 = f32[8,16] mul(%2, %3)
  return (%4)
})");
  FusionPlan plan = PlanAndVerify(g);
  ASSERT_EQ(plan.kernels.size(), 1u) << plan.ToString(g);
  EXPECT_EQ(plan.kernels[0].nodes, (std::vector<int>{2, 4}));
}

TEST(FusionPlanTest, ScatterAddIsItsOwnKernelAndComputesItsOperands) {
  // The src (exp) and index (an expanded column, as index_select's gradient makes it)
  // are computed where the scatter reads them rather than stored first.
  Graph g = Parse(R"(graph {
  %0 = f32[100,16] device_data()
  %1 = i64[8,1] device_data()
  %2 = i64[8,16] expand(%1) sizes=[8,16]
  %3 = f32[8,16] device_data()
  %4 = f32[8,16] exp(%3)
  %5 = f32[100,16] scatter_add(%0, %2, %4) dim=0
  %6 = f32[100,16] mul(%5, %0)
  return (%6)
})");
  FusionPlan plan = PlanAndVerify(g);
  ASSERT_EQ(plan.kernels.size(), 2u) << plan.ToString(g);
  EXPECT_EQ(plan.kernels[0].kind, KernelKind::kScatterAdd);
  EXPECT_EQ(plan.kernels[0].nodes, (std::vector<int>{2, 4, 5}));
  EXPECT_EQ(plan.kernels[0].loads, (std::vector<int>{0, 1, 3}));
  EXPECT_EQ(plan.kernels[1].kind, KernelKind::kElementwise);
}

TEST(FusionPlanTest, ParameterOutputsGetAStoringKernel) {
  Graph g = Parse(R"(graph {
  %0 = f32[4,8] device_data()
  %1 = f32[8,4] permute(%0) perm=[1,0]
  %2 = f32[4,8] neg(%0)
  return (%0, %1, %2)
})");
  FusionPlan plan = PlanAndVerify(g);
  std::cout << plan.ToString(g);
  EXPECT_TRUE(Stored(plan, 0));
  EXPECT_TRUE(Stored(plan, 1));
  EXPECT_TRUE(Stored(plan, 2));
  EXPECT_EQ(plan.kernels.size(), 3u);  // the copy; the transpose; neg (other sizes)
}

TEST(FusionPlanTest, ElementwiseStoresOfOtherSizesSplit) {
  Graph g = Parse(R"(graph {
  %0 = f32[8,32] device_data()
  %1 = f32[32] device_data()
  %2 = f32[32] exp(%1)
  %3 = f32[32] tanh(%2)
  %4 = f32[32] sin(%3)
  %5 = f32[32] cos(%4)
  %6 = f32[32] erf(%5)
  %7 = f32[8,32] add(%0, %6)
  return (%7, %6)
})");
  FusionPlan plan = PlanAndVerify(g);
  ASSERT_EQ(plan.kernels.size(), 2u) << plan.ToString(g);
  EXPECT_EQ(plan.kernels[0].stores, (std::vector<int>{6}));
  EXPECT_EQ(plan.kernels[1].stores, (std::vector<int>{7}));
  EXPECT_EQ(plan.kernels[0].boundary, "different loop sizes");
}

TEST(FusionPlanTest, DeterministicAndPrintable) {
  Tensor x = Input({2, 4, 16}, true);
  Tensor w = Input({16}, true);
  Tensor b = Input({16}, true);
  sum(layer_norm(x, w, b)).backward();
  Graph g = Trace({x.grad(), w.grad(), b.grad()});
  const std::string text = PlanFusion(g).ToString(g);
  EXPECT_EQ(text, PlanFusion(Parse(PrintGraph(g))).ToString(g));
  EXPECT_THAT(text, ::testing::HasSubstr("kernel 0 (row): "));
  const std::string dot = PlanFusion(g).ToDot(g);
  EXPECT_THAT(dot, ::testing::HasSubstr("subgraph cluster_0"));
  EXPECT_THAT(dot, ::testing::HasSubstr("digraph"));
}

TEST(FusionPlanRealGraphTest, MlpForwardBackwardSgd) {
  Generator gen(0);
  nn::MLP mlp(32, 64, 16, gen, GeluApproximation::kTanh);
  optim::SGD opt(mlp.parameters(), {.lr = 0.1, .momentum = 0.9});
  Tensor x = Input({8, 32});
  Tensor target = Input({8, 16});
  Tensor diff = sub(mlp.forward(x), target);
  Tensor loss = mean(mul(diff, diff));
  loss.backward();
  opt.step();
  std::vector<Tensor> outputs = {loss};
  for (const Tensor& p : mlp.parameters()) outputs.push_back(p);
  for (size_t i = 0; i < mlp.parameters().size(); ++i) {
    outputs.push_back(opt.momentum_buffer(0, i));
  }
  Graph g = Trace(outputs);
  FusionPlan plan = PlanAndVerify(g);
  std::cout << "MLP + SGD: " << g.num_nodes() << " nodes, " << plan.kernels.size() << " kernels\n"
            << PrintGraph(g) << plan.ToString(g);
  EXPECT_EQ(CountKind(plan, KernelKind::kMatmul), 5);  // 2 forward, 3 backward
}

TEST(FusionPlanRealGraphTest, AttentionWithPaddingMaskForwardBackward) {
  Generator gen(0);
  nn::MultiheadSelfAttention attn(32, 4, gen);
  Tensor x = Input({2, 6, 32}, true);
  Tensor mask = ge(arange(6), 2);
  mask = expand(reshape(mask, {1, 6}), {2, 6});
  Tensor y = attn.forward(x, mask);
  sum(mul(y, y)).backward();
  std::vector<Tensor> outputs = {y, x.grad()};
  for (const Tensor& p : attn.parameters()) outputs.push_back(p.grad());
  Graph g = Trace(outputs);
  FusionPlan plan = PlanAndVerify(g);
  std::cout << "attention: " << g.num_nodes() << " nodes, " << plan.kernels.size() << " kernels\n"
            << PrintGraph(g) << plan.ToString(g);
}
}  // namespace
}  // namespace kiln::codegen
