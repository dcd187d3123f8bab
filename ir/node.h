#pragma once
// IR nodes. A Node is immutable after construction and shared (NodePtr); operands are
// Values (node + output index) that own their node, so a pending tensor keeps its whole
// producing graph alive and nothing points back up (no cycles).
//
// Every node's 128-bit hash is computed once, at construction, from its op, attributes,
// operand hashes and output shapes. Leaves hash only what changes the code:
//   DeviceData: dtype + sizes, never the contents (new weights never recompile);
//   Scalar:     dtype only (a new learning rate never recompiles);
//   Constant:   dtype + value (baked into the code on purpose).
#include <cstdint>
#include <memory>
#include <source_location>
#include <vector>

#include "absl/container/inlined_vector.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "ir/attributes.h"
#include "ir/op_kind.h"
#include "ir/shape.h"
#include "util/hash.h"

namespace kiln {

class Buffer;  // backends/backend.h; the IR never looks inside
class Node;
using NodePtr = std::shared_ptr<const Node>;

// One output of a node.
struct Value {
  NodePtr node;
  int index = 0;

  const Shape& shape() const;
  Hash128 hash() const;
  explicit operator bool() const { return node != nullptr; }
  friend bool operator==(const Value& a, const Value& b) {
    return a.node == b.node && a.index == b.index;
  }
};

using Operands = absl::InlinedVector<Value, 3>;

class Node {
  struct Key {};  // only the factories below can construct a Node

 public:
  // Use Create / CreateDeviceData / CreateScalar; public only for std::make_shared, which
  // allocates the node and its reference count together.
  Node(Key, OpKind op, Operands&& operands, Attributes&& attrs, Shape&& shape,
       std::source_location location);
  // Builds a non-leaf node (or Constant/Arange, whose shape comes from attributes),
  // inferring its shape. Invalid operands give InvalidArgument (see shape_inference.h).
  // `location` is where the op was traced, for recompile explanations.
  static absl::StatusOr<NodePtr> Create(OpKind op, Operands operands, Attributes attrs,
                                        std::source_location location = {});
  // Create with the operands copied straight from `operands` into the node: the tracing
  // path, whose operands already live in their tensors and would otherwise be copied into
  // an Operands, moved into the call and moved again into the node.
  static absl::StatusOr<NodePtr> CreateByPtr(OpKind op, absl::Span<const Value* const> operands,
                                             Attributes&& attrs,
                                             std::source_location location = {});
  // A parameter leaf for a backend buffer; `data` may be null (a graph parsed from text).
  static NodePtr CreateDeviceData(Shape shape, std::shared_ptr<Buffer> data,
                                  std::source_location location = {});
  // A 0-d runtime parameter with value `value`, cast to `dtype` when it is used.
  static NodePtr CreateScalar(DType dtype, double value, std::source_location location = {});
  // Releases sole-owned operand chains iteratively: a long trace (or parsed graph) would
  // otherwise be destroyed recursively, one stack frame set per node, and overflow.
  ~Node();

  OpKind op() const { return op_; }
  const Operands& operands() const { return operands_; }
  const Value& operand(int i) const { return operands_[i]; }
  int num_operands() const { return static_cast<int>(operands_.size()); }
  const Attributes& attrs() const { return attrs_; }
  // Every op has one output today; Value::index exists so multi-output ops fit later.
  const Shape& shape(int index = 0) const { return shapes_[index]; }
  int num_outputs() const { return static_cast<int>(shapes_.size()); }
  Hash128 hash() const { return hash_; }
  const std::source_location& location() const { return location_; }

  // DeviceData only: the buffer (null in parsed graphs).
  const std::shared_ptr<Buffer>& data() const { return data_; }
  // Scalar only: the runtime value.
  double scalar_value() const { return scalar_value_; }

  // "f32[32,128] add(%1, %2)"-style rendering needs numbering from the graph; this
  // gives "add f32[32,128]" for messages.
  std::string ShortString() const;

 private:
  friend class Graph;
  // Checks that `op` is built by Create/CreateByPtr with `num_operands` operands.
  static absl::Status CheckCreatable(OpKind op, size_t num_operands);
  // Infers the output shape from the operands, then hashes: the rest of Create.
  absl::Status InferShapeAndHash();
  void ComputeHash();

  OpKind op_;
  Operands operands_;
  Attributes attrs_;
  absl::InlinedVector<Shape, 1> shapes_;
  Hash128 hash_;
  std::source_location location_;
  std::shared_ptr<Buffer> data_;
  double scalar_value_ = 0;
  // Graph::Build marks visited nodes with its epoch instead of using a hash set: this
  // keeps a 1000-node cache-hit lookup in microseconds. Only touched under the
  // executor's lock.
  mutable uint64_t visit_epoch_ = 0;
  mutable int32_t visit_index_ = -1;
};

inline const Shape& Value::shape() const { return node->shape(index); }

// Whether `node` is a permute that swaps the last two dimensions and keeps the others
// (x @ W^T's W^T): what BLAS takes as a transpose flag instead of a copy.
bool IsLastTwoTranspose(const Node& node);

}  // namespace kiln
