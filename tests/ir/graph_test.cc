#include "ir/graph.h"

#include <cstdint>
#include <vector>

#include "gtest/gtest.h"

namespace kiln {
namespace {

NodePtr Make(OpKind op, Operands operands, Attributes attrs = {}) {
  absl::StatusOr<NodePtr> node = Node::Create(op, std::move(operands), std::move(attrs));
  EXPECT_TRUE(node.ok()) << node.status();
  return node.ok() ? *node : nullptr;
}

Value V(NodePtr node) { return Value{std::move(node), 0}; }

NodePtr Leaf(Shape shape) { return Node::CreateDeviceData(std::move(shape), nullptr); }

TEST(GraphTest, PostOrderVisitsOperandsLeftToRight) {
  NodePtr a = Leaf(Shape(DType::kF32, {2}));
  NodePtr b = Leaf(Shape(DType::kF32, {2}));
  NodePtr s = Node::CreateScalar(DType::kF32, 3.0);
  NodePtr mul = Make(OpKind::kMul, {V(b), V(s)});
  NodePtr add = Make(OpKind::kAdd, {V(a), V(mul)});
  NodePtr neg = Make(OpKind::kNeg, {V(mul)});

  Graph g = Graph::Build({V(add), V(neg)});
  const std::vector<const Node*> expected = {a.get(),   b.get(),   s.get(),
                                             mul.get(), add.get(), neg.get()};
  EXPECT_EQ(g.post_order(), expected);
  EXPECT_EQ(g.num_nodes(), 6);
  const std::vector<const Node*> params = {a.get(), b.get(), s.get()};
  EXPECT_EQ(g.parameters(), params);
  ASSERT_EQ(g.outputs().size(), 2u);
  EXPECT_EQ(g.outputs()[0], V(add));
}

TEST(GraphTest, ParametersInFirstVisitOrder) {
  NodePtr a = Leaf(Shape(DType::kF32, {2}));
  NodePtr b = Leaf(Shape(DType::kF32, {2}));
  // b is reached first: through the left operand.
  NodePtr sub = Make(OpKind::kSub, {V(b), V(a)});
  Graph g = Graph::Build({V(sub)});
  const std::vector<const Node*> params = {b.get(), a.get()};
  EXPECT_EQ(g.parameters(), params);
  // sub(b, a) with b passed first is the same computation as sub(a, b) with a first.
  Graph swapped = Graph::Build({V(Make(OpKind::kSub, {V(a), V(b)}))});
  EXPECT_EQ(g.hash(), swapped.hash());
}

TEST(GraphTest, SameGraphBuiltTwiceHasSameHash) {
  auto build = [] {
    NodePtr x = Leaf(Shape(DType::kF32, {8, 4}));
    NodePtr w = Leaf(Shape(DType::kF32, {4, 3}));
    NodePtr y = Make(OpKind::kMatmul, {V(x), V(w)});
    NodePtr r = Make(OpKind::kRelu, {V(y)});
    return Graph::Build({V(r), V(y)});
  };
  Graph g1 = build();
  Graph g2 = build();
  EXPECT_EQ(g1.hash(), g2.hash());
  EXPECT_EQ(g1.StructureHash(), g2.StructureHash());
  EXPECT_TRUE(g1 == g2);
}

TEST(GraphTest, ReusedParameterDiffersFromTwoParameters) {
  NodePtr a = Leaf(Shape(DType::kF32, {3}));
  NodePtr b = Leaf(Shape(DType::kF32, {3}));
  Graph a_plus_a = Graph::Build({V(Make(OpKind::kAdd, {V(a), V(a)}))});
  Graph a_plus_b = Graph::Build({V(Make(OpKind::kAdd, {V(a), V(b)}))});
  EXPECT_EQ(a_plus_a.parameters().size(), 1u);
  EXPECT_EQ(a_plus_b.parameters().size(), 2u);
  EXPECT_NE(a_plus_a.hash(), a_plus_b.hash());
  EXPECT_FALSE(a_plus_a == a_plus_b);
}

TEST(GraphTest, OutputOrderMatters) {
  NodePtr a = Leaf(Shape(DType::kF32, {3}));
  NodePtr e = Make(OpKind::kExp, {V(a)});
  NodePtr n = Make(OpKind::kNeg, {V(a)});
  EXPECT_NE(Graph::Build({V(e), V(n)}).hash(), Graph::Build({V(n), V(e)}).hash());
}

// reshape(x, sizes) -> sum over dims -> slice, at two sets of sizes.
Graph Pipeline(int64_t rows, int64_t cols, std::vector<int64_t> sum_dims, OpKind unary) {
  NodePtr x = Leaf(Shape(DType::kF32, {rows, cols}));
  NodePtr r =
      Make(OpKind::kReshape, {V(x)}, Attributes().Set("sizes", std::vector<int64_t>{cols, rows}));
  NodePtr u = Make(unary, {V(r)});
  NodePtr s = Make(OpKind::kSum, {V(u)},
                   Attributes().Set("dims", std::move(sum_dims)).Set("keepdim", true));
  NodePtr sl = Make(OpKind::kSlice, {V(s)},
                    Attributes()
                        .Set("dim", int64_t{0})
                        .Set("start", int64_t{0})
                        .Set("end", s->shape().size(0) - 1)
                        .Set("step", int64_t{1}));
  NodePtr p = Make(OpKind::kPad, {V(sl)},
                   Attributes().Set("pads", std::vector<int64_t>{0, rows, 0, 0}).Set("value", 0.0));
  return Graph::Build({V(p)});
}

TEST(GraphTest, StructureHashIgnoresSizes) {
  Graph small = Pipeline(2, 3, {1}, OpKind::kExp);
  Graph large = Pipeline(5, 7, {1}, OpKind::kExp);
  EXPECT_NE(small.hash(), large.hash());
  EXPECT_EQ(small.StructureHash(), large.StructureHash());
}

TEST(GraphTest, StructureHashSeesOpsAndDims) {
  const Hash128 base = Pipeline(2, 3, {1}, OpKind::kExp).StructureHash();
  EXPECT_NE(Pipeline(2, 3, {1}, OpKind::kLog).StructureHash(), base);
  EXPECT_NE(Pipeline(2, 3, {0}, OpKind::kExp).StructureHash(), base);
}

TEST(GraphTest, StructureHashSeesDTypeAndRank) {
  auto unary = [](Shape shape) {
    NodePtr x = Leaf(std::move(shape));
    return Graph::Build({V(Make(OpKind::kNeg, {V(x)}))}).StructureHash();
  };
  const Hash128 base = unary(Shape(DType::kF32, {2, 3}));
  EXPECT_EQ(unary(Shape(DType::kF32, {9, 1})), base);
  EXPECT_NE(unary(Shape(DType::kF64, {2, 3})), base);
  EXPECT_NE(unary(Shape(DType::kF32, {6})), base);
}

TEST(GraphTest, StructureHashSeesParameterReuse) {
  NodePtr a = Leaf(Shape(DType::kF32, {3}));
  NodePtr b = Leaf(Shape(DType::kF32, {3}));
  EXPECT_NE(Graph::Build({V(Make(OpKind::kMul, {V(a), V(a)}))}).StructureHash(),
            Graph::Build({V(Make(OpKind::kMul, {V(a), V(b)}))}).StructureHash());
}

TEST(GraphTest, SizeAttributes) {
  EXPECT_TRUE(IsSizeAttribute(OpKind::kReshape, "sizes"));
  EXPECT_TRUE(IsSizeAttribute(OpKind::kExpand, "sizes"));
  EXPECT_TRUE(IsSizeAttribute(OpKind::kSlice, "start"));
  EXPECT_TRUE(IsSizeAttribute(OpKind::kSlice, "end"));
  EXPECT_FALSE(IsSizeAttribute(OpKind::kSlice, "step"));
  EXPECT_FALSE(IsSizeAttribute(OpKind::kSlice, "dim"));
  EXPECT_TRUE(IsSizeAttribute(OpKind::kPad, "pads"));
  EXPECT_FALSE(IsSizeAttribute(OpKind::kPad, "value"));
  EXPECT_TRUE(IsSizeAttribute(OpKind::kArange, "size"));
  EXPECT_TRUE(IsSizeAttribute(OpKind::kRandUniform, "sizes"));
  EXPECT_FALSE(IsSizeAttribute(OpKind::kRandUniform, "dtype"));
  EXPECT_FALSE(IsSizeAttribute(OpKind::kSum, "dims"));
  EXPECT_FALSE(IsSizeAttribute(OpKind::kPermute, "perm"));
}

TEST(GraphTest, EmptyGraph) {
  Graph g = Graph::Build({});
  EXPECT_EQ(g.num_nodes(), 0);
  EXPECT_TRUE(g.parameters().empty());
  EXPECT_TRUE(g == Graph::Build({}));
}

TEST(GraphTest, DeepChainBuildsIteratively) {
  NodePtr x = Leaf(Shape(DType::kF32, {2}));
  NodePtr first = x;
  for (int i = 0; i < 50000; ++i) x = Make(OpKind::kNeg, {V(x)});
  Graph g = Graph::Build({V(x)});
  EXPECT_EQ(g.num_nodes(), 50001);
  EXPECT_EQ(g.post_order().front(), first.get());
  EXPECT_EQ(g.post_order().back(), x.get());
}

}  // namespace
}  // namespace kiln
