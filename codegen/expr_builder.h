#pragma once
// Builds the expression DAG of one kernel (codegen/kernel_ir.h). Expressions are
// hash-consed, so equal expressions get one id, and index arithmetic is simplified as it
// is built, so that linearising a delinearised index gives back the index and no
// division is left where the sizes show it cancels:
//
//   IAdd(IMul(IDiv(i, n1), n1), IMod(i, n1))   ->  i
//   IDiv(IAdd(IMul(i, n1), j), n1)             ->  i   (0 <= j < n1 known)
//   IMod(j, n1)                                ->  j   (0 <= j < n1 known)
//
// Each index expression carries what is known of its range: whether it is nonnegative,
// an exclusive numeric bound, and an exclusive bound expression (a loop variable is
// below its loop's size, a linearised index below the product of the sizes).
#include <cstdint>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "codegen/kernel_ir.h"

namespace kiln::codegen {

// An expression of `kind` and `dtype` with every other field at its default.
Expr NewExpr(ExprKind kind, DType dtype);

class ExprBuilder {
 public:
  ExprBuilder();

  // Adds `e`, or returns the id of an equal expression (loop variables, reductions and
  // checks are never merged). `upper`: its exclusive numeric bound (-1 unknown);
  // `sym_upper`: an expression bounding it exclusively, or -1.
  int Add(Expr e, int64_t upper = -1, bool nonneg = false, int sym_upper = -1);
  // `value` converted to `dtype` (bool, integers: exact with saturation; floats: nearest).
  int Constant(DType dtype, double value);
  int IConst(int64_t value);
  // i64 index arithmetic, simplified.
  int IAdd(int a, int b);
  int IMul(int a, int b);
  int IDiv(int a, int c);  // a and c >= 0, c > 0
  int IMod(int a, int c);
  int Op(OpKind op, DType dtype, std::vector<int> args);
  int Cast(int e, DType dtype) {
    return exprs()[e].dtype == dtype ? e : Op(OpKind::kCast, dtype, {e});
  }
  int And(int a, int b) {
    if (a == true_) return b;
    if (b == true_) return a;
    return Op(OpKind::kLogicalAnd, DType::kBool, {a, b});
  }
  // The bool constant true (a guard that guards nothing).
  int True() const { return true_; }
  // Whether `e` is an i64 constant, and then its value.
  bool IsConst(int e, int64_t* v) const;
  // True when `e` is a multiple of `c` (as index arithmetic).
  bool Divisible(int e, int c) const;

  const std::vector<Expr>& exprs() const { return exprs_; }
  // Hands over the expressions (the builder is done).
  std::vector<Expr> TakeExprs() { return std::move(exprs_); }

 private:
  std::vector<Expr> exprs_;
  absl::flat_hash_map<std::string, int> interned_;
  std::vector<int64_t> upper_;  // per expression: exclusive numeric bound, -1 unknown
  std::vector<bool> nonneg_;
  std::vector<int> sym_upper_;  // per expression: an exclusive bound expression, or -1
  int true_ = -1;
};

}  // namespace kiln::codegen
