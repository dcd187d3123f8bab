#pragma once
// What the C++ and CUDA emitters share when they print one kernel of kernel IR
// (codegen/kernel_ir.h) as source text: expression placement (each expression is printed
// in the outermost scope whose loop variables are bound, once per scope), the text of
// loads, index arithmetic, elementwise ops, checks and stores, and the helpers that
// flatten and unflatten loop variables. The emitters (cpp_kernel_emitter.h,
// cuda_kernel_emitter.h) subclass it and print the loops, reductions and the function.
//
//   expression e7 = exp(load b0[i0*n1 + i1])   ->   const float v7 = km::ExpF(b0[v5]);  (C++)
//                                                   const float v7 = expf(b0[v5]);      (CUDA)
#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "codegen/kernel_ir.h"

namespace kiln::codegen::internal {

// The language a kernel is printed in; it decides the spelling of math functions,
// selects and accumulating stores.
enum class Dialect { kHostCpp, kCuda };

// The text of codegen/kernel_numerics.h (element semantics: casts, wrapping integer
// arithmetic, NaN-propagating max/min), which every generated unit starts with.
const char* KernelNumericsText();

// The C type of `dtype`.
const char* CType(DType dtype);

// The element type of a buffer of `dtype` (bool buffers are read as bytes).
const char* StorageType(DType dtype);

// The C literal of a constant expression.
std::string Literal(const Expr& e);

// A reduction's accumulator type: sum, mean and prod accumulate in their acc_dtype, max,
// min and argmax in the type of the values they reduce (`body`).
const char* ReduceAccType(const Expr& x, DType body);

// The value a reduction starts from: its identity (argmax: the lowest value).
std::string ReduceIdentity(const Expr& x, DType body);

// The text of `acc` combined with `v` (an element or another partial result) by a sum,
// mean, prod, max or min.
std::string ReduceStep(OpKind op, const std::string& acc, const std::string& v);

class KernelPrinter {
 public:
  KernelPrinter(const KernelIR& ir, Dialect dialect)
      : ir_(ir),
        dialect_(dialect),
        emitted_(ir.exprs.size(), false),
        replaced_text_(ir.exprs.size()) {
    ComputeDeps();
  }
  virtual ~KernelPrinter() = default;

 protected:
  void Line(const std::string& s) {
    absl::StrAppend(&out_, std::string(indent_ * 2, ' '), s, "\n");
  }
  // The C name or inline text of an emitted expression.
  std::string Ref(int e) const;
  // The value of reduction `x` from its accumulator `acc`, in x's dtype: a mean divides by
  // its count, an argmax takes the position it kept.
  std::string ReduceResult(const Expr& x, const std::string& acc) const;
  std::string VarSize(int var) const { return Ref(ir_.vars[var].size_expr); }
  // Opens `for (int64_t i<var> = 0; i<var> < size; ++i<var>) {` and indents its body.
  void OpenLoop(int var) {
    Line(absl::StrCat("for (int64_t i", var, " = 0; i", var, " < ", VarSize(var), "; ++i", var,
                      ") {"));
    ++indent_;
  }
  // Emits every bound or stride computed from runtime sizes alone (and, in the host
  // dialect, reads the sizes it uses from `sizes[]`), once at the top of the function.
  void EmitSizes();
  bool Bound(int e, const std::vector<bool>& bound) const {
    for (int v : deps_[e]) {
      if (!bound[v]) return false;
    }
    return true;
  }
  // Emits every expression reachable from `roots` whose variables are all bound.
  void EmitScope(const std::vector<bool>& bound, const std::vector<int>& roots);
  // Closes a scope opened when scope_emitted_ had `mark` entries: what was emitted
  // inside is out of scope, so a later use emits it again.
  void LeaveScope(size_t mark) {
    for (size_t k = mark; k < scope_emitted_.size(); ++k) emitted_[scope_emitted_[k]] = false;
    scope_emitted_.resize(mark);
  }
  void EmitExpr(int e, const std::vector<bool>& bound);
  // A reduction, printed by the emitter (its loops are the emitter's business).
  virtual void EmitReduce(int e, const std::vector<bool>& bound) = 0;
  // After v<e>: its reciprocal, when e is the row-invariant divisor of an f32 division
  // (host dialect only).
  void EmitReciprocal(int e);
  std::string OpText(const Expr& e) const;
  // The element `offset` (an expression id) of buffer `buffer`, as loads and stores
  // name it.
  virtual std::string ElementRef(int buffer, int offset) const {
    return absl::StrCat("b", buffer, "[", Ref(offset), "]");
  }
  void EmitStore(const Store& s);
  // One in-order step of an argmax: `acc` and `acc`_at take element `v` at `position`
  // when it is the first NaN or greater than every element before it.
  void EmitArgmaxStep(const std::string& acc, const std::string& v, const std::string& position);
  // Declares each variable i<v> of `vars` from their row-major linear index `index`
  // (`rem` names a scratch remainder).
  void Delinearize(const std::vector<int>& vars, const std::string& index, const std::string& rem);
  // a / b and a % b of index values (both >= 0).
  std::string DivText(const std::string& a, const std::string& b) const;
  std::string ModText(const std::string& a, const std::string& b) const;
  // The product of the sizes of `vars` (1 for none) and their row-major linear index.
  std::string SizeProduct(const std::vector<int>& vars) const;
  std::string LinearIndex(const std::vector<int>& vars) const;
  // The loop variables of `nest` each store uses, as positions in nest.vars: the
  // innermost one (-1: none).
  std::vector<int> StoreLevels(const LoopNest& nest) const;
  // The offset and value expressions of the stores of `nest` with `level[s] >= from`.
  std::vector<int> StoreRoots(const LoopNest& nest, const std::vector<int>& level, int from) const;

  const KernelIR& ir_;
  const Dialect dialect_;
  std::vector<std::vector<int>> deps_;  // sorted loop variables each expression uses
  // Divisors of f32 divisions that are reductions (or computed from one) and use fewer
  // loop variables than the division: multiplied by as a reciprocal (EmitReciprocal).
  std::vector<bool> reciprocal_;
  std::vector<bool> emitted_;
  std::vector<int> scope_emitted_;  // emitted in the current scope stack, in order
  // Non-empty: the text an expression is computed as instead of its own (the blocked
  // index divisions of the host emitter's innermost loops).
  std::vector<std::string> replaced_text_;
  std::string out_;
  int indent_ = 0;

 private:
  void ComputeDeps();
};

}  // namespace kiln::codegen::internal
