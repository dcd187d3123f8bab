#include "codegen/kernel_printer.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "util/check.h"

namespace kiln::codegen::internal {
namespace {

// The text of codegen/kernel_numerics.h, embedded at build time
// (cmake/kiln_embed_text.cmake), so generated kernels use exactly the library's code.
constexpr char kKernelNumerics[] =
#include "codegen/kernel_numerics.inc"
    ;

}  // namespace

const char* KernelNumericsText() { return kKernelNumerics; }

const char* CType(DType dtype) {
  switch (dtype) {
    case DType::kBool:
      return "bool";
    case DType::kI32:
      return "int32_t";
    case DType::kI64:
      return "int64_t";
    case DType::kF64:
      return "double";
    default:
      return "float";
  }
}

namespace {
bool AccumulatesInAccDtype(OpKind op) {
  return op == OpKind::kSum || op == OpKind::kMean || op == OpKind::kProd;
}
}  // namespace

const char* ReduceAccType(const Expr& x, DType body) {
  return CType(AccumulatesInAccDtype(x.op) ? x.acc_dtype : body);
}

std::string ReduceIdentity(const Expr& x, DType body) {
  const char* type = ReduceAccType(x, body);
  switch (x.op) {
    case OpKind::kSum:
    case OpKind::kMean:
      return absl::StrCat(type, "(0)");
    case OpKind::kProd:
      return absl::StrCat(type, "(1)");
    case OpKind::kMin:
      return absl::StrCat("kn::Highest<", type, ">()");
    default:
      return absl::StrCat("kn::Lowest<", type, ">()");
  }
}

std::string ReduceStep(OpKind op, const std::string& acc, const std::string& v) {
  const char* step = op == OpKind::kProd  ? "kn::WrapMul"
                     : op == OpKind::kMax ? "kn::ReduceMaxStep"
                     : op == OpKind::kMin ? "kn::ReduceMinStep"
                                          : "kn::WrapAdd";
  return absl::StrCat(step, "(", acc, ", ", v, ")");
}

// The element type of a buffer pointer. bool elements (one byte, 0 or 1) are read as
// bytes and compared with 0: GCC 12 does not vectorise a loop that loads a C++ bool and
// uses it to select between floats (an attention mask), but it does for a byte.
const char* StorageType(DType dtype) { return dtype == DType::kBool ? "uint8_t" : CType(dtype); }

std::string Literal(const Expr& e) {
  switch (e.dtype) {
    case DType::kBool:
      return e.inumber != 0 ? "true" : "false";
    case DType::kI32:
      // The minimum is not a literal (its negation overflows), and the generated unit
      // includes no <cstdint> for INT32_MIN/INT64_MIN.
      return e.inumber == INT32_MIN ? "(-2147483647 - 1)" : absl::StrCat(e.inumber);
    case DType::kI64:
      if (e.inumber == INT64_MIN) return "(-int64_t(9223372036854775807) - 1)";
      return e.inumber < 0 ? absl::StrCat("(", e.inumber, ")") : absl::StrCat(e.inumber);
    default:
      break;
  }
  const bool f32 = e.dtype == DType::kF32;
  if (std::isnan(e.number)) return f32 ? "__builtin_nanf(\"\")" : "__builtin_nan(\"\")";
  if (std::isinf(e.number)) {
    const char* inf = f32 ? "__builtin_inff()" : "__builtin_inf()";
    return e.number < 0 ? absl::StrCat("(-", inf, ")") : inf;
  }
  char buf[64];
  std::snprintf(buf, sizeof(buf), f32 ? "%.9g" : "%.17g", e.number);
  std::string s = buf;
  if (s.find_first_of(".e") == std::string::npos) s += ".0";
  if (f32) s += "f";
  return e.number < 0 || s[0] == '-' ? absl::StrCat("(", s, ")") : s;
}

void KernelPrinter::ComputeDeps() {
  // A column nest's reductions are read per kept element from partial-sum arrays, so
  // they (and what uses them) belong to the loops over every kept variable.
  std::vector<std::vector<int>> column_kept(ir_.exprs.size());
  for (const LoopNest& nest : ir_.nests) {
    if (nest.kind != NestKind::kColumnReduce) continue;
    std::vector<int> kept(nest.vars.begin(), nest.vars.begin() + nest.num_parallel);
    kept.insert(kept.end(), nest.vars.begin() + nest.num_parallel + nest.num_reduced,
                nest.vars.end());
    std::sort(kept.begin(), kept.end());
    for (int e : nest.reductions) column_kept[e] = kept;
  }
  deps_.resize(ir_.exprs.size());
  for (size_t i = 0; i < ir_.exprs.size(); ++i) {
    const Expr& e = ir_.exprs[i];
    std::vector<int> d;
    if (e.kind == ExprKind::kVar) d.push_back(e.arg);
    for (int a : e.args) d.insert(d.end(), deps_[a].begin(), deps_[a].end());
    std::sort(d.begin(), d.end());
    d.erase(std::unique(d.begin(), d.end()), d.end());
    if (!column_kept[i].empty()) {
      d = column_kept[i];
    } else if (e.kind == ExprKind::kReduce) {
      d.erase(std::remove_if(d.begin(), d.end(),
                             [&](int v) {
                               return std::find(e.vars.begin(), e.vars.end(), v) != e.vars.end();
                             }),
              d.end());
    }
    deps_[i] = std::move(d);
  }
  std::vector<bool> from_reduce(ir_.exprs.size(), false);
  reciprocal_.assign(ir_.exprs.size(), false);
  for (size_t i = 0; i < ir_.exprs.size(); ++i) {
    const Expr& e = ir_.exprs[i];
    from_reduce[i] = e.kind == ExprKind::kReduce;
    for (int a : e.args) from_reduce[i] = from_reduce[i] || (a >= 0 && from_reduce[a]);
    if (dialect_ == Dialect::kHostCpp && e.kind == ExprKind::kOp && e.op == OpKind::kDiv &&
        e.dtype == DType::kF32) {
      const int d = e.args[1];
      if (from_reduce[d] && deps_[d].size() < deps_[i].size()) reciprocal_[d] = true;
    }
  }
}

std::string KernelPrinter::ReduceResult(const Expr& x, const std::string& acc) const {
  const char* type = CType(x.dtype);
  if (x.op == OpKind::kMean) {
    return absl::StrCat(type, "(double(", acc, ") / double(", Ref(x.args[1]), "))");
  }
  if (x.op == OpKind::kArgmax) return absl::StrCat(acc, "_at");
  return absl::StrCat("kn::CastTo<", type, ">(", acc, ")");
}

std::string KernelPrinter::Ref(int e) const {
  const Expr& x = ir_.exprs[e];
  switch (x.kind) {
    case ExprKind::kConstant:
      return Literal(x);
    case ExprKind::kVar:
      return absl::StrCat("i", x.arg);
    case ExprKind::kSizeArg:
      return absl::StrCat("n", x.arg);
    case ExprKind::kScalarArg:
      return absl::StrCat("a", x.arg);
    default:
      return absl::StrCat("v", e);
  }
}

std::string KernelPrinter::OpText(const Expr& e) const {
  auto arg = [&](int k) { return Ref(e.args[k]); };
  const bool flt = IsFloating(e.dtype);
  const char* t = CType(e.dtype);
  switch (e.kind) {
    case ExprKind::kLoad: {
      std::string load = ElementRef(e.arg, e.args[0]);
      if (e.dtype == DType::kBool) load = absl::StrCat("(", load, " != 0)");
      if (e.args.size() == 1) return load;
      return absl::StrCat(arg(1), " ? ", load, " : ", t, "(0)");
    }
    case ExprKind::kIdxAdd:
      return absl::StrCat(arg(0), " + ", arg(1));
    case ExprKind::kIdxMul:
      return absl::StrCat(arg(0), " * ", arg(1));
    case ExprKind::kIdxDiv:
      return DivText(arg(0), arg(1));
    case ExprKind::kIdxMod:
      return ModText(arg(0), arg(1));
    default:
      break;
  }
  // Host: f32 transcendentals use codegen/kernel_math.h (vectorisable); f64 ones, and
  // f32 sin, cos and pow, call the C library through GCC builtins (no <cmath> in the
  // unit). CUDA: the device math library (NVRTC's built-ins; the host's in emulation).
  const bool f32 = e.dtype == DType::kF32;
  const bool cuda = dialect_ == Dialect::kCuda;
  auto call = [&](const char* f32_fn, const char* f64_fn) {
    return absl::StrCat(f32 ? f32_fn : f64_fn, "(", arg(0), ")");
  };
  // A libm function by its C name: fabs, sqrt, sin, cos, exp, ...
  // "<T>(a, b)" for kn::'s two-operand templates: naming T keeps an operand that is an
  // integer literal (an int) from conflicting with an int64_t one in the deduction.
  auto typed = [&](const std::string& a, const std::string& b) {
    return absl::StrCat("<", t, ">(", a, ", ", b, ")");
  };
  auto libm = [&](const char* name) {
    return cuda ? absl::StrCat(name, f32 ? "f(" : "(", arg(0), ")")
                : absl::StrCat("__builtin_", name, f32 ? "f(" : "(", arg(0), ")");
  };
  switch (e.op) {
    case OpKind::kNeg:
      return flt ? absl::StrCat("-", arg(0)) : absl::StrCat("kn::WrapNeg(", arg(0), ")");
    case OpKind::kAbs:
      return flt ? libm("fabs") : absl::StrCat("kn::WrapAbs(", arg(0), ")");
    case OpKind::kExp:
      return cuda ? libm("exp") : call("km::ExpF", "__builtin_exp");
    case OpKind::kLog:
      return cuda ? libm("log") : call("km::LogF", "__builtin_log");
    case OpKind::kSqrt:
      return libm("sqrt");
    case OpKind::kRsqrt:
      return absl::StrCat(t, "(1) / ", libm("sqrt"));
    case OpKind::kTanh:
      return cuda ? libm("tanh") : call("km::TanhF", "__builtin_tanh");
    case OpKind::kErf:
      return cuda ? libm("erf") : call("km::ErfF", "__builtin_erf");
    case OpKind::kSigmoid:
      if (f32 && !cuda) return call("km::SigmoidF", "");
      return absl::StrCat(t, "(1) / (", t, "(1) + ", cuda ? "exp" : "__builtin_exp",
                          f32 ? "f(-" : "(-", arg(0), "))");
    case OpKind::kRelu:
      return absl::StrCat(arg(0), " < ", t, "(0) ? ", t, "(0) : ", arg(0));
    case OpKind::kSin:
      return libm("sin");
    case OpKind::kCos:
      return libm("cos");
    case OpKind::kFloor:
      return cuda ? libm("floor") : call("km::FloorF", "__builtin_floor");
    case OpKind::kCeil:
      return cuda ? libm("ceil") : call("km::CeilF", "__builtin_ceil");
    case OpKind::kRound:  // rint: the default rounding mode, ties to even
      return cuda ? libm("rint") : call("km::RintF", "__builtin_rint");
    case OpKind::kRandUniform:
      return absl::StrCat("kn::RandUniform<", t, ">(", arg(0), ", ", arg(1), ")");
    case OpKind::kLogicalNot:
      return absl::StrCat("!", arg(0));
    case OpKind::kCast:
      return absl::StrCat("kn::CastTo<", t, ">(", arg(0), ")");
    case OpKind::kAdd:
      return flt ? absl::StrCat(arg(0), " + ", arg(1))
                 : absl::StrCat("kn::WrapAdd", typed(arg(0), arg(1)));
    case OpKind::kSub:
      return flt ? absl::StrCat(arg(0), " - ", arg(1))
                 : absl::StrCat("kn::WrapSub", typed(arg(0), arg(1)));
    case OpKind::kMul:
      return flt ? absl::StrCat(arg(0), " * ", arg(1))
                 : absl::StrCat("kn::WrapMul", typed(arg(0), arg(1)));
    case OpKind::kDiv:
      if (!flt) return absl::StrCat("kn::IntDiv", typed(arg(0), arg(1)));
      if (reciprocal_[e.args[1]]) return absl::StrCat(arg(0), " * rcp", e.args[1]);
      return absl::StrCat(arg(0), " / ", arg(1));
    case OpKind::kPow:
      return flt ? absl::StrCat(t, cuda ? "(pow(double(" : "(__builtin_pow(double(", arg(0),
                                "), double(", arg(1), ")))")
                 : absl::StrCat("kn::IntPow", typed(arg(0), arg(1)));
    case OpKind::kMaximum:
      return absl::StrCat("kn::NanMax", typed(arg(0), arg(1)));
    case OpKind::kMinimum:
      return absl::StrCat("kn::NanMin", typed(arg(0), arg(1)));
    case OpKind::kEq:
      return absl::StrCat(arg(0), " == ", arg(1));
    case OpKind::kNe:
      return absl::StrCat(arg(0), " != ", arg(1));
    case OpKind::kLt:
      return absl::StrCat(arg(0), " < ", arg(1));
    case OpKind::kLe:
      return absl::StrCat(arg(0), " <= ", arg(1));
    case OpKind::kGt:
      return absl::StrCat(arg(0), " > ", arg(1));
    case OpKind::kGe:
      return absl::StrCat(arg(0), " >= ", arg(1));
    case OpKind::kLogicalAnd:
      return absl::StrCat(arg(0), " && ", arg(1));
    case OpKind::kLogicalOr:
      return absl::StrCat(arg(0), " || ", arg(1));
    case OpKind::kWhere:
      // Floats select through a bit mask (kernel_math.h): with ?: GCC may move the
      // arithmetic of an arm into a branch and then not vectorise the loop (a masked
      // softmax's row sum).
      if (!cuda && (e.dtype == DType::kF32 || e.dtype == DType::kF64)) {
        return absl::StrCat(e.dtype == DType::kF32 ? "km::SelectF(" : "km::SelectD(", arg(0), ", ",
                            arg(1), ", ", arg(2), ")");
      }
      return absl::StrCat(arg(0), " ? ", arg(1), " : ", arg(2));
    default:
      break;
  }
  KILN_CHECK(false) << "cpp emitter: no text for " << OpName(e.op);
  return "";
}

void KernelPrinter::EmitScope(const std::vector<bool>& bound, const std::vector<int>& roots) {
  // Reachable, not yet emitted expressions, in id order (operands first).
  std::vector<bool> needed(ir_.exprs.size(), false);
  std::vector<int> stack(roots.begin(), roots.end());
  while (!stack.empty()) {
    const int e = stack.back();
    stack.pop_back();
    if (e < 0 || needed[e] || emitted_[e]) continue;
    needed[e] = true;
    for (int a : ir_.exprs[e].args) stack.push_back(a);
  }
  for (size_t e = 0; e < needed.size(); ++e) {
    if (needed[e] && !emitted_[e] && Bound(static_cast<int>(e), bound)) {
      EmitExpr(static_cast<int>(e), bound);
    }
  }
}

void KernelPrinter::EmitExpr(int e, const std::vector<bool>& bound) {
  const Expr& x = ir_.exprs[e];
  emitted_[e] = true;
  scope_emitted_.push_back(e);
  switch (x.kind) {
    case ExprKind::kConstant:
    case ExprKind::kVar:
    case ExprKind::kSizeArg:
    case ExprKind::kScalarArg:
      return;  // referenced by name or literal
    case ExprKind::kReduce:
      EmitReduce(e, bound);
      return;
    case ExprKind::kCheck: {
      const Check& c = ir_.checks[x.arg];
      const std::string v = absl::StrCat("v", e);
      Line(absl::StrCat(CType(x.dtype), " ", v, " = ", Ref(x.args[0]), ";"));
      std::string bad;
      switch (c.kind) {
        case Check::kIndexRange:
          bad = absl::StrCat("(", v, " < 0 || ", v, " >= ", Ref(x.args[3]), ")");
          break;
        case Check::kDivByZero:
          bad = absl::StrCat(v, " == 0");
          break;
        case Check::kNegativeExponent:
          bad = absl::StrCat(v, " < 0");
          break;
      }
      const std::string guard = x.args[1] >= 0 && ir_.exprs[x.args[1]].kind == ExprKind::kConstant
                                    ? ""
                                    : absl::StrCat(Ref(x.args[1]), " && ");
      Line(absl::StrCat("if (", guard, bad, ") {  // ", OpName(c.op)));
      Line(absl::StrCat("  kiln_fail(err, ", x.arg, ", ", c.order, ", int64_t(", v, "), ",
                        Ref(x.args[2]), ");"));
      if (c.kind == Check::kIndexRange) Line(absl::StrCat("  ", v, " = 0;"));
      Line("}");
      return;
    }
    default:
      Line(absl::StrCat("const ", CType(x.dtype), " v", e, " = ",
                        replaced_text_[e].empty() ? OpText(x) : replaced_text_[e], ";"));
      EmitReciprocal(e);
  }
}

void KernelPrinter::EmitReciprocal(int e) {
  // An f32 division inside a loop by a value computed once outside it (softmax's row
  // sum) multiplies by the reciprocal instead: one division per row, and the element loop
  // vectorises into multiplies. x * (1/s) rounds twice, so it can differ from x / s by one
  // ulp (at most 1.5 ulp from the exact quotient instead of 0.5), well inside the f32
  // parity tolerance, and it is never NaN or inf where x / s is finite.
  if (!reciprocal_[e]) return;
  Line(absl::StrCat("const float rcp", e, " = 1.0f / v", e, ";"));
}

void KernelPrinter::EmitStore(const Store& s) {
  const std::string target = ElementRef(s.buffer, s.offset);
  if (!s.accumulate) {
    Line(absl::StrCat(target, " = ", Ref(s.value), ";"));
  } else if (dialect_ == Dialect::kCuda) {
    // Threads of a CUDA kernel may accumulate into one element at once.
    Line(absl::StrCat("kc::AtomicAccumulate(&", target, ", ", Ref(s.value), ");"));
  } else if (IsFloating(ir_.buffers[s.buffer].dtype)) {
    Line(absl::StrCat(target, " += ", Ref(s.value), ";"));
  } else {
    // Naming the type keeps an integer literal value (an int) from conflicting with it.
    Line(absl::StrCat(target, " = kn::WrapAdd<", CType(ir_.buffers[s.buffer].dtype), ">(", target,
                      ", ", Ref(s.value), ");"));
  }
}

void KernelPrinter::EmitArgmaxStep(const std::string& acc, const std::string& v,
                                   const std::string& position) {
  Line(absl::StrCat("if (!(", acc, " != ", acc, ") && (", v, " != ", v, " || ", v, " > ", acc,
                    ")) {"));
  Line(absl::StrCat("  ", acc, " = ", v, ";"));
  Line(absl::StrCat("  ", acc, "_at = ", position, ";"));
  Line("}");
}

void KernelPrinter::EmitSizes() {
  std::vector<bool> sizes_only(ir_.exprs.size(), false);
  for (size_t e = 0; e < ir_.exprs.size(); ++e) {
    const Expr& x = ir_.exprs[e];
    switch (x.kind) {
      case ExprKind::kConstant:
        sizes_only[e] = x.dtype == DType::kI64;
        break;
      case ExprKind::kSizeArg:
        sizes_only[e] = true;
        break;
      case ExprKind::kIdxAdd:
      case ExprKind::kIdxMul:
      case ExprKind::kIdxDiv:
      case ExprKind::kIdxMod:
        sizes_only[e] =
            std::all_of(x.args.begin(), x.args.end(), [&](int a) { return sizes_only[a]; });
        break;
      default:
        break;
    }
  }
  std::vector<int> roots;
  for (const LoopVar& v : ir_.vars) roots.push_back(v.size_expr);
  for (const LoopNest& nest : ir_.nests) {
    for (const Store& s : nest.stores) {
      roots.push_back(s.offset);
      roots.push_back(s.value);
    }
  }
  const std::vector<bool> needed = ReachableExprs(ir_, std::move(roots));
  for (size_t e = 0; e < ir_.exprs.size(); ++e) {
    if (!needed[e] || !sizes_only[e]) continue;
    const Expr& x = ir_.exprs[e];
    if (x.kind == ExprKind::kSizeArg) {
      // CUDA kernels take the sizes as parameters named n<k>.
      if (dialect_ == Dialect::kHostCpp) {
        Line(absl::StrCat("const int64_t n", x.arg, " = sizes[", x.arg, "];"));
      }
    } else if (x.kind != ExprKind::kConstant) {
      Line(absl::StrCat("const int64_t v", e, " = ", OpText(x), ";"));
    }
    emitted_[e] = true;
  }
}

// On a GPU a 64-bit division is a long software routine and a 32-bit one a few
// instructions, so CUDA index arithmetic divides in 32 bits when both operands fit.
std::string KernelPrinter::DivText(const std::string& a, const std::string& b) const {
  if (dialect_ == Dialect::kCuda) return absl::StrCat("kc::IdxDiv(", a, ", ", b, ")");
  return absl::StrCat(a, " / ", b);
}

std::string KernelPrinter::ModText(const std::string& a, const std::string& b) const {
  if (dialect_ == Dialect::kCuda) return absl::StrCat("kc::IdxMod(", a, ", ", b, ")");
  return absl::StrCat(a, " % ", b);
}

std::string KernelPrinter::SizeProduct(const std::vector<int>& vars) const {
  std::vector<std::string> sizes;
  for (int v : vars) sizes.push_back(VarSize(v));
  return sizes.empty() ? std::string("int64_t(1)") : absl::StrJoin(sizes, " * ");
}

std::string KernelPrinter::LinearIndex(const std::vector<int>& vars) const {
  std::string index = vars.empty() ? std::string("int64_t(0)") : absl::StrCat("i", vars[0]);
  for (size_t k = 1; k < vars.size(); ++k) {
    index = absl::StrCat("(", index, ") * ", VarSize(vars[k]), " + i", vars[k]);
  }
  return index;
}

void KernelPrinter::Delinearize(const std::vector<int>& vars, const std::string& index,
                                const std::string& rem) {
  if (vars.empty()) return;
  if (vars.size() > 1) Line(absl::StrCat("int64_t ", rem, " = ", index, ";"));
  for (int k = static_cast<int>(vars.size()) - 1; k >= 0; --k) {
    const std::string i = absl::StrCat("i", vars[k]);
    if (vars.size() == 1) {
      Line(absl::StrCat("const int64_t ", i, " = ", index, ";"));
    } else if (k == 0) {
      Line(absl::StrCat("const int64_t ", i, " = ", rem, ";"));
    } else {
      Line(absl::StrCat("const int64_t ", i, " = ", ModText(rem, VarSize(vars[k])), ";"));
      Line(absl::StrCat(rem, " = ", DivText(rem, VarSize(vars[k])), ";"));
    }
  }
}

std::vector<int> KernelPrinter::StoreLevels(const LoopNest& nest) const {
  std::vector<int> level(nest.stores.size(), -1);
  for (size_t s = 0; s < nest.stores.size(); ++s) {
    for (int e : {nest.stores[s].offset, nest.stores[s].value}) {
      for (int v : deps_[e]) {
        const int at =
            static_cast<int>(std::find(nest.vars.begin(), nest.vars.end(), v) - nest.vars.begin());
        level[s] = std::max(level[s], at);
      }
    }
  }
  return level;
}

std::vector<int> KernelPrinter::StoreRoots(const LoopNest& nest, const std::vector<int>& level,
                                           int from) const {
  std::vector<int> roots;
  for (size_t s = 0; s < nest.stores.size(); ++s) {
    if (level[s] >= from) {
      roots.push_back(nest.stores[s].offset);
      roots.push_back(nest.stores[s].value);
    }
  }
  return roots;
}

}  // namespace kiln::codegen::internal

