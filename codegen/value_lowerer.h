#pragma once
// Lowers graph values to the expressions of one kernel (codegen/kernel_ir.h): the value
// of node n at an index tuple (one index expression per dimension) becomes an expression
// over loop variables, size symbols (codegen/size_symbols.h), loads and scalars. A
// member is computed from its operands; anything else is loaded from a buffer.
//
//   Lower(%3 = exp(sub(%0, %1')), {i0, i1})  ->  exp(b0[i0*n1 + i1] - e7)
//
// Views become index arithmetic on the loads (reshape = linearise and delinearise,
// permute, expand = index 0, slice = start + i*step, pad = a bounds test that masks the
// load and selects the pad value, concat = a select by range); gather and index_select
// load their index and range-check it; a reduction owns new loop variables.
#include <cstdint>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "codegen/expr_builder.h"
#include "codegen/fusion_plan.h"
#include "codegen/kernel_ir.h"
#include "codegen/size_symbols.h"
#include "ir/graph.h"

namespace kiln::codegen {

using Idx = std::vector<int>;  // one index expression per dimension

// A check of `kind` failing at `op`, the node at post-order position `order`.
codegen::Check NewCheck(Check::Kind kind, OpKind op, int order);

class ValueLowerer : public ExprBuilder {
 public:
  // Kernel `index` (the function's name) of a plan over `graph`.
  ValueLowerer(const Graph& graph, const Kernel& kernel, int index);

  // The value of `n` at `idx`. `guard` (a bool expression, or True()) masks every load
  // it needs, for values read only where the guard holds (a pad's inside).
  absl::StatusOr<int> Lower(const Node* n, const Idx& idx, int guard);

  // A loop variable over dimension `dim` of `n`, and its expression.
  int NewVar(const Node* n, int64_t dim);
  int VarExpr(int var) const { return vars_expr_[var]; }
  // The size of dimension `dim` of `n`: 1, or a product of size symbols.
  int Size(const Node* n, int64_t dim);
  // The row-major element offset of `idx` in `n`.
  int Linearize(const Idx& idx, const Node* n);
  // `value`, checked by `check` where `guard` holds; `position` is reported on failure,
  // `bound` is an index's exclusive bound.
  int Check(codegen::Check check, int value, int guard, int position, int bound = -1);
  // Whether `a` and `b` have the same size symbols in every dimension.
  bool SameSizes(const Node* a, const Node* b) const;

  // From now on a reduction of a value with `row`'s sizes over the dimensions marked in
  // `reduced` iterates var_of[d] for each reduced d instead of new variables (nullptr:
  // new variables again).
  void ShareReducedVars(const Node* row, std::vector<bool> reduced, std::vector<int> var_of) {
    shared_row_ = row;
    shared_reduced_ = std::move(reduced);
    shared_vars_ = std::move(var_of);
  }

  // The kernel's buffer holding `n` as an input or output (added on first use).
  int InputBuffer(const Node* n);
  int OutputBuffer(const Node* n);
  // From now on the member `n` is read back from its output buffer (after a BLAS call or
  // a scatter wrote it) instead of computed.
  void Materialize(const Node* n) { materialized_.insert(Pos(n)); }
  bool Member(const Node* n) const { return members_.contains(Pos(n)); }
  // The post-order position of `n` in the graph.
  int Pos(const Node* n) const { return pos_.at(n); }

  const Graph& graph() const { return graph_; }
  const Kernel& kernel() const { return kernel_; }
  const SizeSymbols& syms() const { return syms_; }
  KernelIR& ir() { return ir_; }

 private:
  absl::StatusOr<int> LowerOp(const Node* n, const Idx& idx, int guard);
  absl::StatusOr<int> LowerView(const Node* n, const Idx& idx, int guard);
  absl::StatusOr<int> LowerReduce(const Node* n, const Idx& idx, int guard);
  absl::StatusOr<int> LowerIndexing(const Node* n, const Idx& idx, int guard);
  absl::StatusOr<int> LowerMatmul(const Node* n, const Idx& idx, int guard);
  absl::StatusOr<int> LoadValue(const Node* n, const Idx& idx, int guard);
  Idx Broadcast(const Shape& operand, const Shape& out, const Idx& idx);

  const Graph& graph_;
  const Kernel& kernel_;
  const SizeSymbols syms_;
  KernelIR ir_;
  absl::flat_hash_map<const Node*, int> pos_;
  absl::flat_hash_set<int> members_;
  absl::flat_hash_set<int> materialized_;  // members read back from their buffer
  absl::flat_hash_map<std::string, int> memo_;
  absl::flat_hash_map<int, int> input_of_;   // node position -> buffer
  absl::flat_hash_map<int, int> output_of_;  // node position -> buffer
  absl::flat_hash_map<int, int> scalar_of_;  // node position -> scalar argument
  std::vector<int> vars_expr_;
  // The index runs a reshape made by delinearising: indices `ids` of dimensions of sizes
  // `dims` are the digits of `flat` in those sizes. Linearize turns such a run back into
  // `flat` rather than multiplying the digits out again: a reshape of a row-major tensor
  // then loads at the flat offset, with no division or remainder per element.
  struct Digits {
    std::vector<int> ids;
    std::vector<SizeSymbols::Product> dims;
    int flat;
  };
  std::vector<Digits> digits_;
  const Node* shared_row_ = nullptr;  // ShareReducedVars
  std::vector<bool> shared_reduced_;
  std::vector<int> shared_vars_;
};

}  // namespace kiln::codegen
