#pragma once
// Size symbols: the runtime sizes of one kernel. Every dimension of a value the kernel
// reads or computes gets a size expression: empty for a size-1 dimension (broadcast
// structure, specialised in the code), otherwise a product of symbols, each of which is a
// runtime size argument. Dimensions the ops make equal share one symbol, and merged
// dimensions are products, so index arithmetic needs no division:
//
//   %0 = f32[8,64,192] device_data()       %0: [s0, s1, s2*s3]
//   %1 = f32[512,192] reshape(%0)          %1: [s0*s1, s2*s3]
//   %2 = f32[8,64,3,64] reshape(%0)        %2: [s0, s1, s2, s3]
//   %3 = f32[8,64,3,64] add(%2, %2)        %3: [s0, s1, s2, s3]
//
// Symbols are found from the ops alone, never by comparing sizes (a sequence length that
// happens to equal the head size stays its own symbol), and numbered in the order the
// kernel's nodes first mention them. So two graphs that differ only in batch or sequence
// sizes get the same expressions, hence the same source, and share one compiled library.
// Every symbol carries its current value, and an equation is only ever applied when the
// values agree, so each expression always evaluates to the dimension's size.
#include <cstdint>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "codegen/fusion_plan.h"
#include "ir/graph.h"

namespace kiln::codegen {

// A reshape maps runs of input dimensions onto runs of output dimensions with equal
// products ("groups"); trailing size-1 dimensions join the run before them.
struct ReshapeGroup {
  int64_t in_begin, in_end;    // input dimensions [in_begin, in_end)
  int64_t out_begin, out_end;  // output dimensions [out_begin, out_end)
};
std::vector<ReshapeGroup> ReshapeGroups(const Sizes& in, const Sizes& out);

class SizeSymbols {
 public:
  // Sorted symbol ids, repeats allowed; empty is the size 1.
  using Product = std::vector<int>;

  // Analyses the members of `kernel` and every node they, its stores and its loads read.
  SizeSymbols(const Graph& graph, const Kernel& kernel);

  // The size of dimension `dim` of `n` (a node the kernel touches).
  const Product& Dim(const Node* n, int64_t dim) const;
  // The sizes of every dimension of `n`.
  const std::vector<Product>& Dims(const Node* n) const;
  // The current value of each symbol, indexed by symbol id.
  const std::vector<int64_t>& values() const { return values_; }

 private:
  // A new symbol for a dimension of size `value` (the empty product for 1).
  Product Fresh(int64_t value);
  // The product with every bound symbol replaced by what it is bound to.
  Product Normalize(const Product& p) const;
  int64_t Value(const Product& p) const;
  // Records that `a` and `b` are equal sizes: binds a lone free symbol of one side to the
  // other side, after cancelling common factors. Does nothing when they cannot be solved
  // that way or their values disagree.
  void Equate(const Product& a, const Product& b);
  // Sets the sizes of `n`, replacing any whose value is not the node's size by a fresh
  // symbol (so an unforeseen case costs sharing, never correctness).
  void Set(const Node* n, std::vector<Product> dims);
  void Leaf(const Node* n);
  void Analyse(const Node* n);
  void AnalyseReshape(const Node* n);
  // Renumbers the free symbols in order of first mention and normalizes every product.
  void Finish();

  absl::flat_hash_map<const Node*, std::vector<Product>> dims_;
  std::vector<const Node*> order_;  // nodes in the order they were analysed
  std::vector<int64_t> values_;
  std::vector<Product> bound_;  // per symbol: what it is bound to
  std::vector<bool> is_bound_;
};

}  // namespace kiln::codegen
