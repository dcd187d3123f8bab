#include "ir/node.h"

#include <pthread.h>

#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "backends/backend.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kiln {
namespace {

using ::testing::HasSubstr;

NodePtr Make(OpKind op, Operands operands, Attributes attrs = {}) {
  absl::StatusOr<NodePtr> node = Node::Create(op, std::move(operands), std::move(attrs));
  EXPECT_TRUE(node.ok()) << node.status();
  return node.ok() ? *node : nullptr;
}

Value V(NodePtr node) { return Value{std::move(node), 0}; }

NodePtr Leaf(DType dtype, std::initializer_list<int64_t> sizes) {
  return Node::CreateDeviceData(Shape(dtype, sizes), nullptr);
}

Attributes SumAttrs(std::vector<int64_t> dims, bool keepdim) {
  return Attributes().Set("dims", std::move(dims)).Set("keepdim", keepdim);
}

// sum(x * y + x, dims) with fresh leaves each time.
NodePtr BuildExpression(Shape x_shape, std::vector<int64_t> dims, bool keepdim) {
  NodePtr x = Node::CreateDeviceData(x_shape, nullptr);
  NodePtr y = Node::CreateDeviceData(x_shape, nullptr);
  NodePtr mul = Make(OpKind::kMul, {V(x), V(y)});
  NodePtr add = Make(OpKind::kAdd, {V(mul), V(x)});
  return Make(OpKind::kSum, {V(add)}, SumAttrs(std::move(dims), keepdim));
}

TEST(NodeTest, CreateInfersShapeAndKeepsInputs) {
  NodePtr a = Leaf(DType::kF32, {2, 3});
  NodePtr b = Leaf(DType::kF32, {3});
  NodePtr add = Make(OpKind::kAdd, {V(a), V(b)});
  ASSERT_NE(add, nullptr);
  EXPECT_EQ(add->op(), OpKind::kAdd);
  EXPECT_EQ(add->shape(), Shape(DType::kF32, {2, 3}));
  EXPECT_EQ(add->num_operands(), 2);
  EXPECT_EQ(add->operand(0).node, a);
  EXPECT_EQ(add->operand(1).node, b);
  EXPECT_EQ(add->num_outputs(), 1);
  EXPECT_TRUE(add->attrs().empty());
  EXPECT_EQ(add->ShortString(), "add f32[2,3]");
  EXPECT_EQ(V(add).shape(), Shape(DType::kF32, {2, 3}));
}

TEST(NodeTest, CreateRejectsBadInput) {
  NodePtr a = Leaf(DType::kF32, {2});
  absl::StatusOr<NodePtr> wrong_count = Node::Create(OpKind::kAdd, {V(a)}, {});
  ASSERT_FALSE(wrong_count.ok());
  EXPECT_EQ(wrong_count.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(wrong_count.status().message(), "add: expected 2 operands, got 1");

  absl::StatusOr<NodePtr> parameter = Node::Create(OpKind::kDeviceData, {}, {});
  ASSERT_FALSE(parameter.ok());
  EXPECT_THAT(std::string(parameter.status().message()), HasSubstr("device_data:"));

  absl::StatusOr<NodePtr> bad_shape = Node::Create(OpKind::kExp, {V(Leaf(DType::kI32, {2}))}, {});
  ASSERT_FALSE(bad_shape.ok());
  EXPECT_EQ(bad_shape.status().message(), "exp: expected a floating dtype, got i32[2]");
}

TEST(NodeTest, CreateByPtrRecordsWhatCreateRecords) {
  const Value a = V(Leaf(DType::kF32, {2, 3}));
  const Value b = V(Leaf(DType::kF32, {3}));
  absl::StatusOr<NodePtr> by_ptr = Node::CreateByPtr(OpKind::kAdd, {&a, &b}, Attributes());
  ASSERT_TRUE(by_ptr.ok()) << by_ptr.status();
  NodePtr by_value = Make(OpKind::kAdd, {a, b});
  EXPECT_EQ((*by_ptr)->hash(), by_value->hash());
  EXPECT_EQ((*by_ptr)->shape(), by_value->shape());
  EXPECT_EQ((*by_ptr)->operands(), by_value->operands());

  absl::StatusOr<NodePtr> wrong_count = Node::CreateByPtr(OpKind::kAdd, {&a}, Attributes());
  ASSERT_FALSE(wrong_count.ok());
  EXPECT_EQ(wrong_count.status().message(), "add: expected 2 operands, got 1");
}

TEST(NodeTest, HashTellsDTypeAndRankApart) {
  EXPECT_NE(Leaf(DType::kF32, {6})->hash(), Leaf(DType::kF32, {6, 1})->hash());
  EXPECT_NE(Leaf(DType::kF32, {6})->hash(), Leaf(DType::kI32, {6})->hash());
  EXPECT_NE(Leaf(DType::kF32, {})->hash(), Leaf(DType::kF32, {1})->hash());
  EXPECT_NE(Node::CreateScalar(DType::kF32, 1)->hash(), Node::CreateScalar(DType::kF64, 1)->hash());
}

TEST(NodeTest, HashIsStableAcrossRebuilds) {
  NodePtr first = BuildExpression(Shape(DType::kF32, {4, 5}), {1}, false);
  NodePtr second = BuildExpression(Shape(DType::kF32, {4, 5}), {1}, false);
  EXPECT_NE(first, second);
  EXPECT_EQ(first->hash(), second->hash());
}

TEST(NodeTest, HashChangesWithAttributesShapesAndDTypes) {
  const Hash128 base = BuildExpression(Shape(DType::kF32, {4, 5}), {1}, false)->hash();
  EXPECT_NE(BuildExpression(Shape(DType::kF32, {4, 5}), {0}, false)->hash(), base);
  EXPECT_NE(BuildExpression(Shape(DType::kF32, {4, 5}), {1}, true)->hash(), base);
  EXPECT_NE(BuildExpression(Shape(DType::kF32, {4, 6}), {1}, false)->hash(), base);
  EXPECT_NE(BuildExpression(Shape(DType::kF32, {5, 4}), {1}, false)->hash(), base);
  EXPECT_NE(BuildExpression(Shape(DType::kF64, {4, 5}), {1}, false)->hash(), base);
}

TEST(NodeTest, HashDependsOnOpAndCastDType) {
  NodePtr x = Leaf(DType::kF32, {3});
  EXPECT_NE(Make(OpKind::kExp, {V(x)})->hash(), Make(OpKind::kLog, {V(x)})->hash());
  EXPECT_NE(Make(OpKind::kCast, {V(x)}, Attributes().Set("dtype", DType::kI32))->hash(),
            Make(OpKind::kCast, {V(x)}, Attributes().Set("dtype", DType::kI64))->hash());
  EXPECT_EQ(Make(OpKind::kExp, {V(x)})->hash(), Make(OpKind::kExp, {V(x)})->hash());
}

TEST(NodeTest, DeviceDataHashIgnoresTheBuffer) {
  const Shape shape(DType::kF32, {2, 2});
  NodePtr with_buffer = Node::CreateDeviceData(shape, std::make_shared<Buffer>(shape));
  NodePtr other_buffer = Node::CreateDeviceData(shape, std::make_shared<Buffer>(shape));
  NodePtr without = Node::CreateDeviceData(shape, nullptr);
  EXPECT_NE(with_buffer->data(), nullptr);
  EXPECT_EQ(without->data(), nullptr);
  EXPECT_EQ(with_buffer->hash(), other_buffer->hash());
  EXPECT_EQ(with_buffer->hash(), without->hash());
  EXPECT_NE(Node::CreateDeviceData(Shape(DType::kF32, {4}), nullptr)->hash(), without->hash());
  EXPECT_NE(Node::CreateDeviceData(Shape(DType::kI32, {2, 2}), nullptr)->hash(), without->hash());
}

TEST(NodeTest, ScalarHashIgnoresTheValue) {
  NodePtr a = Node::CreateScalar(DType::kF32, 0.1);
  NodePtr b = Node::CreateScalar(DType::kF32, 0.25);
  EXPECT_DOUBLE_EQ(a->scalar_value(), 0.1);
  EXPECT_DOUBLE_EQ(b->scalar_value(), 0.25);
  EXPECT_EQ(a->shape(), Shape(DType::kF32, {}));
  EXPECT_EQ(a->hash(), b->hash());
  EXPECT_NE(Node::CreateScalar(DType::kF64, 0.1)->hash(), a->hash());
  // A scalar and a 0-d buffer are different parameters.
  EXPECT_NE(Node::CreateDeviceData(Shape(DType::kF32, {}), nullptr)->hash(), a->hash());
}

TEST(NodeTest, ConstantHashIncludesTheValue) {
  auto constant = [](double value) {
    return Make(OpKind::kConstant, {}, Attributes().Set("value", value).Set("dtype", DType::kF32));
  };
  EXPECT_EQ(constant(0.5)->shape(), Shape(DType::kF32, {}));
  EXPECT_EQ(constant(0.5)->hash(), constant(0.5)->hash());
  EXPECT_NE(constant(0.5)->hash(), constant(0.75)->hash());
  EXPECT_NE(constant(0.0)->hash(), constant(-0.0)->hash());
}

TEST(NodeTest, NanConstantsHashAlike) {
  auto constant = [](double value) {
    return Make(OpKind::kConstant, {}, Attributes().Set("value", value).Set("dtype", DType::kF64));
  };
  const double quiet = std::numeric_limits<double>::quiet_NaN();
  EXPECT_EQ(constant(quiet)->hash(), constant(-quiet)->hash());
}

TEST(NodeTest, ValueHashIncludesOutputIndex) {
  NodePtr x = Leaf(DType::kF32, {2});
  EXPECT_EQ((Value{x, 0}).hash(), x->hash());
  EXPECT_NE((Value{x, 1}).hash(), x->hash());
  EXPECT_EQ((Value{x, 0}), V(x));
  EXPECT_FALSE(static_cast<bool>(Value{}));
}

TEST(NodeTest, OperandsKeepTheirProducersAlive) {
  std::weak_ptr<const Node> weak_leaf;
  NodePtr neg;
  {
    NodePtr leaf = Leaf(DType::kF32, {2});
    weak_leaf = leaf;
    neg = Make(OpKind::kNeg, {V(leaf)});
  }
  EXPECT_FALSE(weak_leaf.expired());
  neg.reset();
  EXPECT_TRUE(weak_leaf.expired());
}

// Runs `fn` on a thread with a small stack, so unbounded recursion fails quickly.
void RunWithSmallStack(void (*fn)()) {
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, 256 * 1024);
  pthread_t thread;
  ASSERT_EQ(pthread_create(
                &thread, &attr,
                [](void* arg) -> void* {
                  reinterpret_cast<void (*)()>(arg)();
                  return nullptr;
                },
                reinterpret_cast<void*>(fn)),
            0);
  pthread_join(thread, nullptr);
  pthread_attr_destroy(&attr);
}

TEST(NodeTest, LongChainIsDestroyedWithoutDeepRecursion) {
  static bool destroyed = false;
  RunWithSmallStack([] {
    NodePtr x = Leaf(DType::kF32, {2});
    for (int i = 0; i < 100000; ++i) x = *Node::Create(OpKind::kNeg, {V(x)}, {});
    std::weak_ptr<const Node> first = x->operand(0).node;
    x.reset();
    destroyed = first.expired();
  });
  EXPECT_TRUE(destroyed);
}

TEST(NodeTest, SharedOperandsSurviveTheirUsers) {
  NodePtr leaf = Leaf(DType::kF32, {2});
  NodePtr shared = Make(OpKind::kExp, {V(leaf)});
  NodePtr user = Make(OpKind::kAdd, {V(shared), V(shared)});
  user.reset();
  ASSERT_EQ(shared->num_operands(), 1);
  EXPECT_EQ(shared->operand(0).node, leaf);
}

}  // namespace
}  // namespace kiln
