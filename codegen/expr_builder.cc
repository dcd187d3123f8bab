#include "codegen/expr_builder.h"

#include <cmath>
#include <cstring>
#include <limits>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "util/check.h"

namespace kiln::codegen {
namespace {

// `v` as an i64 the way a cast to an integer converts it: truncation toward zero,
// saturation, NaN -> 0.
int64_t SaturateToI64(double v, DType dtype) {
  if (std::isnan(v)) return 0;
  const double limit = dtype == DType::kI32 ? 2147483648.0 : 9223372036854775808.0;
  if (v >= limit) {
    return dtype == DType::kI32 ? std::numeric_limits<int32_t>::max()
                                : std::numeric_limits<int64_t>::max();
  }
  if (v < -limit) {
    return dtype == DType::kI32 ? std::numeric_limits<int32_t>::min()
                                : std::numeric_limits<int64_t>::min();
  }
  return static_cast<int64_t>(v);
}

}  // namespace

Expr NewExpr(ExprKind kind, DType dtype) {
  Expr e;
  e.kind = kind;
  e.dtype = dtype;
  return e;
}

ExprBuilder::ExprBuilder() { true_ = Constant(DType::kBool, 1); }

bool ExprBuilder::IsConst(int e, int64_t* v) const {
  const Expr& x = exprs()[e];
  if (x.kind != ExprKind::kConstant || x.dtype != DType::kI64) return false;
  *v = x.inumber;
  return true;
}

int ExprBuilder::Add(Expr e, int64_t upper, bool nonneg, int sym_upper) {
  if (e.kind != ExprKind::kReduce && e.kind != ExprKind::kVar && e.kind != ExprKind::kCheck) {
    uint64_t bits;
    std::memcpy(&bits, &e.number, sizeof(bits));
    std::string key = absl::StrCat(static_cast<int>(e.kind), ":", static_cast<int>(e.dtype), ":",
                                   static_cast<int>(e.op), ":", absl::StrJoin(e.args, ","), ":",
                                   bits, ":", e.inumber, ":", e.arg);
    auto [it, inserted] = interned_.try_emplace(std::move(key), static_cast<int>(exprs().size()));
    if (!inserted) return it->second;
  }
  exprs_.push_back(std::move(e));
  upper_.push_back(upper);
  nonneg_.push_back(nonneg);
  sym_upper_.push_back(sym_upper);
  return static_cast<int>(exprs().size()) - 1;
}

int ExprBuilder::Constant(DType dtype, double value) {
  Expr e = NewExpr(ExprKind::kConstant, dtype);
  if (dtype == DType::kBool) {
    e.inumber = value != 0 ? 1 : 0;
  } else if (IsIntegral(dtype)) {
    e.inumber = SaturateToI64(value, dtype);
  } else if (dtype == DType::kF32) {
    e.number = static_cast<float>(value);
  } else {
    e.number = value;
  }
  e.number = IsFloating(dtype) ? e.number : static_cast<double>(e.inumber);
  const bool nonneg = !IsFloating(dtype) && e.inumber >= 0;
  return Add(std::move(e), nonneg ? e.inumber + 1 : -1, nonneg);
}

int ExprBuilder::IConst(int64_t value) {
  Expr e = NewExpr(ExprKind::kConstant, DType::kI64);
  e.inumber = value;
  e.number = static_cast<double>(value);
  const bool nonneg = value >= 0;
  return Add(std::move(e), nonneg && value < std::numeric_limits<int64_t>::max() ? value + 1 : -1,
             nonneg);
}

bool ExprBuilder::Divisible(int e, int c) const {
  int64_t v, vc;
  if (e == c) return true;
  if (IsConst(c, &vc) && IsConst(e, &v)) return v % vc == 0;
  if (IsConst(e, &v) && v == 0) return true;
  const Expr& x = exprs()[e];
  if (x.kind == ExprKind::kIdxMul) return Divisible(x.args[0], c) || Divisible(x.args[1], c);
  if (x.kind == ExprKind::kIdxAdd) return Divisible(x.args[0], c) && Divisible(x.args[1], c);
  return false;
}

int ExprBuilder::IAdd(int a, int b) {
  int64_t va, vb;
  const bool ca = IsConst(a, &va), cb = IsConst(b, &vb);
  if (ca && cb) return IConst(va + vb);
  if (ca && va == 0) return b;
  if (cb && vb == 0) return a;
  // (x / c) * c + x % c == x
  const Expr& ea = exprs()[a];
  const Expr& eb = exprs()[b];
  if (ea.kind == ExprKind::kIdxMul && eb.kind == ExprKind::kIdxMod) {
    const Expr& div = exprs()[ea.args[0]];
    if (div.kind == ExprKind::kIdxDiv && div.args[0] == eb.args[0] && div.args[1] == eb.args[1] &&
        ea.args[1] == eb.args[1]) {
      return eb.args[0];
    }
  }
  const bool nonneg = nonneg_[a] && nonneg_[b];
  const int64_t upper = nonneg && upper_[a] > 0 && upper_[b] > 0 ? upper_[a] + upper_[b] - 1 : -1;
  // x * s + y with x < X and y < s is below X * s (a linearised index).
  int sym_upper = -1;
  if (nonneg && ea.kind == ExprKind::kIdxMul && sym_upper_[b] >= 0 && ea.args[1] == sym_upper_[b] &&
      sym_upper_[ea.args[0]] >= 0) {
    sym_upper = IMul(sym_upper_[ea.args[0]], sym_upper_[b]);
  }
  Expr e = NewExpr(ExprKind::kIdxAdd, DType::kI64);
  e.args = {a, b};
  return Add(std::move(e), upper, nonneg, sym_upper);
}

int ExprBuilder::IMul(int a, int b) {
  int64_t va, vb;
  if (IsConst(a, &va)) std::swap(a, b);  // constants on the right
  const bool ca = IsConst(a, &va), cb = IsConst(b, &vb);
  if (ca && cb) return IConst(va * vb);
  if (cb && vb == 0) return IConst(0);
  if (cb && vb == 1) return a;
  const Expr ea = exprs()[a];  // a copy: new expressions may move the vector
  int64_t inner;
  if (cb && ea.kind == ExprKind::kIdxMul && IsConst(ea.args[1], &inner)) {
    return IMul(ea.args[0], IConst(inner * vb));
  }
  const bool nonneg = nonneg_[a] && nonneg_[b];
  const int64_t upper =
      nonneg && upper_[a] > 0 && upper_[b] > 0 ? (upper_[a] - 1) * (upper_[b] - 1) + 1 : -1;
  Expr e = NewExpr(ExprKind::kIdxMul, DType::kI64);
  e.args = {a, b};
  return Add(std::move(e), upper, nonneg);
}

int ExprBuilder::IDiv(int a, int c) {
  int64_t va, vc;
  const bool cc = IsConst(c, &vc);
  KILN_CHECK(!cc || vc > 0) << "index division by " << vc;
  if (cc && vc == 1) return a;
  if (cc && IsConst(a, &va) && va >= 0) return IConst(va / vc);
  if (nonneg_[a] && (sym_upper_[a] == c || (cc && upper_[a] >= 0 && upper_[a] <= vc))) {
    return IConst(0);
  }
  const Expr ea = exprs()[a];  // a copy: new expressions may move the vector
  int64_t k;
  if (ea.kind == ExprKind::kIdxMul) {
    if (ea.args[1] == c) return ea.args[0];
    if (ea.args[0] == c) return ea.args[1];
    if (cc && IsConst(ea.args[1], &k) && k % vc == 0) return IMul(ea.args[0], IConst(k / vc));
  }
  if (ea.kind == ExprKind::kIdxDiv) return IDiv(ea.args[0], IMul(ea.args[1], c));
  if (ea.kind == ExprKind::kIdxAdd && nonneg_[ea.args[0]] && nonneg_[ea.args[1]]) {
    const int p = ea.args[0], q = ea.args[1];
    if (Divisible(p, c) || Divisible(q, c)) return IAdd(IDiv(p, c), IDiv(q, c));
  }
  Expr e = NewExpr(ExprKind::kIdxDiv, DType::kI64);
  e.args = {a, c};
  return Add(std::move(e), cc && upper_[a] > 0 ? (upper_[a] - 1) / vc + 1 : -1, true);
}

int ExprBuilder::IMod(int a, int c) {
  int64_t va, vc;
  const bool cc = IsConst(c, &vc);
  KILN_CHECK(!cc || vc > 0) << "index modulo by " << vc;
  if (cc && vc == 1) return IConst(0);
  if (cc && IsConst(a, &va) && va >= 0) return IConst(va % vc);
  if (nonneg_[a] && (sym_upper_[a] == c || (cc && upper_[a] >= 0 && upper_[a] <= vc))) return a;
  if (Divisible(a, c)) return IConst(0);
  const Expr& ea = exprs()[a];
  if (ea.kind == ExprKind::kIdxAdd && nonneg_[ea.args[0]] && nonneg_[ea.args[1]]) {
    if (Divisible(ea.args[0], c)) return IMod(ea.args[1], c);
    if (Divisible(ea.args[1], c)) return IMod(ea.args[0], c);
  }
  Expr e = NewExpr(ExprKind::kIdxMod, DType::kI64);
  e.args = {a, c};
  return Add(std::move(e), cc ? vc : -1, true, c);
}

int ExprBuilder::Op(OpKind op, DType dtype, std::vector<int> args) {
  Expr e = NewExpr(ExprKind::kOp, dtype);
  e.op = op;
  e.args = std::move(args);
  return Add(std::move(e));
}

}  // namespace kiln::codegen
