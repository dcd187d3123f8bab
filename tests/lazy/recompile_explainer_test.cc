#include "lazy/recompile_explainer.h"

#include <filesystem>
#include <optional>
#include <source_location>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "ir/graph.h"
#include "util/config.h"

namespace kiln {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

const std::string kThisFile = std::filesystem::path(__FILE__).filename().string();

// Parameters have no location unless a test gives one (as a graph parsed from text).
Value Param(std::vector<int64_t> sizes, std::source_location location = {}) {
  return Value{Node::CreateDeviceData(Shape(DType::kF32, sizes), nullptr, location), 0};
}

Value Op(OpKind op, Operands operands, Attributes attrs = {},
         std::source_location location = std::source_location::current()) {
  absl::StatusOr<NodePtr> node = Node::Create(op, std::move(operands), std::move(attrs), location);
  EXPECT_TRUE(node.ok()) << node.status();
  return Value{*std::move(node), 0};
}

CompileRecord Record(const std::vector<Value>& outputs, std::string_view backend = "interp") {
  return MakeCompileRecord(Graph::Build(outputs), backend);
}

// Explains `record` against `explainer`'s history, then adds it; returns the text.
std::string Compile(RecompileExplainer& explainer, CompileRecord record) {
  CompileExplanation e = explainer.Explain(record);
  explainer.RecordCompile(std::move(record), e, 0.001);
  return e.text;
}

TEST(RecompileExplainerTest, RecordCapturesTheGraph) {
  const Value x = Param({2, 3});
  const Value y = Param({1, 3});
  const int line = __LINE__ + 1;
  const Value sum = Op(OpKind::kAdd, {x, y});
  const Graph graph = Graph::Build({sum});
  const CompileRecord r = MakeCompileRecord(graph, "interp");
  EXPECT_EQ(r.graph_hash, graph.hash());
  EXPECT_EQ(r.structure_hash, graph.StructureHash());
  EXPECT_EQ(r.backend, "interp");
  ASSERT_EQ(r.parameter_shapes.size(), 2u);
  EXPECT_EQ(r.parameter_shapes[0].ToString(), "f32[2,3]");
  EXPECT_EQ(r.parameter_shapes[1].ToString(), "f32[1,3]");
  ASSERT_EQ(r.ops.size(), 3u);
  EXPECT_EQ(r.ops[2].op, OpKind::kAdd);
  EXPECT_EQ(r.ops[2].shape.ToString(), "f32[2,3]");
  EXPECT_EQ(static_cast<int>(r.ops[2].location.line()), line);
  ASSERT_EQ(r.output_shapes.size(), 1u);
  EXPECT_EQ(r.output_shapes[0].ToString(), "f32[2,3]");
}

TEST(RecompileExplainerTest, InputsWithALocationSayWhereTheyWereFirstUsed) {
  RecompileExplainer explainer;
  Compile(explainer, Record({Op(OpKind::kExp, {Param({2, 3})})}));
  const int line = __LINE__ + 1;
  const Value x = Param({4, 3}, std::source_location::current());
  EXPECT_THAT(Compile(explainer, Record({Op(OpKind::kExp, {x})})),
              ::testing::StartsWith(absl::StrCat("same graph structure; input 0 shape f32[2,3] -> "
                                                 "f32[4,3], first used at ",
                                                 kThisFile, ":", line, " (in ")));
}

TEST(RecompileExplainerTest, FirstCompile) {
  RecompileExplainer explainer;
  const Value x = Param({2, 3});
  const CompileExplanation e = explainer.Explain(Record({Op(OpKind::kExp, {x})}));
  EXPECT_EQ(e.text, "first compile of this graph structure (2 nodes)");
  EXPECT_FALSE(e.known_structure);
  EXPECT_THAT(e.causes, ::testing::ElementsAre("first compile"));
  EXPECT_EQ(explainer.last_explanation(), "");  // Explain alone records nothing
}

TEST(RecompileExplainerTest, InputShapeChange) {
  RecompileExplainer explainer;
  Compile(explainer, Record({Op(OpKind::kAdd, {Param({2, 3}), Param({1, 3})})}));
  const CompileRecord next = Record({Op(OpKind::kAdd, {Param({4, 3}), Param({1, 3})})});
  const CompileExplanation e = explainer.Explain(next);
  EXPECT_EQ(e.text, "same graph structure; input 0 shape f32[2,3] -> f32[4,3]");
  EXPECT_TRUE(e.known_structure);
  EXPECT_THAT(e.causes, ::testing::ElementsAre("input 0 shape changed"));
}

TEST(RecompileExplainerTest, EveryChangedInputIsListed) {
  RecompileExplainer explainer;
  Compile(explainer, Record({Op(OpKind::kAdd, {Param({2, 3}), Param({2, 3})})}));
  EXPECT_EQ(Compile(explainer, Record({Op(OpKind::kAdd, {Param({5, 3}), Param({5, 3})})})),
            "same graph structure; input 0 shape f32[2,3] -> f32[5,3]; "
            "input 1 shape f32[2,3] -> f32[5,3]");
  // Compared with the most recent compile of the structure, not the first.
  EXPECT_EQ(Compile(explainer, Record({Op(OpKind::kAdd, {Param({5, 3}), Param({5, 1})})})),
            "same graph structure; input 1 shape f32[5,3] -> f32[5,1]");
  EXPECT_EQ(explainer.last_explanation(),
            "same graph structure; input 1 shape f32[5,3] -> f32[5,1]");
}

TEST(RecompileExplainerTest, NodeShapeChangeWithEqualInputs) {
  RecompileExplainer explainer;
  const Value x = Param({4, 8});
  Compile(
      explainer,
      Record({Op(OpKind::kReshape, {x}, Attributes().Set("sizes", std::vector<int64_t>{8, 4}))}));
  EXPECT_EQ(
      Compile(explainer, Record({Op(OpKind::kReshape, {x},
                                    Attributes().Set("sizes", std::vector<int64_t>{2, 16}))})),
      "same graph structure; node 1 (reshape) shape f32[8,4] -> f32[2,16]");
}

TEST(RecompileExplainerTest, SizeAttributeChangeWithEqualShapes) {
  RecompileExplainer explainer;
  const Value x = Param({10});
  auto slice = [&](int64_t start, int64_t end) {
    return Op(OpKind::kSlice, {x},
              Attributes()
                  .Set("dim", int64_t{0})
                  .Set("start", start)
                  .Set("end", end)
                  .Set("step", int64_t{1}));
  };
  Compile(explainer, Record({slice(0, 4)}));
  EXPECT_EQ(Compile(explainer, Record({slice(2, 6)})),
            "same graph structure; node 1 (slice) start=0 end=4 -> start=2 end=6");
}

TEST(RecompileExplainerTest, SameGraphAgainIsAnEviction) {
  ScopedConfigOverride cfg;
  cfg->cache_size = 2;
  RecompileExplainer explainer;
  const Value out = Op(OpKind::kExp, {Param({3})});
  Compile(explainer, Record({out}));
  const CompileExplanation e = explainer.Explain(Record({out}));
  EXPECT_EQ(e.text,
            "same graph compiled again: it was evicted from the compile cache (KILN_CACHE_SIZE=2)");
  EXPECT_TRUE(e.known_structure);
  EXPECT_EQ(explainer.Explain(Record({out}, "cpu")).text,
            "same graph compiled for backend cpu (before: interp)");
}

TEST(RecompileExplainerTest, NewStructureNamesTheDivergingOpAndItsLocation) {
  RecompileExplainer explainer;
  const Value x = Param({2, 3});
  const Value y = Param({2, 3});
  Compile(explainer, Record({Op(OpKind::kAdd, {x, y})}));
  const int line = __LINE__ + 1;
  const Value product = Op(OpKind::kMul, {x, y});
  const CompileExplanation e = explainer.Explain(Record({product}));
  EXPECT_FALSE(e.known_structure);
  EXPECT_THAT(e.text, StartsWith(absl::StrCat(
                          "new graph structure; first divergence from the closest previous graph "
                          "at node 2 (op mul), traced at ",
                          kThisFile, ":", line, " (in ")));
  EXPECT_THAT(e.text, HasSubstr("NewStructureNamesTheDivergingOpAndItsLocation"));
  EXPECT_THAT(e.text, HasSubstr("; the closest graph has add there"));
  ASSERT_EQ(e.causes.size(), 1u);
  EXPECT_THAT(e.causes[0],
              StartsWith(absl::StrCat("new graph structure at ", kThisFile, ":", line)));
}

TEST(RecompileExplainerTest, ClosestGraphHasTheLongestCommonPrefix) {
  RecompileExplainer explainer;
  const Value x = Param({3});
  const Value y = Param({3});
  Compile(explainer, Record({Op(OpKind::kExp, {x})}));     // x, exp
  Compile(explainer, Record({Op(OpKind::kAdd, {x, y})}));  // x, y, add (the latest)
  // x, exp, neg: shares two nodes with the first graph, one with the second.
  const std::string text = Compile(explainer, Record({Op(OpKind::kNeg, {Op(OpKind::kExp, {x})})}));
  EXPECT_THAT(text, StartsWith("new graph structure; first divergence from the closest previous "
                               "graph at node 2 (op neg), traced at "));
}

TEST(RecompileExplainerTest, DtypeChangeIsANewStructureAtTheInput) {
  RecompileExplainer explainer;
  Compile(explainer, Record({Op(OpKind::kExp, {Param({3})})}));
  const Value x64{Node::CreateDeviceData(Shape(DType::kF64, {3}), nullptr), 0};
  EXPECT_THAT(Compile(explainer, Record({Op(OpKind::kExp, {x64})})),
              HasSubstr("at node 0 (op device_data), traced at "));
  EXPECT_THAT(explainer.last_explanation(), HasSubstr("; its shape was f32[3], now f64[3]"));
}

TEST(RecompileExplainerTest, ShorterGraphAndDifferentOutputs) {
  RecompileExplainer explainer;
  const Value x = Param({3});
  const Value e = Op(OpKind::kExp, {x});
  Compile(explainer, Record({Op(OpKind::kNeg, {e})}));
  EXPECT_EQ(Compile(explainer, Record({e})),
            "new graph structure; first divergence from the closest previous graph at node 2 "
            "(end of graph: 2 nodes, the closest has 3)");
  EXPECT_EQ(Compile(explainer, Record({e, x})),
            "new graph structure; same nodes as the closest previous graph but different "
            "outputs (1 -> 2 outputs)");
}

TEST(RecompileExplainerTest, UnknownLocationsAreSaidSo) {
  EXPECT_EQ(FormatLocation(std::source_location{}), "<unknown location>");
  const std::source_location here = std::source_location::current();
  EXPECT_THAT(FormatLocation(here), StartsWith(absl::StrCat(kThisFile, ":", here.line(), " (in ")));
}

TEST(RecompileExplainerTest, CompileNumbersCount) {
  RecompileExplainer explainer;
  const Value x = Param({3});
  CompileRecord r = Record({x});
  CompileExplanation e = explainer.Explain(r);
  EXPECT_EQ(explainer.RecordCompile(r, e, 0.5), 1);
  EXPECT_EQ(explainer.RecordCompile(r, e, 0.25), 2);
  EXPECT_EQ(explainer.num_compiles(), 2);
}

TEST(RecompileExplainerTest, StormWarningOnceAfterTenSteps) {
  RecompileExplainer explainer;
  // Six shapes of one structure: a first compile and five input-0 changes.
  for (int64_t n = 1; n <= 6; ++n) {
    Compile(explainer, Record({Op(OpKind::kExp, {Param({n})})}));
  }
  for (int step = 1; step < RecompileExplainer::kStormMinSteps; ++step) {
    EXPECT_EQ(explainer.RecordStep(), std::nullopt) << "step " << step;
  }
  const std::optional<std::string> warning = explainer.RecordStep();  // step 10: 6/10 > 0.5
  ASSERT_TRUE(warning.has_value());
  EXPECT_THAT(*warning, StartsWith("warning: recompile storm: 6 compiles in 10 steps"));
  EXPECT_THAT(*warning, HasSubstr("top causes: input 0 shape changed (5x), first compile (1x)"));
  EXPECT_EQ(explainer.RecordStep(), std::nullopt);  // once

  explainer.Clear();
  EXPECT_EQ(explainer.num_compiles(), 0);
  EXPECT_EQ(explainer.last_explanation(), "");
  for (int64_t n = 1; n <= 6; ++n) Compile(explainer, Record({Op(OpKind::kExp, {Param({n})})}));
  std::optional<std::string> again;
  for (int step = 1; step <= 10; ++step) again = explainer.RecordStep();
  EXPECT_TRUE(again.has_value());  // after Clear the warning may fire again
}

TEST(RecompileExplainerTest, NoStormAtHalfACompilePerStep) {
  RecompileExplainer explainer;
  for (int64_t n = 1; n <= 5; ++n) Compile(explainer, Record({Op(OpKind::kExp, {Param({n})})}));
  for (int step = 1; step <= 10; ++step) EXPECT_EQ(explainer.RecordStep(), std::nullopt);
}

TEST(RecompileExplainerTest, WarmupCompilesAreNotAStorm) {
  RecompileExplainer explainer;
  // Six bucket shapes compiled during warm-up, two steps each, then ten steady steps.
  for (int64_t n = 1; n <= 6; ++n) {
    const CompileRecord r = Record({Op(OpKind::kExp, {Param({n})})});
    explainer.RecordCompile(r, explainer.Explain(r), 0.001, /*warmup=*/true);
    EXPECT_EQ(explainer.RecordStep(/*warmup=*/true), std::nullopt);
    EXPECT_EQ(explainer.RecordStep(/*warmup=*/true), std::nullopt);
  }
  for (int step = 1; step <= 20; ++step) EXPECT_EQ(explainer.RecordStep(), std::nullopt);
  EXPECT_EQ(explainer.num_compiles(), 6);
  EXPECT_EQ(explainer.num_warmup_compiles(), 6);
  EXPECT_THAT(explainer.Summary(), HasSubstr("kiln:   compiles: 6 (6 during warm-up)\n"));
  // Compiles after warm-up still count, over the steps after warm-up only.
  for (int64_t n = 7; n <= 18; ++n) Compile(explainer, Record({Op(OpKind::kExp, {Param({n})})}));
  const std::optional<std::string> warning = explainer.RecordStep();
  ASSERT_TRUE(warning.has_value());
  EXPECT_THAT(*warning, StartsWith("warning: recompile storm: 12 compiles in 21 steps"));
}

TEST(RecompileExplainerTest, SummaryCountsEverything) {
  RecompileExplainer explainer;
  Compile(explainer, Record({Op(OpKind::kExp, {Param({2})})}));
  Compile(explainer, Record({Op(OpKind::kExp, {Param({3})})}));
  Compile(explainer, Record({Op(OpKind::kExp, {Param({4})})}));
  explainer.RecordCacheHit();
  for (int i = 0; i < 4; ++i) explainer.RecordStep();
  EXPECT_EQ(explainer.Summary(),
            "kiln: compile summary\n"
            "kiln:   steps: 4\n"
            "kiln:   compiles: 3\n"
            "kiln:   cache hits: 1\n"
            "kiln:   compile time: 3.000ms\n"
            "kiln:   compile causes:\n"
            "kiln:     input 0 shape changed: 2\n"
            "kiln:     first compile: 1\n");
}

}  // namespace
}  // namespace kiln
