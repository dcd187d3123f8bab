#pragma once
// Graph: the nodes reachable from a list of outputs, in post-order, plus the parameter
// leaves (DeviceData and Scalar) in first-visit order. This is what a backend compiles
// and what the compile cache keys on.
//
//   Graph g = Graph::Build({loss.value, new_weight.value});
//   g.hash();         // structure + shapes + how parameters are used; never data
//   g.parameters();   // what Executable::Run takes, in this order
#include <cstdint>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "ir/node.h"
#include "util/hash.h"

namespace kiln {

class Graph {
 public:
  Graph() = default;
  // Collects the nodes reachable from `outputs`, operands left to right, in post-order.
  static Graph Build(std::vector<Value> outputs);

  const std::vector<Value>& outputs() const { return outputs_; }
  // Every reachable node, operands before users. Owned through `outputs`.
  const std::vector<const Node*>& post_order() const { return post_order_; }
  // DeviceData and Scalar leaves in first-visit order.
  const std::vector<const Node*>& parameters() const { return parameters_; }

  // Combines the output hashes with the parameter-use sequence (which parameter each
  // leaf operand refers to), so `a + a` and `a + b` with equal shapes differ.
  Hash128 hash() const { return hash_; }
  // Like hash() but blind to sizes (dtypes and ranks still count) and to attributes
  // that only restate sizes (reshape/expand sizes, slice bounds, pads, arange size):
  // two graphs with equal structure hashes differ only in shapes. Computed on demand.
  Hash128 StructureHash() const;

  int64_t num_nodes() const { return static_cast<int64_t>(post_order_.size()); }

  // Same hash and same printed text.
  friend bool operator==(const Graph& a, const Graph& b);

 private:
  std::vector<Value> outputs_;
  std::vector<const Node*> post_order_;
  std::vector<const Node*> parameters_;
  Hash128 hash_;
};

// Attribute names whose values only restate sizes, excluded from StructureHash.
bool IsSizeAttribute(OpKind op, std::string_view attr_name);

// The shape-free identity of `node` at its place in a post-order: its op, non-size
// attributes, operands (by post-order position, from `position_of`), dtype and rank.
// Graph::StructureHash combines these; recompile explanations compare them node by node.
Hash128 NodeStructureKey(const Node& node,
                         const absl::flat_hash_map<const Node*, int>& position_of);

}  // namespace kiln
