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

absl::Status Node::CheckCreatable(OpKind op, size_t num_operands) {
  const int arity = OpArity(op);
  if (IsParameter(op)) [[unlikely]] {
    return absl::InvalidArgumentError(
        absl::StrCat(OpName(op), ": parameters are made with CreateDeviceData/CreateScalar"));
  }
  if (arity >= 0 ? num_operands != static_cast<size_t>(arity) : num_operands == 0) [[unlikely]] {
    return absl::InvalidArgumentError(absl::StrCat(OpName(op), ": expected ",
                                                   arity >= 0 ? absl::StrCat(arity) : "at least 1",
                                                   " operands, got ", num_operands));
  }
  return absl::OkStatus();
}

// The shape is inferred straight into the new node: tracing creates a node per op, and a
// StatusOr<Shape> built and moved along the way cost about as much as the inference. A
// rejected op wastes the allocation, which only the error path pays.
absl::StatusOr<NodePtr> Node::Create(OpKind op, Operands operands, Attributes attrs,
                                     std::source_location location) {
  RETURN_IF_ERROR(CheckCreatable(op, operands.size()));
  auto node =
      std::make_shared<Node>(Key{}, op, std::move(operands), std::move(attrs), Shape(), location);
  RETURN_IF_ERROR(node->InferShapeAndHash());
  return NodePtr(std::move(node));
}

absl::StatusOr<NodePtr> Node::CreateByPtr(OpKind op, absl::Span<const Value* const> operands,
                                          Attributes&& attrs, std::source_location location) {
  RETURN_IF_ERROR(CheckCreatable(op, operands.size()));
  auto node = std::make_shared<Node>(Key{}, op, Operands(), std::move(attrs), Shape(), location);
  for (const Value* v : operands) node->operands_.push_back(*v);
  RETURN_IF_ERROR(node->InferShapeAndHash());
  return NodePtr(std::move(node));
}

absl::Status Node::InferShapeAndHash() {
  // A plain array for the usual one to three operands; only a long concat allocates.
  constexpr size_t kInlineOperands = 3;
  const Shape* inline_shapes[kInlineOperands];
  std::vector<const Shape*> many_shapes;
  const Shape** shapes = inline_shapes;
  if (operands_.size() > kInlineOperands) {
    many_shapes.resize(operands_.size());
    shapes = many_shapes.data();
  }
  for (size_t i = 0; i < operands_.size(); ++i) shapes[i] = &operands_[i].shape();
  RETURN_IF_ERROR(
      InferShapeInto(op_, absl::MakeConstSpan(shapes, operands_.size()), attrs_, &shapes_[0]));
  ComputeHash();
  return absl::OkStatus();
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
  for (const Value& v : operands_) h.Add(v.index == 0 ? v.node->hash() : v.hash());
  for (const Shape& s : shapes_) {
    // dtype and rank share a word (both are far below 2^32): a binary op on a 2-d tensor
    // then hashes 64 bytes, one XXH3 round fewer than 72.
    h.Add(static_cast<uint64_t>(s.dtype()) << 32 | static_cast<uint64_t>(s.sizes().size()));
    for (int64_t d : s.sizes()) h.Add(static_cast<uint64_t>(d));
  }
  hash_ = h.Finish();
}

std::string Node::ShortString() const { return absl::StrCat(OpName(op_), " ", shape().ToString()); }

bool IsLastTwoTranspose(const Node& node) {
  if (node.op() != OpKind::kPermute) return false;
  const std::vector<int64_t>& perm = node.attrs().GetInts("perm");
  const int64_t r = static_cast<int64_t>(perm.size());
  if (r < 2) return false;
  for (int64_t i = 0; i + 2 < r; ++i) {
    if (perm[i] != i) return false;
  }
  return perm[r - 2] == r - 1 && perm[r - 1] == r - 2;
}

}  // namespace kiln
