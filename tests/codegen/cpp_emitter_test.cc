// The C++ emitter: source text depends only on the plan's structure and the size-1
// dimensions, so graphs that differ only in batch or sequence sizes share one compiled
// library.
#include "codegen/cpp_emitter.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <set>
#include <string>
#include <vector>

#include "codegen/fusion_plan.h"
#include "codegen/kernel_ir.h"
#include "codegen/kernel_numerics.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "ir/graph.h"
#include "ir/node.h"
#include "util/config.h"

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

// A Linear over [batch, len, in] tokens: x reshaped to rows times W^T. Both operands are
// views of loaded buffers (a reshape, a transpose), so the BLAS call reads the buffers
// themselves, with the transpose as a flag, and the kernel copies nothing first.
TEST(CppEmitterTest, LinearOverTokensPassesItsBuffersToBlasWithoutCopies) {
  Value x = Value{Node::CreateDeviceData(Shape(DType::kF32, {2, 3, 4}), nullptr), 0};
  Value w = Value{Node::CreateDeviceData(Shape(DType::kF32, {5, 4}), nullptr), 0};
  Value rows = Op(OpKind::kReshape, {x}, Attributes().Set("sizes", std::vector<int64_t>{6, 4}));
  Value wt = Op(OpKind::kPermute, {w}, Attributes().Set("perm", std::vector<int64_t>{1, 0}));
  const Graph graph = Graph::Build({Op(OpKind::kMatmul, {rows, wt})});
  const FusionPlan plan = PlanFusion(graph);
  ASSERT_EQ(plan.kernels.size(), 1u) << plan.ToString(graph);
  const KernelIR ir = LowerKernel(graph, plan, 0).value();
  EXPECT_TRUE(ir.nests.empty());
  ASSERT_EQ(ir.matmuls.size(), 1u);
  const MatmulCall& call = ir.matmuls[0];
  EXPECT_EQ(ir.buffers[call.a].role, BufferRole::kInput);
  EXPECT_EQ(ir.buffers[call.b].role, BufferRole::kInput);
  EXPECT_FALSE(call.transpose_a);
  EXPECT_TRUE(call.transpose_b);
  EXPECT_THAT(call.a_shape, ::testing::ElementsAre(6, 4));
  EXPECT_THAT(call.b_shape, ::testing::ElementsAre(5, 4));
}

// Attention's query gradient reads k through two transposes of the last two dimensions
// (autograd's transpose of the forward's k^T): they cancel, so BLAS reads k's buffer
// untransposed, with no copy loop. Three leave one transpose (a flag).
TEST(CppEmitterTest, TransposesOfAMatmulOperandCancelInPairs) {
  for (int transposes : {2, 3}) {
    const Sizes k_sizes = transposes == 2 ? Sizes{2, 3, 4, 6} : Sizes{2, 3, 6, 4};
    Value a = Value{Node::CreateDeviceData(Shape(DType::kF32, {2, 3, 5, 4}), nullptr), 0};
    Value b = Value{Node::CreateDeviceData(Shape(DType::kF32, k_sizes), nullptr), 0};
    for (int t = 0; t < transposes; ++t) {
      b = Op(OpKind::kPermute, {b}, Attributes().Set("perm", std::vector<int64_t>{0, 1, 3, 2}));
    }
    const Graph graph = Graph::Build({Op(OpKind::kMatmul, {a, b})});
    const FusionPlan plan = PlanFusion(graph);
    ASSERT_EQ(plan.kernels.size(), 1u) << plan.ToString(graph);
    const KernelIR ir = LowerKernel(graph, plan, 0).value();
    EXPECT_TRUE(ir.nests.empty()) << transposes << " transposes";
    ASSERT_EQ(ir.matmuls.size(), 1u);
    const MatmulCall& call = ir.matmuls[0];
    EXPECT_EQ(ir.buffers[call.b].role, BufferRole::kInput);
    EXPECT_EQ(call.transpose_b, transposes == 3);
    EXPECT_EQ(call.b_shape, k_sizes);
  }
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
  const size_t max_done = source.find("FinishNanReduction(acc");
  const size_t exp = source.find("km::ExpF");
  ASSERT_NE(max_done, std::string::npos) << source;
  ASSERT_NE(exp, std::string::npos) << source;
  EXPECT_LT(max_done, exp) << source;
  EXPECT_EQ(source.find("MaxStep", exp), std::string::npos) << source;
}

// A row's f32 sum stores its values in a block that ks::BlockSum adds up, rather than
// being an OpenMP simd reduction (whose per-lane partial sums GCC adds one by one).
TEST(CppEmitterTest, RowSumAddsItsBlockWithBlockSum) {
  const std::string source = SourceOf(SoftmaxMlp(8));
  const std::string kernels = source.substr(source.find("extern \"C\""));
  EXPECT_THAT(kernels, HasSubstr("ks::BlockSum(block"));
  EXPECT_THAT(kernels, Not(HasSubstr("reduction(+"))) << kernels;
}

// A bias gradient: dY = tanh(x) * g, stored (for a weight gradient) and summed over the
// rows, and an update of the bias by the sum.
Graph BiasGradient() {
  Value x = Value{Node::CreateDeviceData(Shape(DType::kF32, {512, 96}), nullptr), 0};
  Value g = Value{Node::CreateDeviceData(Shape(DType::kF32, {512, 96}), nullptr), 0};
  Value b = Value{Node::CreateDeviceData(Shape(DType::kF32, {96}), nullptr), 0};
  Value dy = Op(OpKind::kMul, {Op(OpKind::kTanh, {x}), g});
  Value db = Op(OpKind::kSum, {dy},
                Attributes().Set("dims", std::vector<int64_t>{0}).Set("keepdim", false));
  Value lr = Value{Node::CreateScalar(DType::kF32, 0.1), 0};
  return Graph::Build({dy, Op(OpKind::kSub, {b, Op(OpKind::kMul, {db, lr})})});
}

TEST(CppEmitterTest, ColumnSumIsOneSweepThatStoresAndSumsEachElementOnce) {
  const Graph graph = BiasGradient();
  const FusionPlan plan = PlanFusion(graph);
  ASSERT_EQ(plan.kernels.size(), 1u) << plan.ToString(graph);
  const KernelIR ir = LowerKernel(graph, plan, 0).value();
  ASSERT_EQ(ir.nests.size(), 1u);
  const LoopNest& nest = ir.nests[0];
  ASSERT_EQ(nest.kind, NestKind::kColumnReduce);
  EXPECT_EQ(nest.num_parallel, 0);
  EXPECT_EQ(nest.num_reduced, 1);
  ASSERT_EQ(nest.reductions.size(), 1u);
  // The stored dY and the summed element are one expression.
  const int body = ir.exprs[nest.reductions[0]].args[0];
  bool stored = false;
  for (const Store& st : nest.stores) stored = stored || st.value == body;
  EXPECT_TRUE(stored);
  const ColumnSchedule schedule = ScheduleColumns(ir, nest);
  EXPECT_EQ(schedule.num_sweeps, 1);
  const std::string source = EmitCppKernel(ir);
  EXPECT_THAT(source, HasSubstr("column reduction"));
  size_t tanh_calls = 0;
  for (size_t at = source.find("km::TanhF("); at != std::string::npos;
       at = source.find("km::TanhF(", at + 1)) {
    ++tanh_calls;
  }
  EXPECT_EQ(tanh_calls, 1u) << source;
}

TEST(CppEmitterTest, ArgmaxOverLeadingDimensionsKeepsPlainLoops) {
  Value x = Value{Node::CreateDeviceData(Shape(DType::kF32, {40, 30}), nullptr), 0};
  const Graph graph = Graph::Build(
      {Op(OpKind::kArgmax, {x}, Attributes().Set("dim", int64_t{0}).Set("keepdim", false))});
  const FusionPlan plan = PlanFusion(graph);
  const KernelIR ir = LowerKernel(graph, plan, 0).value();
  for (const LoopNest& nest : ir.nests) EXPECT_EQ(nest.kind, NestKind::kLoops);
}

// An 8-op elementwise chain around tanh, like bench/fusion_bench's:
// |(tanh(x * x + x) * x + x) * x - x|.
Graph TanhChain() {
  Value x = Value{Node::CreateDeviceData(Shape(DType::kF32, {1 << 20}), nullptr), 0};
  Value t = Op(OpKind::kTanh, {Op(OpKind::kAdd, {Op(OpKind::kMul, {x, x}), x})});
  Value u = Op(OpKind::kAdd, {Op(OpKind::kMul, {t, x}), x});
  return Graph::Build({Op(OpKind::kAbs, {Op(OpKind::kSub, {Op(OpKind::kMul, {u, x}), x})})});
}

TEST(CppEmitterTest, GeneratedUnitIncludesNoHeaderAndCallsNoScalarMath) {
  const std::string source = SourceOf(TanhChain());
  EXPECT_THAT(source, HasSubstr("km::TanhF("));
  EXPECT_THAT(source, Not(HasSubstr("#include")));
  EXPECT_THAT(source, Not(HasSubstr("std::")));
  EXPECT_THAT(source, Not(HasSubstr("__builtin_tanh")));
}

TEST(CppEmitterTest, SoftmaxVectorisesItsMaxAndMultipliesByTheReciprocalSum) {
  const std::string source = SourceOf(SoftmaxMlp(8));
  EXPECT_THAT(source, HasSubstr("#pragma omp simd reduction(max : acc"));
  EXPECT_THAT(source, HasSubstr("kn::FinishNanReduction("));
  EXPECT_THAT(source, HasSubstr("const float rcp"));
  EXPECT_THAT(source, HasSubstr(" * rcp"));
}

TEST(CppEmitterTest, SoftmaxReadsItsSummandsBackWhenTheRowIsOneBlock) {
  // e = exp(x - max) is summed, then divided by the sum: a row of at most kSumBlock
  // elements reads e from the sum's block, longer rows compute it again.
  const std::string source = SourceOf(SoftmaxMlp(8));
  const size_t branch = source.find(" <= 1024) {");
  ASSERT_NE(branch, std::string::npos) << source;
  const size_t other = source.find("} else {", branch);
  ASSERT_NE(other, std::string::npos) << source;
  const std::string one_block = source.substr(branch, other - branch);
  EXPECT_THAT(one_block, HasSubstr("float(block"));
  EXPECT_THAT(one_block, Not(HasSubstr("ExpF")));
  EXPECT_THAT(source.substr(other), HasSubstr("ExpF"));
}

// Runs the configured host compiler with the configured flags on `source`, asking GCC
// which loops it vectorised. Empty when the compiler does not understand the request.
std::string VectorizationReport(const std::string& source) {
  char dir_template[] = "/tmp/kiln_vec_XXXXXX";
  const char* dir = mkdtemp(dir_template);
  if (dir == nullptr) return "";
  const std::string path = std::string(dir) + "/unit.cc";
  std::ofstream(path) << source;
  const std::string log = std::string(dir) + "/log.txt";
  const std::string command = config().cxx + " " + config().cxxflags +
                              " -fopt-info-vec-optimized -o " + dir + "/unit.so " + path + " > " +
                              log + " 2>&1";
  const int rc = std::system(command.c_str());
  std::string report;
  if (rc == 0) {
    std::ifstream in(log);
    report.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  std::system((std::string("rm -rf ") + dir).c_str());
  return report;
}

// The line numbers (1-based, in `source`) at which GCC reports a vectorised loop.
std::set<int> VectorisedLines(const std::string& report) {
  std::set<int> lines;
  size_t at = 0;
  while ((at = report.find("unit.cc:", at)) != std::string::npos) {
    at += 8;
    const int line = std::atoi(report.c_str() + at);
    const size_t eol = report.find('\n', at);
    if (report.substr(at, eol - at).find("loop vectorized") != std::string::npos) {
      lines.insert(line);
    }
  }
  return lines;
}

// The loops of `source` marked `#pragma omp simd` (alone, with reductions, or on a
// parallel loop) that GCC did not vectorise, as their lines; and how many there are.
std::vector<std::string> UnvectorisedSimdLoops(const std::string& source,
                                               const std::set<int>& vectorised, int* count) {
  std::vector<std::string> lines;
  size_t begin = 0;
  while (begin < source.size()) {
    const size_t end = std::min(source.find('\n', begin), source.size());
    lines.push_back(source.substr(begin, end - begin));
    begin = end + 1;
  }
  std::vector<std::string> missed;
  *count = 0;
  for (size_t i = 0; i + 1 < lines.size(); ++i) {
    const size_t text = lines[i].find_first_not_of(' ');
    if (text == std::string::npos || lines[i].compare(text, 11, "#pragma omp") != 0 ||
        lines[i].find(" simd") == std::string::npos) {
      continue;
    }
    ++*count;
    // The loop statement is the next line (line i + 2, 1-based); GCC reports it there or
    // at the first statement of its body.
    const int loop_line = static_cast<int>(i) + 2;
    if (vectorised.lower_bound(loop_line) == vectorised.upper_bound(loop_line + 3)) {
      missed.push_back(lines[i + 1]);
    }
  }
  return missed;
}

TEST(CppEmitterTest, TanhChainLoopVectorisesWithTheDefaultFlags) {
  const std::string source = SourceOf(TanhChain());
  const std::string report = VectorizationReport(source);
  if (report.empty()) {
    GTEST_SKIP() << "the host compiler gave no vectorisation report";
  }
  // The kernel's element loop is the one loop after the preamble.
  const std::string preamble = CppPreamble();
  const int preamble_lines = static_cast<int>(std::count(preamble.begin(), preamble.end(), '\n'));
  const std::set<int> lines = VectorisedLines(report);
  EXPECT_TRUE(lines.upper_bound(preamble_lines) != lines.end()) << report << source;
}

// A forward MLP activation that keeps what its backward needs: bias add and tanh-GELU
// over f32[512, 96], six stored values (one kernel with seven pointers), like a ViT
// block's; and an attention softmax whose keys are masked by a bool padding mask.
std::vector<Value> ManyOutputsAndMaskedSoftmax() {
  Value h0 = Value{Node::CreateDeviceData(Shape(DType::kF32, {512, 96}), nullptr), 0};
  Value bias = Value{Node::CreateDeviceData(Shape(DType::kF32, {96}), nullptr), 0};
  Value half = Value{Node::CreateScalar(DType::kF32, 0.5), 0};
  Value one = Value{Node::CreateScalar(DType::kF32, 1.0), 0};
  Value h = Op(OpKind::kAdd, {h0, bias});
  Value u = Op(OpKind::kMul, {h, half});
  Value sq = Op(OpKind::kMul, {h, h});
  Value t = Op(OpKind::kTanh, {Op(OpKind::kAdd, {h, Op(OpKind::kMul, {sq, h})})});
  Value t1 = Op(OpKind::kAdd, {t, one});
  Value gelu = Op(OpKind::kMul, {u, t1});
  Value scores = Value{Node::CreateDeviceData(Shape(DType::kF32, {4, 2, 32, 32}), nullptr), 0};
  Value mask = Value{Node::CreateDeviceData(Shape(DType::kBool, {4, 1, 1, 32}), nullptr), 0};
  Value low = Value{Node::CreateScalar(DType::kF32, -1e30), 0};
  Value masked = Op(OpKind::kWhere, {mask, scores, low});
  Value m = Op(OpKind::kMax, {masked}, Dims({3}));
  Value e = Op(OpKind::kExp, {Op(OpKind::kSub, {masked, m})});
  Value p = Op(OpKind::kDiv, {e, Op(OpKind::kSum, {e}, Dims({3}))});
  return {h, u, sq, t, t1, gelu, p};
}

TEST(CppEmitterTest, EverySimdLoopVectorisesWithManyOutputsAndABoolMask) {
  const std::string source = SourceOf(Graph::Build(ManyOutputsAndMaskedSoftmax()));
  // A bool buffer is read as bytes, and a float select is a bit-mask select.
  EXPECT_THAT(source, HasSubstr("const uint8_t* __restrict b"));
  EXPECT_THAT(source, HasSubstr(" != 0)"));
  EXPECT_THAT(source, HasSubstr("km::SelectF("));
  const std::string report = VectorizationReport(source);
  if (report.empty()) {
    GTEST_SKIP() << "the host compiler gave no vectorisation report";
  }
  int simd_loops = 0;
  const std::vector<std::string> missed =
      UnvectorisedSimdLoops(source, VectorisedLines(report), &simd_loops);
  // The GELU element loop; the softmax's max and sum loops and its element loop (two
  // versions: reading the sum's block, or computing again).
  EXPECT_GE(simd_loops, 4) << source;
  EXPECT_THAT(missed, ::testing::IsEmpty()) << report << source;
}

TEST(CppEmitterTest, ColumnSumElementLoopVectorisesWithTheDefaultFlags) {
  const Graph graph = BiasGradient();
  const std::string source = SourceOf(graph);
  const std::string report = VectorizationReport(source);
  if (report.empty()) {
    GTEST_SKIP() << "the host compiler gave no vectorisation report";
  }
  // The element loop over the columns: from its header (the line before the first
  // "const int64_t c =") to the block sum's update at its end. GCC names a line inside.
  const size_t at = source.find("const int64_t c = ");
  const size_t last = source.find("[c] += ", at);
  ASSERT_NE(last, std::string::npos) << source;
  const int first_line = static_cast<int>(std::count(source.begin(), source.begin() + at, '\n'));
  const int last_line =
      static_cast<int>(std::count(source.begin(), source.begin() + last, '\n')) + 1;
  bool vectorized = false;
  for (size_t pos = report.find("unit.cc:"); pos != std::string::npos;
       pos = report.find("unit.cc:", pos + 1)) {
    const int line = std::atoi(report.c_str() + pos + 8);
    const std::string rest = report.substr(pos, report.find('\n', pos) - pos);
    if (line >= first_line && line <= last_line &&
        rest.find("loop vectorized") != std::string::npos) {
      vectorized = true;
    }
  }
  EXPECT_TRUE(vectorized) << report << source;
}

TEST(CppEmitterTest, IdxQuotientUntilEndsTheBlockWhereTheQuotientChanges) {
  for (int64_t d = 1; d <= 7; ++d) {
    for (int64_t x = -40; x <= 40; ++x) {
      const int64_t at = 3;
      int64_t end = 1000;
      const int64_t q = kiln::numerics::IdxQuotientUntil(x, d, at, &end);
      ASSERT_EQ(q, x / d) << x << " / " << d;
      int64_t want = at + 1;
      while ((x + (want - at)) / d == q) ++want;
      EXPECT_EQ(end, want) << x << " / " << d;
      int64_t shorter = at + 1;
      kiln::numerics::IdxQuotientUntil(x, d, at, &shorter);
      EXPECT_EQ(shorter, at + 1) << "an end already nearer stays";
    }
  }
}

// The generated text from the first element loop that runs in blocks to the kernel's end;
// empty when no loop runs in blocks.
std::string BlockLoopBody(const std::string& source) {
  const size_t block = source.find("_blk; i");
  if (block == std::string::npos) return "";
  return source.substr(block, source.find("(void)phase", block) - block);
}

TEST(CppEmitterTest, IdxBelowUntilEndsTheBlockAtTheBound) {
  for (int64_t bound = -5; bound <= 12; ++bound) {
    for (int64_t at = -3; at <= 10; ++at) {
      int64_t end = 10;
      const bool below = kiln::numerics::IdxBelowUntil(at, bound, &end);
      EXPECT_EQ(below, at < bound) << at << " < " << bound;
      // The comparison holds on the whole block [at, end), and the block is as long as it can be.
      EXPECT_EQ(end, at < bound && bound < 10 ? bound : 10) << at << " < " << bound;
    }
  }
}

// The three gradients of a fused q/k/v projection concatenated along the features: the
// element loop runs in blocks that end at each seam, so which part a block reads from is
// decided once per block rather than per element.
TEST(CppEmitterTest, ConcatSeamsAreComparedOncePerBlock) {
  std::vector<Value> parts;
  for (int k = 0; k < 3; ++k) {
    parts.push_back(Value{Node::CreateDeviceData(Shape(DType::kF32, {2, 16, 64}), nullptr), 0});
  }
  const Value qkv = Op(OpKind::kConcat, parts, Attributes().Set("dim", int64_t{2}));
  const std::string source = SourceOf(Graph::Build({qkv}));
  EXPECT_THAT(source, HasSubstr("kn::IdxBelowUntil<int64_t>(")) << source;
  const std::string body = BlockLoopBody(source);
  ASSERT_FALSE(body.empty()) << source;
  EXPECT_THAT(body, Not(HasSubstr(" >= "))) << source;
}

// Autograd's merge of a head split: [B, heads, L, head_dim] moved to [B, L, dim] and padded
// into the second third of [B, L, 3 * dim]. The element loop runs in blocks of one head's
// elements: the quotients are computed once per block, not per element.
TEST(CppEmitterTest, HeadMergeDividesOncePerBlock) {
  Value part = Value{Node::CreateDeviceData(Shape(DType::kF32, {2, 3, 16, 64}), nullptr), 0};
  Value rows =
      Op(OpKind::kReshape,
         {Op(OpKind::kPermute, {part}, Attributes().Set("perm", std::vector<int64_t>{0, 2, 1, 3}))},
         Attributes().Set("sizes", std::vector<int64_t>{2, 16, 192}));
  Value padded =
      Op(OpKind::kPad, {rows},
         Attributes().Set("pads", std::vector<int64_t>{0, 0, 0, 0, 192, 192}).Set("value", 0.0));
  const std::string source = SourceOf(Graph::Build({padded}));
  EXPECT_THAT(source, HasSubstr("kn::IdxQuotientUntil<int64_t>(")) << source;
  // Inside the block loop, no index is divided per element.
  const std::string body = BlockLoopBody(source);
  ASSERT_FALSE(body.empty()) << source;
  EXPECT_THAT(body, Not(HasSubstr(" % "))) << source;
  EXPECT_THAT(body, Not(HasSubstr(" / "))) << source;
}

// group_norm's statistics: f32[8, 64, 56, 56] viewed as [8, 32, 6272] (two channels of
// 56 x 56 per group) and summed over each group. The reshape regroups dimensions whose
// sizes do not line up, so its index is delinearised into channel, row and column; the
// load multiplies those digits back into the same flat offset, so no index is divided or
// reduced modulo anything: the kernel reads each row as contiguous memory.
TEST(CppEmitterTest, ARegroupingReshapeLoadsAtTheFlatOffset) {
  Value x = Value{Node::CreateDeviceData(Shape(DType::kF32, {8, 64, 56, 56}), nullptr), 0};
  Value groups =
      Op(OpKind::kReshape, {x}, Attributes().Set("sizes", std::vector<int64_t>{8, 32, 6272}));
  const std::string source = SourceOf(Graph::Build({Op(OpKind::kSum, {groups}, Dims({2}))}));
  const std::string kernel = source.substr(source.find("kiln_k0("));
  EXPECT_THAT(kernel, Not(HasSubstr(" % "))) << kernel;
  EXPECT_THAT(kernel, Not(HasSubstr(" / "))) << kernel;
  EXPECT_THAT(kernel, Not(HasSubstr("IdxQuotientUntil"))) << kernel;
}

}  // namespace
}  // namespace kiln::codegen
