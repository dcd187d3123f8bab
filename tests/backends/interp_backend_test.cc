// The interp backend's buffers and executables: transfers, reserved dtypes, argument
// checks, scalar parameters, executables that outlive their graph, parameter and
// duplicate outputs.
#include "backends/interp/interp_backend.h"

#include <cstdint>
#include <memory>
#include <vector>

#include "backends/interp/interp_executable.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/backends/interp_test_util.h"

namespace kiln::interp_test {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// A buffer of some other backend.
class ForeignBuffer : public Buffer {
 public:
  using Buffer::Buffer;
};

TEST(InterpBackendTest, GetBackendNamesIt) {
  absl::StatusOr<Backend*> backend = GetBackend("interp");
  ASSERT_TRUE(backend.ok());
  EXPECT_STREQ((*backend)->name(), "interp");
}

TEST(InterpBackendTest, CopyInCopyOutRoundTrip) {
  const std::vector<int64_t> values = {-3, 1LL << 40, 7};
  BufferPtr buffer = Interp().CopyIn(Shape(DType::kI64, {3}), values.data()).value();
  EXPECT_EQ(ShapeOf(buffer), "i64[3]");
  EXPECT_NE(dynamic_cast<InterpBuffer*>(buffer.get()), nullptr);
  std::vector<int64_t> back(3, 0);
  ASSERT_TRUE(Interp().CopyOut(*buffer, back.data()).ok());
  EXPECT_EQ(back, values);
}

TEST(InterpBackendTest, CopyInNormalisesBool) {
  const uint8_t bytes[] = {0, 1, 2, 255};
  BufferPtr buffer = Interp().CopyIn(Shape(DType::kBool, {4}), bytes).value();
  uint8_t back[4] = {9, 9, 9, 9};
  ASSERT_TRUE(Interp().CopyOut(*buffer, back).ok());
  EXPECT_THAT(back, ElementsAre(0, 1, 1, 1));
}

TEST(InterpBackendTest, AllocateAndEmptyBuffers) {
  BufferPtr buffer = Interp().Allocate(Shape(DType::kF64, {2, 2})).value();
  EXPECT_EQ(ShapeOf(buffer), "f64[2,2]");
  BufferPtr empty = Interp().CopyIn(Shape(DType::kF32, {0, 4}), nullptr).value();
  EXPECT_EQ(ShapeOf(empty), "f32[0,4]");
  EXPECT_TRUE(Interp().CopyOut(*empty, nullptr).ok());
}

TEST(InterpBackendTest, ReservedDTypesAreUnimplemented) {
  const uint16_t halves[2] = {0x3c00, 0x4000};
  EXPECT_EQ(Interp().Allocate(Shape(DType::kF16, {2})).status().code(),
            absl::StatusCode::kUnimplemented);
  EXPECT_EQ(Interp().CopyIn(Shape(DType::kBF16, {2}), halves).status().code(),
            absl::StatusCode::kUnimplemented);
  const Graph graph =
      Graph::Build({Value{Node::CreateDeviceData(Shape(DType::kF16, {2}), nullptr), 0}});
  absl::StatusOr<std::unique_ptr<Executable>> exe = Interp().Compile(graph);
  EXPECT_EQ(exe.status().code(), absl::StatusCode::kUnimplemented);
  EXPECT_THAT(exe.status().message(), HasSubstr("f16"));
}

TEST(InterpBackendTest, CopyOutRejectsForeignBuffer) {
  ForeignBuffer foreign(Shape(DType::kF32, {2}));
  float host[2];
  const absl::Status status = Interp().CopyOut(foreign, host);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("f32[2]"));
}

TEST(InterpBackendTest, ScalarParameterChangesWithoutRecompiling) {
  const Value x = Param<float>({3}, {1, 2, 3});
  const Value s{Node::CreateScalar(DType::kF32, 2.0), 0};
  const Graph graph = Graph::Build({Op(OpKind::kMul, {x, s})});
  ASSERT_EQ(graph.parameters().size(), 2u);
  std::unique_ptr<Executable> exe = Interp().Compile(graph).value();
  std::vector<Argument> args = ArgumentsOf(graph);
  EXPECT_THAT(Read<float>(exe->Run(args).value()[0]), ElementsAre(2, 4, 6));
  args[1].scalar = -0.5;
  EXPECT_THAT(Read<float>(exe->Run(args).value()[0]), ElementsAre(-0.5f, -1, -1.5f));
}

TEST(InterpBackendTest, ScalarArgumentIsConvertedToItsDType) {
  const Value x = Param<int32_t>({2}, {10, 20});
  const Value s{Node::CreateScalar(DType::kI32, 0), 0};
  const Graph graph = Graph::Build({Op(OpKind::kAdd, {x, s})});
  std::unique_ptr<Executable> exe = Interp().Compile(graph).value();
  std::vector<Argument> args = ArgumentsOf(graph);
  args[1].scalar = -2.9;  // truncates toward zero
  EXPECT_THAT(Read<int32_t>(exe->Run(args).value()[0]), ElementsAre(8, 18));
}

TEST(InterpBackendTest, ExecutableOutlivesGraphAndHoldsNoData) {
  std::unique_ptr<Executable> exe;
  std::weak_ptr<Buffer> input_buffer;
  std::weak_ptr<const Node> input_node;
  {
    const Value x = Param<float>({2, 2}, {1, 2, 3, 4});
    const Value y = Param<float>({2}, {10, 20});
    const Value sum = Op(OpKind::kSum, {Op(OpKind::kAdd, {x, y})}, ReduceAttrs({1}, false));
    const Graph graph = Graph::Build({sum});
    exe = Interp().Compile(graph).value();
    EXPECT_THAT(Read<float>(exe->Run(ArgumentsOf(graph)).value()[0]), ElementsAre(33, 37));
    input_buffer = x.node->data();
    input_node = x.node;
  }
  // Graph, nodes and the buffers they held are gone: the executable kept none of them.
  EXPECT_TRUE(input_buffer.expired());
  EXPECT_TRUE(input_node.expired());
  BufferPtr x2 = MakeBuffer<float>({2, 2}, {-1, -2, -3, -4});
  BufferPtr y2 = MakeBuffer<float>({2}, {0.5f, 0.25f});
  const std::vector<Argument> args = {{x2.get(), 0}, {y2.get(), 0}};
  EXPECT_THAT(Read<float>(exe->Run(args).value()[0]), ElementsAre(-2.25f, -6.25f));
}

TEST(InterpBackendTest, OutputsMayBeParametersAndRepeat) {
  const Value x = Param<double>({2}, {0, 1});
  const Value e = Op(OpKind::kExp, {x});
  absl::StatusOr<std::vector<BufferPtr>> out = TryRun({x, e, x, e});
  ASSERT_TRUE(out.ok()) << out.status();
  ASSERT_EQ(out->size(), 4u);
  EXPECT_THAT(Read<double>((*out)[0]), ElementsAre(0, 1));
  EXPECT_THAT(Read<double>((*out)[1]), ElementsAre(1, std::exp(1.0)));
  // Buffers are immutable, so repeated outputs share one buffer.
  EXPECT_EQ((*out)[0], (*out)[2]);
  EXPECT_EQ((*out)[1], (*out)[3]);
}

TEST(InterpBackendTest, ParameterUsedTwiceAndParameterOrder) {
  const Value a = Param<int64_t>({2}, {5, 7});
  const Value b = Param<int64_t>({2}, {1, 2});
  // a - b, then (a - b) * a: a is one parameter, used twice.
  const Value diff = Op(OpKind::kSub, {a, b});
  const Graph graph = Graph::Build({Op(OpKind::kMul, {diff, a})});
  ASSERT_EQ(graph.parameters().size(), 2u);
  std::unique_ptr<Executable> exe = Interp().Compile(graph).value();
  EXPECT_THAT(Read<int64_t>(exe->Run(ArgumentsOf(graph)).value()[0]), ElementsAre(20, 35));
  // Swapping the arguments swaps the roles.
  const std::vector<Argument> swapped = {{b.node->data().get(), 0}, {a.node->data().get(), 0}};
  EXPECT_THAT(Read<int64_t>(exe->Run(swapped).value()[0]), ElementsAre(-4, -10));
}

TEST(InterpBackendTest, LongChainReleasesIntermediates) {
  // 200 steps over one f32[1000] (4000 bytes): each step reads only its predecessor, so
  // at most two computed buffers are alive at once; keeping the first step as a second
  // output holds one more to the end.
  const Value x = Param<float>({1000}, std::vector<float>(1000, 0.5f));
  const Value one = Param<float>({}, {1});
  const Value first = Op(OpKind::kAdd, {x, one});
  Value v = first;
  for (int i = 1; i < 200; ++i) v = Op(OpKind::kAdd, {v, one});
  const Graph chain = Graph::Build({v});
  std::unique_ptr<Executable> exe = Interp().Compile(chain).value();
  EXPECT_EQ(dynamic_cast<InterpExecutable&>(*exe).peak_bytes(), 2 * 4000);
  const std::vector<float> result = Read<float>(exe->Run(ArgumentsOf(chain)).value()[0]);
  EXPECT_EQ(result.front(), 200.5f);
  EXPECT_EQ(result.back(), 200.5f);

  const Graph both = Graph::Build({v, first});
  std::unique_ptr<Executable> exe2 = Interp().Compile(both).value();
  EXPECT_EQ(dynamic_cast<InterpExecutable&>(*exe2).peak_bytes(), 3 * 4000);
  const std::vector<BufferPtr> out = exe2->Run(ArgumentsOf(both)).value();
  EXPECT_EQ(Read<float>(out[1]).front(), 1.5f);
}

TEST(InterpBackendTest, RunChecksArguments) {
  const Value x = Param<float>({2}, {1, 2});
  const Graph graph = Graph::Build({Op(OpKind::kNeg, {x})});
  std::unique_ptr<Executable> exe = Interp().Compile(graph).value();

  absl::Status status = exe->Run({}).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("1 parameters but 0 arguments"));

  BufferPtr wrong = MakeBuffer<float>({3}, {1, 2, 3});
  status = exe->Run({Argument{wrong.get(), 0}}).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(),
              HasSubstr("argument 0 is f32[3] but the graph's parameter 0 is f32[2]"));

  BufferPtr wrong_dtype = MakeBuffer<double>({2}, {1, 2});
  EXPECT_EQ(exe->Run({Argument{wrong_dtype.get(), 0}}).status().code(),
            absl::StatusCode::kInvalidArgument);

  EXPECT_EQ(exe->Run({Argument{nullptr, 0}}).status().code(), absl::StatusCode::kInvalidArgument);

  ForeignBuffer foreign(Shape(DType::kF32, {2}));
  status = exe->Run({Argument{&foreign, 0}}).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("not an interp buffer"));
}

TEST(InterpBackendTest, ErrorInTheMiddleOfAGraphIsReturned) {
  const Value a = Param<int32_t>({2}, {4, 6});
  const Value b = Param<int32_t>({2}, {2, 2});
  // (a / (b - 2)): the divisor is computed, not a parameter.
  const Value quotient = Op(OpKind::kDiv, {a, Op(OpKind::kSub, {b, b})});
  absl::StatusOr<std::vector<BufferPtr>> out = TryRun({Op(OpKind::kNeg, {quotient})});
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.status().message(), "div: integer division by zero");
}

}  // namespace
}  // namespace kiln::interp_test
