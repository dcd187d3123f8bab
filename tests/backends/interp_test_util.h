#pragma once
// Small graph-building and running utilities shared by the interp backend tests: make a
// parameter from host values, apply an op, compile and run the graph of some outputs
// (passing each parameter's own buffer or scalar value), and read results back.
//
//   Value x = Param<float>({2, 3}, {1, 2, 3, 4, 5, 6});
//   Value y = Op(OpKind::kSum, {x}, ReduceAttrs({1}, false));
//   EXPECT_THAT(Read<float>(RunOne(y)), ElementsAre(6, 15));
#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <vector>

#include "backends/backend.h"
#include "gtest/gtest.h"
#include "ir/graph.h"
#include "ir/node.h"

namespace kiln::interp_test {

inline Backend& Interp() { return *GetBackend("interp").value(); }

// A buffer holding `values` (bool takes 0/1 per element).
template <typename T>
BufferPtr MakeBuffer(absl::Span<const int64_t> sizes, const std::vector<T>& values) {
  const Shape shape(DTypeOf<T>, sizes);
  EXPECT_EQ(shape.numel(), static_cast<int64_t>(values.size())) << shape.ToString();
  if constexpr (std::is_same_v<T, bool>) {
    std::vector<uint8_t> bytes(values.begin(), values.end());
    return Interp().CopyIn(shape, bytes.data()).value();
  } else {
    return Interp().CopyIn(shape, values.data()).value();
  }
}

// A device_data parameter holding `values`.
template <typename T>
Value Param(std::initializer_list<int64_t> sizes, const std::vector<T>& values) {
  const std::vector<int64_t> dims(sizes);
  return Value{Node::CreateDeviceData(Shape(DTypeOf<T>, dims), MakeBuffer<T>(dims, values)), 0};
}

// A node applying `op` to `operands`; fails the test if shape inference rejects it.
inline Value Op(OpKind op, std::initializer_list<Value> operands, Attributes attrs = {}) {
  absl::StatusOr<NodePtr> node = Node::Create(op, Operands(operands), std::move(attrs));
  EXPECT_TRUE(node.ok()) << node.status();
  return node.ok() ? Value{*node, 0} : Value{};
}

inline Attributes ReduceAttrs(std::vector<int64_t> dims, bool keepdim) {
  return Attributes().Set("dims", std::move(dims)).Set("keepdim", keepdim);
}
inline Attributes DimAttr(int64_t dim) { return Attributes().Set("dim", dim); }

// Each parameter's argument: its own buffer, or its scalar value.
inline std::vector<Argument> ArgumentsOf(const Graph& graph) {
  std::vector<Argument> args;
  for (const Node* p : graph.parameters()) {
    args.push_back(p->op() == OpKind::kDeviceData ? Argument{p->data().get(), 0}
                                                  : Argument{nullptr, p->scalar_value()});
  }
  return args;
}

// Compiles the graph of `outputs` and runs it once.
inline absl::StatusOr<std::vector<BufferPtr>> TryRun(std::vector<Value> outputs) {
  const Graph graph = Graph::Build(std::move(outputs));
  absl::StatusOr<std::unique_ptr<Executable>> exe = Interp().Compile(graph);
  if (!exe.ok()) return exe.status();
  return (*exe)->Run(ArgumentsOf(graph));
}

inline BufferPtr RunOne(const Value& output) {
  absl::StatusOr<std::vector<BufferPtr>> result = TryRun({output});
  EXPECT_TRUE(result.ok()) << result.status();
  if (!result.ok()) return nullptr;
  EXPECT_EQ(result->size(), 1u);
  return result->front();
}

// The buffer's elements; fails the test if its dtype is not T's.
template <typename T>
std::vector<T> Read(const BufferPtr& buffer) {
  if (buffer == nullptr) return {};
  EXPECT_EQ(buffer->shape().dtype(), DTypeOf<T>) << buffer->shape().ToString();
  const int64_t n = buffer->shape().numel();
  if constexpr (std::is_same_v<T, bool>) {
    std::vector<uint8_t> bytes(n);
    EXPECT_TRUE(Interp().CopyOut(*buffer, bytes.data()).ok());
    return std::vector<bool>(bytes.begin(), bytes.end());
  } else {
    std::vector<T> values(n);
    EXPECT_TRUE(Interp().CopyOut(*buffer, values.data()).ok());
    return values;
  }
}

// "f32[2,3]", or "null".
inline std::string ShapeOf(const BufferPtr& buffer) {
  return buffer == nullptr ? "null" : buffer->shape().ToString();
}

}  // namespace kiln::interp_test
