// The C++ emitter: source text depends only on the plan's structure and the size-1
// dimensions, so graphs that differ only in batch or sequence sizes share one compiled
// library.
#include "codegen/cpp_emitter.h"

#include <string>
#include <vector>

#include "codegen/fusion_plan.h"
#include "codegen/kernel_ir.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "ir/graph.h"
#include "ir/node.h"

namespace kiln::codegen {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

Value Op(OpKind op, std::vector<Value> operands, Attributes attrs = {}) {
  return Value{
      Node::Create(op, Operands(operands.begin(), operands.end()), std::move(attrs)).value(), 0};
}
Attributes Dims(std::vector<int64_t> dims) {
  return Attributes().Set("dims", std::move(dims)).Set("keepdim", true);
}

// softmax over the last dimension of f32[batch, 384], then a linear layer and tanh.
Graph SoftmaxMlp(int64_t batch) {
  Value x = Value{Node::CreateDeviceData(Shape(DType::kF32, {batch, 384}), nullptr), 0};
  Value w = Value{Node::CreateDeviceData(Shape(DType::kF32, {384, 64}), nullptr), 0};
  Value m = Op(OpKind::kMax, {x}, Dims({1}));
  Value e = Op(OpKind::kExp, {Op(OpKind::kSub, {x, m})});
  Value s = Op(OpKind::kSum, {e}, Dims({1}));
  Value p = Op(OpKind::kDiv, {e, s});
  Value y = Op(OpKind::kTanh, {Op(OpKind::kMatmul, {p, w})});
  return Graph::Build({y});
}

std::string SourceOf(const Graph& graph) {
  const FusionPlan plan = PlanFusion(graph);
  std::vector<KernelIR> kernels;
  for (int k = 0; k < static_cast<int>(plan.kernels.size()); ++k) {
    kernels.push_back(LowerKernel(graph, plan, k).value());
  }
  return EmitCppSource(kernels);
}

// One attention head group over x f32[batch, len, 64]: a projection (reshape to rows,
// matmul), a split into 4 heads of 16, scores [batch, 4, len, len] with a softmax over the
// keys, and x centred over its last dimension (layer_norm's first step).
std::vector<Value> AttentionLike(int64_t batch, int64_t len) {
  Value x = Value{Node::CreateDeviceData(Shape(DType::kF32, {batch, len, 64}), nullptr), 0};
  Value w = Value{Node::CreateDeviceData(Shape(DType::kF32, {64, 64}), nullptr), 0};
  Value rows =
      Op(OpKind::kReshape, {x}, Attributes().Set("sizes", std::vector<int64_t>{batch * len, 64}));
  Value y = Op(OpKind::kMatmul, {rows, w});
  Value heads =
      Op(OpKind::kReshape, {y}, Attributes().Set("sizes", std::vector<int64_t>{batch, len, 4, 16}));
  Value q =
      Op(OpKind::kPermute, {heads}, Attributes().Set("perm", std::vector<int64_t>{0, 2, 1, 3}));
  Value kt = Op(OpKind::kPermute, {q}, Attributes().Set("perm", std::vector<int64_t>{0, 1, 3, 2}));
  Value scores = Op(OpKind::kMatmul, {q, kt});
  Value m = Op(OpKind::kMax, {scores}, Dims({3}));
  Value e = Op(OpKind::kExp, {Op(OpKind::kSub, {scores, m})});
  Value p = Op(OpKind::kDiv, {e, Op(OpKind::kSum, {e}, Dims({3}))});
  Value centred = Op(OpKind::kSub, {x, Op(OpKind::kMean, {x}, Dims({2}))});
  return {p, centred};
}

TEST(CppEmitterTest, BatchAndSequenceSizesDoNotChangeTheSource) {
  const std::string a = SourceOf(Graph::Build(AttentionLike(2, 7)));
  EXPECT_EQ(a, SourceOf(Graph::Build(AttentionLike(3, 130))));
  // The sequence length equals the head size here: still its own size symbol.
  EXPECT_EQ(a, SourceOf(Graph::Build(AttentionLike(2, 16))));
  EXPECT_EQ(SourceOf(SoftmaxMlp(32)), SourceOf(SoftmaxMlp(1000)));
  EXPECT_THAT(a, HasSubstr("= sizes["));
  EXPECT_THAT(a, Not(HasSubstr("130")));
  EXPECT_THAT(a, Not(HasSubstr("384")));
}

TEST(CppEmitterTest, SizeOneDimensionsAreSpecialised) {
  auto source = [](int64_t cols) {
    Value x = Value{Node::CreateDeviceData(Shape(DType::kF32, {6, 10}), nullptr), 0};
    Value y = Value{Node::CreateDeviceData(Shape(DType::kF32, {6, cols}), nullptr), 0};
    return SourceOf(Graph::Build({Op(OpKind::kAdd, {x, y})}));
  };
  const std::string broadcast = source(1);
  // The [6, 1] operand is read by row alone: no size or column index in its offset.
  EXPECT_THAT(broadcast, HasSubstr("= b2[i0];")) << broadcast;
  EXPECT_NE(broadcast, source(10));
}

TEST(CppEmitterTest, KernelsHaveThePlainCEntryPoint) {
  const std::string source = SourceOf(SoftmaxMlp(8));
  EXPECT_THAT(source,
              HasSubstr("extern \"C\" void kiln_k0(void* const* bufs, const int64_t* "
                        "sizes, const double* scalars, int nt, int phase, KilnError* err)"));
  EXPECT_THAT(source, HasSubstr("#pragma omp parallel for"));
}

TEST(CppEmitterTest, RowReductionIsHoistedOutOfTheElementLoop) {
  Value x = Value{Node::CreateDeviceData(Shape(DType::kF32, {4, 384}), nullptr), 0};
  Value m = Op(OpKind::kMax, {x}, Dims({1}));
  Value e = Op(OpKind::kExp, {Op(OpKind::kSub, {x, m})});
  const Graph graph = Graph::Build({e});
  FusionPlan plan;
  Kernel kernel;
  kernel.kind = KernelKind::kRow;
  for (int i = 1; i < static_cast<int>(graph.post_order().size()); ++i) kernel.nodes.push_back(i);
  kernel.stores = {static_cast<int>(graph.post_order().size()) - 1};
  kernel.loads = {0};
  plan.kernels.push_back(kernel);
  const std::string source = EmitCppKernel(LowerKernel(graph, plan, 0).value());
  // The row's max is finished (its accumulator read) before the element loop computes exp.
  const size_t max_done = source.find("= acc");
  const size_t exp = source.find("std::exp");
  ASSERT_NE(max_done, std::string::npos) << source;
  ASSERT_NE(exp, std::string::npos) << source;
  EXPECT_LT(max_done, exp) << source;
  EXPECT_EQ(source.find("kiln_rmax", exp), std::string::npos) << source;
}

}  // namespace
}  // namespace kiln::codegen
