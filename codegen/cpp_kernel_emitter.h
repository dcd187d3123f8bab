#pragma once
// The C++ emitter's per-kernel printer (codegen/cpp_emitter.h), shared by the files that
// implement it: cpp_emitter.cc (expressions, loop nests, the function) and
// cpp_reduce_emitter.cc (reductions: per-row loops and column reductions).
#include <cstdint>
#include <string>
#include <vector>

#include "codegen/kernel_ir.h"

namespace kiln::codegen::cpp_internal {

constexpr int64_t kSumBlock = 1024;      // elements per f32 partial sum
constexpr int64_t kMinParallel = 32768;  // fewer elements than this run on one thread

// The C type of `dtype`.
const char* CType(DType dtype);

// The element type of a buffer of `dtype` (bool buffers are read as bytes).
const char* StorageType(DType dtype);

// The C literal of a constant expression.
std::string Literal(const Expr& e);

// Prints one kernel. One per kernel.
class KernelEmitter {
 public:
  explicit KernelEmitter(const KernelIR& ir) : ir_(ir), emitted_(ir.exprs.size(), false) {
    ComputeDeps();
  }

  std::string Emit();

 private:
  void ComputeDeps();
  void Line(const std::string& s) {
    absl::StrAppend(&out_, std::string(indent_ * 2, ' '), s, "\n");
  }
  // The C name or inline text of an emitted expression.
  std::string Ref(int e) const;
  std::string VarSize(int var) const { return Ref(ir_.vars[var].size_expr); }
  // Emits the runtime sizes the kernel uses and every bound or stride computed from
  // them alone, once at the top of the function.
  void EmitSizes();
  bool Bound(int e, const std::vector<bool>& bound) const {
    for (int v : deps_[e]) {
      if (!bound[v]) return false;
    }
    return true;
  }
  // Emits every expression reachable from `roots` whose variables are all bound.
  void EmitScope(const std::vector<bool>& bound, const std::vector<int>& roots);
  // Closes a C++ scope opened when scope_emitted_ had `mark` entries: what was emitted
  // inside is out of scope, so a later use emits it again.
  void LeaveScope(size_t mark) {
    for (size_t k = mark; k < scope_emitted_.size(); ++k) emitted_[scope_emitted_[k]] = false;
    scope_emitted_.resize(mark);
  }
  void EmitExpr(int e, const std::vector<bool>& bound);
  void EmitReduce(int e, const std::vector<bool>& bound);
  // After v<e>: its reciprocal, when e is the row-invariant divisor of an f32 division.
  void EmitReciprocal(int e);
  std::string OpText(const Expr& e) const;
  void EmitNest(const LoopNest& nest);
  // A kColumnReduce nest (cpp_reduce_emitter.cc): its sweeps and combines.
  void EmitColumnNest(const LoopNest& nest);
  void EmitColumnSweep(const LoopNest& nest, const ColumnSchedule& schedule, int sweep);
  void EmitColumnCombine(const LoopNest& nest, const ColumnSchedule& schedule, int level);
  // Declares each variable i<v> of `vars` from their row-major linear index `index`
  // (`rem` names a scratch remainder).
  void Delinearize(const std::vector<int>& vars, const std::string& index, const std::string& rem);
  // The product of the sizes of `vars` (1 for none) and their row-major linear index.
  std::string SizeProduct(const std::vector<int>& vars) const;
  std::string LinearIndex(const std::vector<int>& vars) const;
  void EmitStore(const Store& s);
  bool Reaches(int root, const std::vector<bool>& inner_vars, bool* has_check) const;

  const KernelIR& ir_;
  std::vector<std::vector<int>> deps_;  // sorted loop variables each expression uses
  // Divisors of f32 divisions that are reductions (or computed from one) and use fewer
  // loop variables than the division: multiplied by as a reciprocal (EmitReciprocal).
  std::vector<bool> reciprocal_;
  std::vector<bool> emitted_;
  std::vector<int> scope_emitted_;  // emitted in the current scope stack, in order
  std::string out_;
  int indent_ = 0;
};

}  // namespace kiln::codegen::cpp_internal
