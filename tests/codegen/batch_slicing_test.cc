// Which kernels run one batch slice at a time (codegen/batch_slicing.h), and how their
// buffers split: attention's masked softmax and batched matmuls do; kernels that reduce
// over the batch, move it away from the front, or compute with the batch index do not.
#include "codegen/batch_slicing.h"

#include <optional>
#include <vector>

#include "codegen/fusion_plan.h"
#include "codegen/kernel_ir.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "ir/graph.h"
#include "ir/node.h"

namespace kiln::codegen {
namespace {

using ::testing::ElementsAre;

constexpr int64_t kB = 4, kH = 3, kL = 5, kD = 7;

Value Op(OpKind op, std::vector<Value> operands, Attributes attrs = {}) {
  return Value{
      Node::Create(op, Operands(operands.begin(), operands.end()), std::move(attrs)).value(), 0};
}
Value Data(DType dtype, Sizes sizes) {
  return Value{Node::CreateDeviceData(Shape(dtype, std::move(sizes)), nullptr), 0};
}
Value F32(Sizes sizes) { return Data(DType::kF32, std::move(sizes)); }
Attributes Dims(std::vector<int64_t> dims) {
  return Attributes().Set("dims", std::move(dims)).Set("keepdim", true);
}

// The graph's single kernel, lowered.
KernelIR OnlyKernel(const Graph& graph) {
  const FusionPlan plan = PlanFusion(graph);
  EXPECT_EQ(plan.kernels.size(), 1u) << plan.ToString(graph);
  return LowerKernel(graph, plan, 0).value();
}

// The stride of the buffer holding `v` (an input or the output).
int64_t StrideOf(const KernelIR& ir, const BatchSlicing& s, const Graph& graph, const Value& v) {
  const auto& order = graph.post_order();
  for (size_t b = 0; b < ir.buffers.size(); ++b) {
    if (order[ir.buffers[b].node] == v.node.get()) return s.strides[b];
  }
  ADD_FAILURE() << "no buffer holds " << v.node->ShortString();
  return -1;
}

TEST(BatchSlicingTest, MaskedSoftmaxOverScoresSlicesByBatch) {
  const Value x = F32({kB, kH, kL, kL});
  const Value mask = Data(DType::kBool, {kB, 1, 1, kL});
  const Value lowest = Value{Node::CreateScalar(DType::kF32, -1e30), 0};
  const Value masked = Op(OpKind::kWhere, {mask, x, lowest});
  const Value m = Op(OpKind::kMax, {masked}, Dims({3}));
  const Value e = Op(OpKind::kExp, {Op(OpKind::kSub, {masked, m})});
  const Value p = Op(OpKind::kDiv, {e, Op(OpKind::kSum, {e}, Dims({3}))});
  const Graph graph = Graph::Build({p});
  const KernelIR ir = OnlyKernel(graph);
  const std::optional<BatchSlicing> s = SliceByBatch(ir);
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->slices, kB);
  EXPECT_GE(s->size_symbol, 0);
  EXPECT_EQ(ir.size_values[s->size_symbol], kB);
  EXPECT_EQ(StrideOf(ir, *s, graph, x), kH * kL * kL);
  EXPECT_EQ(StrideOf(ir, *s, graph, mask), kL);
  EXPECT_EQ(StrideOf(ir, *s, graph, p), kH * kL * kL);
}

TEST(BatchSlicingTest, BatchedMatmulSlicesAndReadsABroadcastOperandWhole) {
  const Value a = F32({kB, kH, kL, kD});
  const Value b = F32({kD, kL});
  const Value out = Op(OpKind::kMatmul, {a, b});
  const Graph graph = Graph::Build({out});
  const KernelIR ir = OnlyKernel(graph);
  ASSERT_TRUE(ir.nests.empty());
  const std::optional<BatchSlicing> s = SliceByBatch(ir);
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->slices, kB);
  EXPECT_EQ(s->size_symbol, -1);
  EXPECT_EQ(StrideOf(ir, *s, graph, a), kH * kL * kD);
  EXPECT_EQ(StrideOf(ir, *s, graph, b), 0);
  EXPECT_EQ(StrideOf(ir, *s, graph, out), kH * kL * kL);

  const MatmulCall slice = SliceMatmul(ir.matmuls[0], kB);
  EXPECT_THAT(slice.out_shape, ElementsAre(1, kH, kL, kL));
  EXPECT_THAT(slice.a_shape, ElementsAre(1, kH, kL, kD));
  EXPECT_THAT(slice.b_shape, ElementsAre(kD, kL));
}

TEST(BatchSlicingTest, MatmulWithoutBatchDimensionsDoesNotSlice) {
  const Graph graph = Graph::Build({Op(OpKind::kMatmul, {F32({kL, kD}), F32({kD, kL})})});
  EXPECT_FALSE(SliceByBatch(OnlyKernel(graph)).has_value());
}

TEST(BatchSlicingTest, ReductionOverTheBatchDoesNotSlice) {
  const Value x = F32({kB, kH, kL});
  const Graph graph = Graph::Build({Op(OpKind::kSum, {Op(OpKind::kExp, {x})}, Dims({0}))});
  EXPECT_FALSE(SliceByBatch(OnlyKernel(graph)).has_value());
}

TEST(BatchSlicingTest, BatchMovedAwayFromTheFrontDoesNotSlice) {
  const Value x = F32({kB, kH, kL});
  const Value moved = Op(OpKind::kPermute, {Op(OpKind::kExp, {x})},
                         Attributes().Set("perm", std::vector<int64_t>{1, 0, 2}));
  EXPECT_FALSE(SliceByBatch(OnlyKernel(Graph::Build({moved}))).has_value());
}

TEST(BatchSlicingTest, ValueComputedFromTheBatchIndexDoesNotSlice) {
  // x + arange(B) broadcast over the rest: a slice would see index 0 for every element.
  const Value x = F32({kB, kH});
  const Value index =
      Op(OpKind::kArange, {},
         Attributes().Set("start", 0.0).Set("step", 1.0).Set("size", kB).Set("dtype", DType::kF32));
  const Value column =
      Op(OpKind::kReshape, {index}, Attributes().Set("sizes", std::vector<int64_t>{kB, 1}));
  const Graph graph = Graph::Build({Op(OpKind::kAdd, {x, column})});
  EXPECT_FALSE(SliceByBatch(OnlyKernel(graph)).has_value());
}

TEST(BatchSlicingTest, ElementwiseOverTheBatchSlices) {
  // The control for the cases above: the same kernel shapes with the batch in front.
  const Value x = F32({kB, kH, kL});
  const Value y = F32({kB, 1, kL});
  const Value out = Op(OpKind::kMul, {Op(OpKind::kExp, {x}), y});
  const Graph graph = Graph::Build({out});
  const KernelIR ir = OnlyKernel(graph);
  const std::optional<BatchSlicing> s = SliceByBatch(ir);
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(StrideOf(ir, *s, graph, x), kH * kL);
  EXPECT_EQ(StrideOf(ir, *s, graph, y), kL);
  EXPECT_EQ(StrideOf(ir, *s, graph, out), kH * kL);
}

}  // namespace
}  // namespace kiln::codegen
