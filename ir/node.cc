#include "ir/node.h"

#include <vector>

#include "absl/strings/str_cat.h"
#include "ir/shape_inference.h"
#include "util/status_macros.h"

namespace kiln {

Hash128 Value::hash() const {
  if (index == 0) return node->hash();
  return HashCombine(node->hash(), Hash128{static_cast<uint64_t>(index), 0});
}

Node::Node(Key, OpKind op, Operands&& operands, Attributes&& attrs, Shape&& shape,
           std::source_location location)
    : op_(op), operands_(std::move(operands)), attrs_(std::move(attrs)), location_(location) {
  // push_back, not a braced list: an initializer_list would copy the shape.
  shapes_.push_back(std::move(shape));
}

Node::~Node() {
  std::vector<NodePtr> pending;
  for (Value& v : operands_) {
    if (v.node != nullptr && v.node.use_count() == 1) pending.push_back(std::move(v.node));
  }
  while (!pending.empty()) {
    NodePtr node = std::move(pending.back());
    pending.pop_back();
    // Sole owner: take its operands first, so destroying it does not recurse. Nodes are
    // allocated non-const, so writing through const_cast is sound.
    if (node.use_count() == 1) {
      for (Value& v : const_cast<Node*>(node.get())->operands_) {
        if (v.node != nullptr) pending.push_back(std::move(v.node));
      }
    }
  }
}

absl::StatusOr<NodePtr> Node::Create(OpKind op, Operands operands, Attributes attrs,
                                     std::source_location location) {
  const int arity = OpArity(op);
  if (IsParameter(op)) {
    return absl::InvalidArgumentError(
        absl::StrCat(OpName(op), ": parameters are made with CreateDeviceData/CreateScalar"));
  }
  if (arity >= 0 ? static_cast<int>(operands.size()) != arity : operands.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(OpName(op), ": expected ",
                                                   arity >= 0 ? absl::StrCat(arity) : "at least 1",
                                                   " operands, got ", operands.size()));
  }
  // The shape is inferred straight into the new node: tracing creates a node per op, and
  // a StatusOr<Shape> built and moved along the way cost about as much as the inference.
  // A rejected op wastes the allocation, which only the error path pays.
  auto node =
      std::make_shared<Node>(Key{}, op, std::move(operands), std::move(attrs), Shape(), location);
  absl::InlinedVector<const Shape*, 3> shapes;
  for (const Value& v : node->operands_) shapes.push_back(&v.shape());
  RETURN_IF_ERROR(InferShapeInto(op, shapes, node->attrs_, &node->shapes_[0]));
  node->ComputeHash();
  return NodePtr(std::move(node));
}

NodePtr Node::CreateDeviceData(Shape shape, std::shared_ptr<Buffer> data,
                               std::source_location location) {
  auto node = std::make_shared<Node>(Key{}, OpKind::kDeviceData, Operands{}, Attributes{},
                                     std::move(shape), location);
  node->data_ = std::move(data);
  node->ComputeHash();
  return NodePtr(std::move(node));
}

NodePtr Node::CreateScalar(DType dtype, double value, std::source_location location) {
  auto node = std::make_shared<Node>(Key{}, OpKind::kScalar, Operands{}, Attributes{},
                                     Shape(dtype, {}), location);
  node->scalar_value_ = value;
  node->ComputeHash();
  return NodePtr(std::move(node));
}

void Node::ComputeHash() {
  HashBuilder h;
  h.Add(static_cast<uint64_t>(op_));
  if (!attrs_.empty()) attrs_.AddToHash(h);
  for (const Value& v : operands_) h.Add(v.hash());
  for (const Shape& s : shapes_) {
    h.Add(static_cast<uint64_t>(s.dtype())).Add(s.sizes().size());
    for (int64_t d : s.sizes()) h.Add(static_cast<uint64_t>(d));
  }
  hash_ = h.Finish();
}

std::string Node::ShortString() const { return absl::StrCat(OpName(op_), " ", shape().ToString()); }

}  // namespace kiln
