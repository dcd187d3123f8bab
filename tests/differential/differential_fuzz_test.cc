// The differential fuzzer's parts, a fixed-seed run of it on cpu and cuda_emulated, and
// the replay of every graph it has found (regressions/).
#include "tests/differential/differential_fuzz.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "ir/ir_text.h"
#include "lazy/device.h"
#include "lazy/ops.h"
#include "lazy/tensor.h"
#include "tests/differential/differential_run.h"
#include "tests/differential/random_graph.h"
#include "tests/differential/shrink.h"
#include "tests/differential/value_ranges.h"

namespace kiln::differential {
namespace {

using ::testing::HasSubstr;

NodePtr Op(OpKind op, Operands operands, Attributes attrs = {}) {
  return Node::Create(op, std::move(operands), std::move(attrs)).value();
}

Value Leaf(DType dtype, std::initializer_list<int64_t> sizes) {
  return {Node::CreateDeviceData(Shape(dtype, sizes), nullptr), 0};
}

TEST(ValueRangesTest, FollowsTheInputRangesThroughOps) {
  const Value x = Leaf(DType::kF32, {4});
  const NodePtr e = Op(OpKind::kExp, {x});
  const NodePtr sum = Op(OpKind::kSum, {{e, 0}},
                         Attributes().Set("dims", std::vector<int64_t>{0}).Set("keepdim", false));
  ValueRanges ranges;
  EXPECT_DOUBLE_EQ(ranges.Of(x.node).lo, -kFloatInputBound);
  EXPECT_TRUE(ranges.Of(x.node).exact);
  EXPECT_NEAR(ranges.Of(e).hi, std::exp(kFloatInputBound), 1e-12);
  EXPECT_FALSE(ranges.Of(e).exact);
  EXPECT_NEAR(ranges.Of(sum).hi, 4 * std::exp(kFloatInputBound), 1e-12);
  EXPECT_NEAR(ranges.Of(sum).lo, 4 * std::exp(-kFloatInputBound), 1e-12);
  // max and abs of exact values stay exact; integer arithmetic too.
  const Value i = Leaf(DType::kI32, {4});
  EXPECT_TRUE(ranges.Of(Op(OpKind::kAbs, {x})).exact);
  EXPECT_TRUE(ranges.Of(Op(OpKind::kAdd, {i, i})).exact);
  EXPECT_FALSE(ranges.Of(Op(OpKind::kAdd, {x, x})).exact);
}

TEST(ValueRangesTest, MarksOpsOutsideTheirDomain) {
  const Value x = Leaf(DType::kF32, {4});
  ValueRanges ranges;
  EXPECT_FALSE(ranges.Of(Op(OpKind::kLog, {x})).valid);
  EXPECT_FALSE(ranges.Of(Op(OpKind::kDiv, {x, x})).valid);
  const NodePtr e = Op(OpKind::kExp, {x});
  EXPECT_TRUE(ranges.Of(Op(OpKind::kLog, {{e, 0}})).valid);
  EXPECT_TRUE(ranges.Of(Op(OpKind::kDiv, {x, {e, 0}})).valid);
  // Invalid anywhere below means invalid.
  const NodePtr bad = Op(OpKind::kSqrt, {x});
  EXPECT_FALSE(ranges.Of(Op(OpKind::kTanh, {{bad, 0}})).valid);
}

TEST(RandomGraphTest, TheSameSeedGivesTheSameGraph) {
  for (uint64_t seed = 0; seed < 20; ++seed) {
    EXPECT_EQ(PrintGraph(RandomGraph(seed)), PrintGraph(RandomGraph(seed))) << seed;
  }
  EXPECT_NE(PrintGraph(RandomGraph(1)), PrintGraph(RandomGraph(2)));
}

TEST(RandomGraphTest, LeavesTheCurrentDeviceAlone) {
  set_device("cpu");
  RandomGraph(7);
  EXPECT_STREQ(current_backend().name(), "cpu");
  set_device("interp");
}

TEST(RandomGraphTest, CoversEveryOpKindAndDType) {
  std::vector<int> op_count(kNumOpKinds, 0);
  std::set<DType> dtypes;
  int empty = 0, backward = 0;
  for (uint64_t seed = 0; seed < 400; ++seed) {
    const Graph graph = RandomGraph(seed);
    bool has_empty = false;
    for (const Node* node : graph.post_order()) {
      ++op_count[static_cast<int>(node->op())];
      dtypes.insert(node->shape().dtype());
      has_empty = has_empty || node->shape().numel() == 0;
    }
    empty += has_empty;
    // A backward pass scatters gradients back with scatter_add or adds up broadcast ones.
    backward += graph.outputs().size() > 3;
  }
  for (int op = 0; op < kNumOpKinds; ++op) {
    EXPECT_GT(op_count[op], 0) << OpName(static_cast<OpKind>(op)) << " never appears";
  }
  EXPECT_EQ(dtypes.size(), 5u);  // bool, i32, i64, f32, f64
  EXPECT_GT(empty, 4);
  EXPECT_GT(backward, 20);
}

TEST(DifferentialRunTest, IndexParametersAreDrawnInRange) {
  const Value x = Leaf(DType::kF32, {3, 5});
  const Value index = Leaf(DType::kI64, {40});
  const NodePtr select = Op(OpKind::kIndexSelect, {x, index}, Attributes().Set("dim", int64_t{1}));
  const Graph graph = Graph::Build({{select, 0}});
  const Inputs inputs = RandomInputs(graph, 3);
  ASSERT_EQ(inputs.size(), 2u);
  const std::vector<double>& drawn = inputs[1];
  EXPECT_EQ(*std::min_element(drawn.begin(), drawn.end()), 0);
  EXPECT_EQ(*std::max_element(drawn.begin(), drawn.end()), 4);
  // Not all zero, and the float input is random too.
  EXPECT_GT(std::count_if(inputs[0].begin(), inputs[0].end(), [](double v) { return v != 0; }), 10);
}

TEST(DifferentialRunTest, ComparesWithToleranceAndCatchesAWrongElement) {
  const Value x = Leaf(DType::kF32, {64});
  const NodePtr e = Op(OpKind::kExp, {x});
  const Graph graph = Graph::Build({{e, 0}});
  const Inputs inputs = RandomInputs(graph, 5);
  const Reference want = RunReference(graph, inputs);
  ASSERT_TRUE(want.result.status.ok()) << want.result.status;
  // The largest of exp over inputs in [-2, 2].
  EXPECT_GT(want.scales[0], std::exp(1.5));
  EXPECT_LE(want.scales[0], std::exp(2.0));
  RunResult got = want.result;
  EXPECT_TRUE(CompareRuns(graph, want, got).empty());
  got.outputs[0][3] *= 1 + 1e-5;  // rounding-sized: within tolerance
  EXPECT_TRUE(CompareRuns(graph, want, got).empty());
  got.outputs[0][7] += 0.05;
  const std::vector<Mismatch> mismatches = CompareRuns(graph, want, got);
  ASSERT_EQ(mismatches.size(), 1u);
  EXPECT_THAT(mismatches[0].what, HasSubstr("element 7"));
  got.status = absl::InternalError("compile failed");
  EXPECT_THAT(CompareRuns(graph, want, got)[0].what, HasSubstr("only it failed"));
}

TEST(ShrinkGraphTest, ShrinksToTheNodeThatFails) {
  // "Fails" while the graph still contains an exp: the shrunk graph is one exp of a leaf.
  auto has_exp = [](const Graph& g) {
    return std::any_of(g.post_order().begin(), g.post_order().end(),
                       [](const Node* n) { return n->op() == OpKind::kExp; });
  };
  int shrunk = 0;
  for (uint64_t seed = 0; seed < 300 && shrunk < 5; ++seed) {
    const Graph graph = RandomGraph(seed);
    if (!has_exp(graph) || graph.num_nodes() < 8) continue;
    const Graph small = ShrinkGraph(graph, has_exp);
    EXPECT_TRUE(has_exp(small));
    EXPECT_EQ(small.num_nodes(), 2) << PrintGraph(small);
    ++shrunk;
  }
  EXPECT_EQ(shrunk, 5);
}

// A fixed-seed run in shards that ctest runs side by side: graphs 0-1999 of seed 1 on cpu,
// and the first 500 of them on cuda_emulated (whose kernels the CUDA backend tests compile
// with NVRTC; here only what they compute is checked). A failure is reproduced with
// `kiln_difffuzz --seed 1 --show <graph>`, or the printed IR text and `--replay`.
struct Shard {
  const char* backend;
  int first_graph;
  int graphs;
};

void PrintTo(const Shard& shard, std::ostream* os) {
  *os << shard.backend << ", graphs " << shard.first_graph << ".."
      << shard.first_graph + shard.graphs - 1;
}

class DifferentialFuzzShard : public ::testing::TestWithParam<Shard> {};

TEST_P(DifferentialFuzzShard, BackendsAgreeWithInterp) {
  FuzzOptions options;
  options.seed = 1;
  options.first_graph = GetParam().first_graph;
  options.graphs = GetParam().graphs;
  options.backends = {GetParam().backend};
  options.check_with_nvrtc = false;
  const FuzzReport report = RunDifferentialFuzz(options);
  std::cout << report.Summary(options.backends);
  EXPECT_EQ(report.graphs, options.graphs);
  EXPECT_TRUE(report.failing_everywhere.empty())
      << "the generator made graphs that fail: " << report.failing_everywhere.front();
  for (const FuzzFailure& f : report.failures) {
    ADD_FAILURE() << f.backend << ", graph seed " << f.graph_seed << ": " << f.what << "\n"
                  << f.ir_text;
  }
}

std::vector<Shard> Shards(const char* backend, int shards, int graphs_per_shard) {
  std::vector<Shard> all;
  for (int i = 0; i < shards; ++i) all.push_back({backend, i * graphs_per_shard, graphs_per_shard});
  return all;
}

std::string ShardName(const ::testing::TestParamInfo<Shard>& info) {
  return std::string(info.param.backend) + "_" + std::to_string(info.param.first_graph);
}

INSTANTIATE_TEST_SUITE_P(Cpu, DifferentialFuzzShard, ::testing::ValuesIn(Shards("cpu", 5, 400)),
                         ShardName);
INSTANTIATE_TEST_SUITE_P(CudaEmulated, DifferentialFuzzShard,
                         ::testing::ValuesIn(Shards("cuda_emulated", 2, 250)), ShardName);

TEST(DifferentialRegressionTest, EveryFoundGraphAgreesOnEveryBackend) {
  int replayed = 0;
  for (const auto& entry : std::filesystem::directory_iterator(KILN_DIFFERENTIAL_REGRESSIONS_DIR)) {
    std::ifstream file(entry.path());
    std::stringstream text;
    text << file.rdbuf();
    const absl::StatusOr<Graph> graph = ParseGraph(text.str());
    ASSERT_TRUE(graph.ok()) << entry.path() << ": " << graph.status();
    for (const char* backend : {"cpu", "cuda_emulated"}) {
      for (uint64_t seed = 1; seed <= 3; ++seed) {
        const Inputs inputs = RandomInputs(*graph, seed);
        const std::vector<Mismatch> mismatches =
            CompareRuns(*graph, RunReference(*graph, inputs),
                        RunGraph(*GetBackend(backend).value(), *graph, inputs));
        for (const Mismatch& m : mismatches) {
          ADD_FAILURE() << entry.path().filename() << " on " << backend << ": " << m.what;
        }
      }
    }
    ++replayed;
  }
  EXPECT_GT(replayed, 0);
}

}  // namespace
}  // namespace kiln::differential
