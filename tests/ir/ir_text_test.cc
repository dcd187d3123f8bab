#include "ir/ir_text.h"

#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kiln {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

NodePtr Make(OpKind op, Operands operands, Attributes attrs = {}) {
  absl::StatusOr<NodePtr> node = Node::Create(op, std::move(operands), std::move(attrs));
  EXPECT_TRUE(node.ok()) << OpName(op) << ": " << node.status();
  return node.ok() ? *node : nullptr;
}

Value V(NodePtr node) { return Value{std::move(node), 0}; }

TEST(IrTextTest, PrintsTheDocumentedExample) {
  NodePtr x = Node::CreateDeviceData(Shape(DType::kF32, {32, 128}), nullptr);
  NodePtr lr = Node::CreateScalar(DType::kF32, 0.01);
  NodePtr mul = Make(OpKind::kMul, {V(x), V(lr)});
  NodePtr sum = Make(OpKind::kSum, {V(mul)},
                     Attributes().Set("dims", std::vector<int64_t>{1}).Set("keepdim", false));
  EXPECT_EQ(PrintGraph(Graph::Build({V(sum), V(mul)})),
            "graph {\n"
            "  %0 = f32[32,128] device_data()\n"
            "  %1 = f32[] scalar()\n"
            "  %2 = f32[32,128] mul(%0, %1)\n"
            "  %3 = f32[32] sum(%2) dims=[1] keepdim=false\n"
            "  return (%3, %2)\n"
            "}\n");
}

TEST(IrTextTest, PrintsEveryAttributeKind) {
  NodePtr c = Make(OpKind::kConstant, {}, Attributes().Set("value", 2.0).Set("dtype", DType::kF64));
  NodePtr a = Make(OpKind::kArange, {},
                   Attributes()
                       .Set("start", -1.5)
                       .Set("step", 1e-3)
                       .Set("size", int64_t{4})
                       .Set("dtype", DType::kF32));
  EXPECT_EQ(PrintGraph(Graph::Build({V(c), V(a), V(c)})),
            "graph {\n"
            "  %0 = f64[] constant() value=2.0 dtype=f64\n"
            "  %1 = f32[4] arange() start=-1.5 step=0.001 size=4 dtype=f32\n"
            "  return (%0, %1, %0)\n"
            "}\n");
}

TEST(IrTextTest, PrintsEmptyGraph) {
  EXPECT_EQ(PrintGraph(Graph::Build({})), "graph {\n  return ()\n}\n");
}

// A graph that applies every op kind at least once.
Graph EveryOpGraph() {
  NodePtr x = Node::CreateDeviceData(Shape(DType::kF32, {2, 3}), nullptr);
  NodePtr y = Node::CreateDeviceData(Shape(DType::kF32, {3}), nullptr);
  NodePtr s = Node::CreateScalar(DType::kF32, 0.5);
  NodePtr xi = Node::CreateDeviceData(Shape(DType::kI64, {2, 3}), nullptr);
  NodePtr idx = Node::CreateDeviceData(Shape(DType::kI32, {4}), nullptr);
  NodePtr c =
      Make(OpKind::kConstant, {}, Attributes().Set("value", -0.25).Set("dtype", DType::kF32));
  NodePtr ar = Make(OpKind::kArange, {},
                    Attributes()
                        .Set("start", 0.0)
                        .Set("step", 1.0)
                        .Set("size", int64_t{3})
                        .Set("dtype", DType::kF32));
  std::vector<Value> outs;
  auto add = [&](NodePtr n) {
    outs.push_back(V(n));
    return n;
  };
  for (OpKind op : {OpKind::kExp, OpKind::kLog, OpKind::kSqrt, OpKind::kRsqrt, OpKind::kTanh,
                    OpKind::kErf, OpKind::kSigmoid, OpKind::kSin, OpKind::kCos, OpKind::kFloor,
                    OpKind::kCeil, OpKind::kRound, OpKind::kNeg, OpKind::kAbs, OpKind::kRelu}) {
    add(Make(op, {V(x)}));
  }
  for (OpKind op : {OpKind::kAdd, OpKind::kSub, OpKind::kMul, OpKind::kDiv, OpKind::kPow,
                    OpKind::kMaximum, OpKind::kMinimum}) {
    add(Make(op, {V(x), V(y)}));
  }
  add(Make(OpKind::kMul, {V(x), V(s)}));
  add(Make(OpKind::kAdd, {V(ar), V(c)}));
  add(Make(OpKind::kRandUniform, {V(Node::CreateScalar(DType::kI64, 12345))},
           Attributes().Set("sizes", std::vector<int64_t>{2, 3}).Set("dtype", DType::kF64)));
  NodePtr lt = nullptr;
  for (OpKind op : {OpKind::kEq, OpKind::kNe, OpKind::kLt, OpKind::kLe, OpKind::kGt, OpKind::kGe}) {
    lt = add(Make(op, {V(x), V(y)}));
  }
  NodePtr gt = Make(OpKind::kGt, {V(xi), V(xi)});
  add(Make(OpKind::kLogicalAnd, {V(lt), V(gt)}));
  add(Make(OpKind::kLogicalOr, {V(lt), V(gt)}));
  add(Make(OpKind::kLogicalNot, {V(lt)}));
  add(Make(OpKind::kWhere, {V(lt), V(x), V(y)}));
  add(Make(OpKind::kCast, {V(xi)}, Attributes().Set("dtype", DType::kF32)));
  auto dims = [](std::vector<int64_t> d, bool keep) {
    return Attributes().Set("dims", std::move(d)).Set("keepdim", keep);
  };
  add(Make(OpKind::kSum, {V(x)}, dims({0, 1}, false)));
  add(Make(OpKind::kMean, {V(x)}, dims({1}, true)));
  add(Make(OpKind::kProd, {V(xi)}, dims({1}, false)));
  add(Make(OpKind::kMax, {V(xi)}, dims({0}, false)));
  add(Make(OpKind::kMin, {V(x)}, dims({}, false)));
  add(Make(OpKind::kArgmax, {V(x)}, Attributes().Set("dim", int64_t{1}).Set("keepdim", true)));
  NodePtr t =
      add(Make(OpKind::kPermute, {V(x)}, Attributes().Set("perm", std::vector<int64_t>{1, 0})));
  add(Make(OpKind::kMatmul, {V(x), V(t)}));
  add(Make(OpKind::kReshape, {V(x)}, Attributes().Set("sizes", std::vector<int64_t>{3, 1, 2})));
  add(Make(OpKind::kExpand, {V(y)}, Attributes().Set("sizes", std::vector<int64_t>{4, 2, 3})));
  add(Make(OpKind::kSlice, {V(x)},
           Attributes()
               .Set("dim", int64_t{1})
               .Set("start", int64_t{1})
               .Set("end", int64_t{3})
               .Set("step", int64_t{2})));
  add(Make(OpKind::kConcat, {V(x), V(x), V(x)}, Attributes().Set("dim", int64_t{0})));
  add(Make(OpKind::kPad, {V(x)},
           Attributes()
               .Set("pads", std::vector<int64_t>{1, 0, -1, 2})
               .Set("value", -std::numeric_limits<double>::infinity())));
  add(Make(OpKind::kGather, {V(x), V(xi)}, Attributes().Set("dim", int64_t{1})));
  add(Make(OpKind::kIndexSelect, {V(x), V(idx)}, Attributes().Set("dim", int64_t{1})));
  add(Make(OpKind::kScatterAdd, {V(x), V(xi), V(x)}, Attributes().Set("dim", int64_t{0})));
  return Graph::Build(std::move(outs));
}

TEST(IrTextTest, RoundTripsEveryOpKind) {
  const Graph g = EveryOpGraph();
  std::set<OpKind> kinds;
  for (const Node* n : g.post_order()) kinds.insert(n->op());
  EXPECT_EQ(static_cast<int>(kinds.size()), kNumOpKinds);

  const std::string text = PrintGraph(g);
  absl::StatusOr<Graph> parsed = ParseGraph(text);
  ASSERT_TRUE(parsed.ok()) << parsed.status() << "\n" << text;
  EXPECT_TRUE(*parsed == g);
  EXPECT_EQ(parsed->hash(), g.hash());
  EXPECT_EQ(parsed->StructureHash(), g.StructureHash());
  EXPECT_EQ(PrintGraph(*parsed), text);
  EXPECT_EQ(parsed->parameters().size(), g.parameters().size());
}

TEST(IrTextTest, ParsedParametersHaveNoData) {
  absl::StatusOr<Graph> g = ParseGraph(
      "graph {\n  %0 = f64[2] device_data()\n  %1 = f64[] scalar()\n"
      "  %2 = f64[2] add(%0, %1)\n  return (%2)\n}\n");
  ASSERT_TRUE(g.ok()) << g.status();
  ASSERT_EQ(g->parameters().size(), 2u);
  EXPECT_EQ(g->parameters()[0]->op(), OpKind::kDeviceData);
  EXPECT_EQ(g->parameters()[0]->data(), nullptr);
  EXPECT_EQ(g->parameters()[1]->op(), OpKind::kScalar);
  EXPECT_EQ(g->parameters()[1]->scalar_value(), 0.0);
  EXPECT_EQ(g->outputs()[0].shape(), Shape(DType::kF64, {2}));
}

TEST(IrTextTest, RoundTripsSpecialDoubles) {
  const double values[] = {0.1,
                           -0.0,
                           1e300,
                           -2.5e-310,  // subnormal
                           std::numeric_limits<double>::max(),
                           std::numeric_limits<double>::infinity(),
                           -std::numeric_limits<double>::infinity(),
                           std::numeric_limits<double>::quiet_NaN(),
                           123456789.0};
  for (double v : values) {
    NodePtr c = Make(OpKind::kConstant, {}, Attributes().Set("value", v).Set("dtype", DType::kF64));
    Graph g = Graph::Build({V(c)});
    absl::StatusOr<Graph> parsed = ParseGraph(PrintGraph(g));
    ASSERT_TRUE(parsed.ok()) << parsed.status();
    EXPECT_TRUE(*parsed == g) << PrintGraph(g);
    const double back = parsed->outputs()[0].node->attrs().GetDouble("value");
    if (std::isnan(v)) {
      EXPECT_TRUE(std::isnan(back));
    } else {
      EXPECT_EQ(back, v);
      EXPECT_EQ(std::signbit(back), std::signbit(v));
    }
  }
}

TEST(IrTextTest, ToleratesWhitespaceCommentsAndBlankLines) {
  absl::StatusOr<Graph> g = ParseGraph(
      "# a comment before the graph\n"
      "\n"
      "graph{   # trailing comment\n"
      "\t%0=f32[ 2 , 3 ]device_data( )\n"
      "\n"
      "   %1   =   f32[3]    sum ( %0 )   dims = [ 0 ]   keepdim=false  \r\n"
      "  # a comment line\n"
      "  return(%1 ,%0)\n"
      "}   \n"
      "\n# done\n");
  ASSERT_TRUE(g.ok()) << g.status();
  EXPECT_EQ(PrintGraph(*g),
            "graph {\n"
            "  %0 = f32[2,3] device_data()\n"
            "  %1 = f32[3] sum(%0) dims=[0] keepdim=false\n"
            "  return (%1, %0)\n"
            "}\n");
}

TEST(IrTextTest, AcceptsNonSequentialNumbersAndExplicitOutputZero) {
  absl::StatusOr<Graph> g = ParseGraph(
      "graph {\n  %7 = i32[4] device_data()\n  %3 = i32[4] neg(%7.0)\n  return (%3)\n}\n");
  ASSERT_TRUE(g.ok()) << g.status();
  EXPECT_EQ(PrintGraph(*g),
            "graph {\n  %0 = i32[4] device_data()\n  %1 = i32[4] neg(%0)\n  return (%1)\n}\n");
}

// The status of parsing `body` wrapped in a graph header and with a return.
std::string ParseError(const std::string& text) {
  absl::StatusOr<Graph> g = ParseGraph(text);
  if (g.ok()) return "unexpectedly ok";
  EXPECT_EQ(g.status().code(), absl::StatusCode::kInvalidArgument);
  return std::string(g.status().message());
}

constexpr char kHeader[] = "graph {\n  %0 = f32[3] device_data()\n";

TEST(IrTextTest, ErrorUnknownOp) {
  EXPECT_EQ(ParseError(std::string(kHeader) + "  %1 = f32[3] frobnicate(%0)\n  return (%1)\n}\n"),
            "line 3: unknown op 'frobnicate'");
}

TEST(IrTextTest, ErrorUndefinedAndForwardReferences) {
  EXPECT_EQ(ParseError(std::string(kHeader) + "  %1 = f32[3] neg(%5)\n  return (%1)\n}\n"),
            "line 3: %5 is not defined before its use");
  EXPECT_EQ(ParseError(std::string(kHeader) +
                       "  %1 = f32[3] add(%0, %2)\n  %2 = f32[3] neg(%0)\n  return (%1)\n}\n"),
            "line 3: %2 is not defined before its use");
  EXPECT_EQ(ParseError(std::string(kHeader) + "  return (%4)\n}\n"),
            "line 3: %4 is not defined before its use");
  // A node cannot use itself.
  EXPECT_EQ(ParseError(std::string(kHeader) + "  %1 = f32[3] neg(%1)\n  return (%1)\n}\n"),
            "line 3: %1 is not defined before its use");
}

TEST(IrTextTest, ErrorOutputIndexOutOfRange) {
  EXPECT_EQ(ParseError(std::string(kHeader) + "  %1 = f32[3] neg(%0.1)\n  return (%1)\n}\n"),
            "line 3: %0 has 1 output(s), no output 1");
  EXPECT_EQ(ParseError(std::string(kHeader) + "  %1.1 = f32[3] neg(%0)\n  return (%1)\n}\n"),
            "line 3: a definition cannot name an output index");
}

TEST(IrTextTest, ErrorWrongOperandCount) {
  EXPECT_EQ(ParseError(std::string(kHeader) + "  %1 = f32[3] add(%0)\n  return (%1)\n}\n"),
            "line 3: add: expected 2 operands, got 1");
  EXPECT_EQ(ParseError(std::string(kHeader) + "  %1 = f32[3] concat() dim=0\n  return (%1)\n}\n"),
            "line 3: concat: expected at least 1 operands, got 0");
  EXPECT_EQ(ParseError(std::string(kHeader) + "  %1 = f32[3] device_data(%0)\n  return (%1)\n}\n"),
            "line 3: device_data: expected 0 operands, got 1");
}

TEST(IrTextTest, ErrorAttributes) {
  EXPECT_EQ(ParseError(std::string(kHeader) +
                       "  %1 = f32[] sum(%0) dims=0 keepdim=false\n  return (%1)\n}\n"),
            "line 3: sum: attribute 'dims' must be an integer list, got 0");
  EXPECT_EQ(ParseError(std::string(kHeader) + "  %1 = f32[] sum(%0) dims=[0]\n  return (%1)\n}\n"),
            "line 3: sum: missing attribute 'keepdim' (a bool)");
  EXPECT_EQ(ParseError("graph {\n  %0 = f32[] constant() value=1 dtype=f32\n  return (%0)\n}\n"),
            "line 2: constant: attribute 'value' must be a float, got 1");
  EXPECT_EQ(ParseError(std::string(kHeader) +
                       "  %1 = f32[] sum(%0) dims=[0] dims=[0] keepdim=false\n  return (%1)\n}\n"),
            "line 3: attribute 'dims' given twice");
  EXPECT_EQ(
      ParseError(std::string(kHeader) + "  %1 = f32[3] neg(%0) keepdim=maybe\n  return (%1)\n}\n"),
      "line 3: attribute 'keepdim': unknown value 'maybe'");
  EXPECT_EQ(
      ParseError(std::string(kHeader) + "  %1 = f32[3] neg(%0) fast=true\n  return (%1)\n}\n"),
      "line 3: neg: unexpected attribute 'fast'");
  EXPECT_EQ(ParseError(std::string(kHeader) + "  %1 = f32[3] neg(%0) 7\n  return (%1)\n}\n"),
            "line 3: expected an attribute name=value, found '7'");
  EXPECT_EQ(ParseError(std::string(kHeader) +
                       "  %1 = f32[] sum(%0) dims=[0,1.5] keepdim=false\n  return (%1)\n}\n"),
            "line 3: expected an integer in the list, found '1.5'");
  EXPECT_EQ(
      ParseError("graph {\n  %0 = f32[] constant() value=1.2.3 dtype=f32\n  return (%0)\n}\n"),
      "line 2: attribute 'value': bad number '1.2.3'");
  EXPECT_EQ(
      ParseError(std::string(kHeader) + "  %1 = f32[3] device_data() x=1\n  return (%1)\n}\n"),
      "line 3: device_data: takes no attributes, got x=1");
}

TEST(IrTextTest, ErrorDTypeAndShapeSyntax) {
  EXPECT_EQ(ParseError("graph {\n  %0 = f33[3] device_data()\n  return (%0)\n}\n"),
            "line 2: unknown dtype 'f33'");
  EXPECT_EQ(ParseError("graph {\n  %0 = f32[3 device_data()\n  return (%0)\n}\n"),
            "line 2: expected ',' or ']' in the sizes of the shape, found 'device_data()'");
  EXPECT_EQ(ParseError("graph {\n  %0 = f32 device_data()\n  return (%0)\n}\n"),
            "line 2: expected '[' to open the sizes of the shape, found 'device_data()'");
  EXPECT_EQ(ParseError("graph {\n  %0 = f32[-2] device_data()\n  return (%0)\n}\n"),
            "line 2: negative dimension size -2 in shape");
  EXPECT_EQ(ParseError("graph {\n  %0 = [3] device_data()\n  return (%0)\n}\n"),
            "line 2: expected a dtype such as f32, found '[3] device_data()'");
  EXPECT_EQ(ParseError("graph {\n  %0 = f32[3]\n  return (%0)\n}\n"),
            "line 2: expected an op name after the shape, found end of line");
  EXPECT_EQ(ParseError("graph {\n  %0 = f32[3] device_data(\n  return (%0)\n}\n"),
            "line 2: expected '%' before a value number, found end of line");
}

TEST(IrTextTest, ErrorPrintedShapeDiffersFromInferred) {
  EXPECT_EQ(ParseError(std::string(kHeader) + "  %1 = f32[2] add(%0, %0)\n  return (%1)\n}\n"),
            "line 3: add: printed shape f32[2] but inferred f32[3]");
  EXPECT_EQ(ParseError(std::string(kHeader) + "  %1 = f64[3] neg(%0)\n  return (%1)\n}\n"),
            "line 3: neg: printed shape f64[3] but inferred f32[3]");
  EXPECT_EQ(ParseError("graph {\n  %0 = f32[2] scalar()\n  return (%0)\n}\n"),
            "line 2: scalar: printed shape f32[2] but a scalar is 0-d");
}

TEST(IrTextTest, ErrorShapeInferenceFailureNamesTheLine) {
  EXPECT_EQ(
      ParseError(std::string(kHeader) +
                 "  %1 = f32[4] device_data()\n  %2 = f32[3] add(%0, %1)\n  return (%2)\n}\n"),
      "line 4: add: cannot broadcast f32[3] with f32[4]: dimension sizes 3 and 4 differ and "
      "neither is 1");
}

TEST(IrTextTest, ErrorStructure) {
  EXPECT_EQ(ParseError(""), "line 1: expected 'graph {', found end of text");
  EXPECT_EQ(ParseError("\n # nothing\n"), "line 1: expected 'graph {', found end of text");
  EXPECT_EQ(ParseError("grph {\n}\n"), "line 1: expected 'graph {', found 'grph {'");
  EXPECT_EQ(ParseError(std::string(kHeader) + "}\n"), "line 3: missing 'return (...)' before '}'");
  EXPECT_EQ(ParseError(kHeader), "line 2: missing 'return (...)' at end of text");
  EXPECT_EQ(ParseError(std::string(kHeader) + "  return (%0)\n"),
            "line 3: missing closing '}' at end of text");
  EXPECT_EQ(ParseError(std::string(kHeader) + "  %0 = f32[3] device_data()\n  return (%0)\n}\n"),
            "line 3: %0 is defined twice");
  EXPECT_EQ(ParseError(std::string(kHeader) + "  return (%0)\n}\n  %1 = f32[3] neg(%0)\n"),
            "line 5: unexpected text after the closing '}': '%1 = f32[3] neg(%0)'");
  EXPECT_EQ(ParseError(std::string(kHeader) + "  return (%0)\n  return (%0)\n}\n"),
            "line 4: expected '}' after return, found 'return (%0)'");
  EXPECT_EQ(ParseError(std::string(kHeader) + "  return (%0) extra\n}\n"),
            "line 3: unexpected text after return (...): 'extra'");
  EXPECT_EQ(ParseError(std::string(kHeader) + "  return %0\n}\n"),
            "line 3: expected '(' after return, found '%0'");
  EXPECT_EQ(ParseError(std::string(kHeader) + "  retrn (%0)\n}\n"),
            "line 3: expected '%N = ...' or 'return (...)', found 'retrn (%0)'");
  EXPECT_EQ(ParseError(std::string(kHeader) + "  %1 = f32[3] neg(%0)) \n  return (%1)\n}\n"),
            "line 3: expected an attribute name=value, found ')'");
}

TEST(IrTextTest, ErrorNumbersThatDoNotFit) {
  EXPECT_EQ(
      ParseError("graph {\n  %0 = f32[99999999999999999999] device_data()\n  return (%0)\n}\n"),
      "line 2: a dimension size '99999999999999999999' does not fit in 64 bits");
  EXPECT_EQ(
      ParseError("graph {\n  %99999999999999999999 = f32[1] device_data()\n  return (%0)\n}\n"),
      "line 2: a value number '99999999999999999999' does not fit in 64 bits");
  EXPECT_EQ(ParseError("graph {\n  %0 = f32[4294967296,4294967296] device_data()\n"
                       "  return (%0)\n}\n"),
            "line 2: shape f32[4294967296,4294967296] has more bytes than int64 can count");
  EXPECT_EQ(ParseError("graph {\n  %0 = f32[1] device_data()\n  %1 = f32[1] slice(%0) dim=0 "
                       "start=0 end=1 step=99999999999999999999\n  return (%1)\n}\n"),
            "line 3: attribute 'step' value '99999999999999999999' does not fit in 64 bits");
  EXPECT_EQ(ParseError("graph {\n  %0 = f64[1] device_data()\n  %1 = f64[1] "
                       "expand(%0) sizes=[3037000500,3037000500]\n  return (%1)\n}\n"),
            "line 3: expand: output shape f64[3037000500,3037000500] has more bytes than int64 "
            "can count");
  // Huge but countable sizes and out-of-range floats are fine: nothing is allocated.
  absl::StatusOr<Graph> ok = ParseGraph(
      "graph {\n  %0 = f32[0,9223372036854775807] device_data()\n"
      "  %1 = f32[] constant() value=1e999 dtype=f32\n  return (%0, %1)\n}\n");
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(ok->outputs()[1].node->attrs().GetDouble("value"),
            std::numeric_limits<double>::infinity());
}

TEST(IrTextTest, LongInputParsesIteratively) {
  std::string text = "graph {\n  %0 = f32[2] device_data()\n";
  constexpr int kNodes = 20000;
  for (int i = 1; i <= kNodes; ++i) {
    text += "  %" + std::to_string(i) + " = f32[2] neg(%" + std::to_string(i - 1) + ")\n";
  }
  text += "  return (%" + std::to_string(kNodes) + ")\n}\n";
  absl::StatusOr<Graph> g = ParseGraph(text);
  ASSERT_TRUE(g.ok()) << g.status();
  EXPECT_EQ(g->num_nodes(), kNodes + 1);
  EXPECT_EQ(PrintGraph(*g), text);
  // A very long line, a very high rank and a long list fail or pass without recursion.
  std::string long_list =
      "graph {\n  %0 = f32[" + std::string(100000, '1') + "] device_data()\n}\n";
  EXPECT_THAT(ParseError(long_list), HasSubstr("does not fit in 64 bits"));
  std::string high_rank = "graph {\n  %0 = f32[1";
  for (int i = 0; i < 50000; ++i) high_rank += ",1";
  high_rank += "] device_data()\n  return (%0)\n}\n";
  EXPECT_TRUE(ParseGraph(high_rank).ok());
  EXPECT_THAT(ParseError("graph {\n" + std::string(100000, '[') + "\n}\n"),
              StartsWith("line 2: expected '%N = ...'"));
}

// Every truncation and many random single-byte edits of a valid text must give either a
// graph or a line-numbered error, never a crash.
TEST(IrTextTest, MalformedVariantsNeverCrash) {
  const std::string text = PrintGraph(EveryOpGraph());
  int ok_count = 0;
  auto check = [&](const std::string& variant) {
    absl::StatusOr<Graph> g = ParseGraph(variant);
    if (g.ok()) {
      ++ok_count;
      // Whatever parses must print and parse back to itself.
      absl::StatusOr<Graph> again = ParseGraph(PrintGraph(*g));
      ASSERT_TRUE(again.ok()) << again.status();
      EXPECT_TRUE(*again == *g);
    } else {
      EXPECT_THAT(std::string(g.status().message()), StartsWith("line ")) << variant;
    }
  };
  for (size_t n = 0; n < text.size(); n += 7) check(text.substr(0, n));
  std::mt19937 rng(1234);
  const std::string alphabet = "%[](),.=#-+e0123456789 \nabcfi";
  for (int i = 0; i < 1500; ++i) {
    std::string variant = text;
    const size_t pos = rng() % variant.size();
    switch (rng() % 3) {
      case 0:
        variant[pos] = alphabet[rng() % alphabet.size()];
        break;
      case 1:
        variant.erase(pos, 1 + rng() % 4);
        break;
      default:
        variant.insert(pos, 1, alphabet[rng() % alphabet.size()]);
        break;
    }
    check(variant);
  }
  EXPECT_GT(ok_count, 0);
}

}  // namespace
}  // namespace kiln
