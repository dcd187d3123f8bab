#include "codegen/cpp_emitter.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "codegen/cpp_kernel_emitter.h"
#include "util/check.h"

namespace kiln::codegen {
namespace {

// The text of codegen/kernel_numerics.h and codegen/kernel_math.h, embedded at build time
// (cmake/kiln_embed_text.cmake), so generated kernels use exactly the library's code.
constexpr char kKernelNumerics[] =
#include "codegen/kernel_numerics.inc"
    ;
constexpr char kKernelMath[] =
#include "codegen/kernel_math.inc"
    ;

}  // namespace

namespace cpp_internal {

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

void KernelEmitter::ComputeDeps() {
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
    if (e.kind == ExprKind::kOp && e.op == OpKind::kDiv && e.dtype == DType::kF32) {
      const int d = e.args[1];
      if (from_reduce[d] && deps_[d].size() < deps_[i].size()) reciprocal_[d] = true;
    }
  }
}

std::string KernelEmitter::Ref(int e) const {
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

std::string KernelEmitter::OpText(const Expr& e) const {
  auto arg = [&](int k) { return Ref(e.args[k]); };
  const bool flt = IsFloating(e.dtype);
  const char* t = CType(e.dtype);
  switch (e.kind) {
    case ExprKind::kLoad: {
      std::string load = absl::StrCat("b", e.arg, "[", arg(0), "]");
      if (e.dtype == DType::kBool) load = absl::StrCat("(", load, " != 0)");
      if (e.args.size() == 1) return load;
      return absl::StrCat(arg(1), " ? ", load, " : ", t, "(0)");
    }
    case ExprKind::kIdxAdd:
      return absl::StrCat(arg(0), " + ", arg(1));
    case ExprKind::kIdxMul:
      return absl::StrCat(arg(0), " * ", arg(1));
    case ExprKind::kIdxDiv:
      return absl::StrCat(arg(0), " / ", arg(1));
    case ExprKind::kIdxMod:
      return absl::StrCat(arg(0), " % ", arg(1));
    default:
      break;
  }
  // f32 transcendentals use codegen/kernel_math.h (vectorisable); f64 ones, and f32 sin,
  // cos and pow, call the C library through GCC builtins (no <cmath> in the unit).
  const bool f32 = e.dtype == DType::kF32;
  auto call = [&](const char* f32_fn, const char* f64_fn) {
    return absl::StrCat(f32 ? f32_fn : f64_fn, "(", arg(0), ")");
  };
  switch (e.op) {
    case OpKind::kNeg:
      return flt ? absl::StrCat("-", arg(0)) : absl::StrCat("kn::WrapNeg(", arg(0), ")");
    case OpKind::kAbs:
      return flt ? call("__builtin_fabsf", "__builtin_fabs")
                 : absl::StrCat("kn::WrapAbs(", arg(0), ")");
    case OpKind::kExp:
      return call("km::ExpF", "__builtin_exp");
    case OpKind::kLog:
      return call("km::LogF", "__builtin_log");
    case OpKind::kSqrt:
      return call("__builtin_sqrtf", "__builtin_sqrt");
    case OpKind::kRsqrt:
      return absl::StrCat(t, "(1) / ", call("__builtin_sqrtf", "__builtin_sqrt"));
    case OpKind::kTanh:
      return call("km::TanhF", "__builtin_tanh");
    case OpKind::kErf:
      return call("km::ErfF", "__builtin_erf");
    case OpKind::kSigmoid:
      if (f32) return call("km::SigmoidF", "");
      return absl::StrCat("1.0 / (1.0 + __builtin_exp(-", arg(0), "))");
    case OpKind::kRelu:
      return absl::StrCat(arg(0), " < ", t, "(0) ? ", t, "(0) : ", arg(0));
    case OpKind::kSin:
      return call("__builtin_sinf", "__builtin_sin");
    case OpKind::kCos:
      return call("__builtin_cosf", "__builtin_cos");
    case OpKind::kLogicalNot:
      return absl::StrCat("!", arg(0));
    case OpKind::kCast:
      return absl::StrCat("kn::CastTo<", t, ">(", arg(0), ")");
    case OpKind::kAdd:
      return flt ? absl::StrCat(arg(0), " + ", arg(1))
                 : absl::StrCat("kn::WrapAdd(", arg(0), ", ", arg(1), ")");
    case OpKind::kSub:
      return flt ? absl::StrCat(arg(0), " - ", arg(1))
                 : absl::StrCat("kn::WrapSub(", arg(0), ", ", arg(1), ")");
    case OpKind::kMul:
      return flt ? absl::StrCat(arg(0), " * ", arg(1))
                 : absl::StrCat("kn::WrapMul(", arg(0), ", ", arg(1), ")");
    case OpKind::kDiv:
      if (!flt) return absl::StrCat("kn::IntDiv(", arg(0), ", ", arg(1), ")");
      if (reciprocal_[e.args[1]]) return absl::StrCat(arg(0), " * rcp", e.args[1]);
      return absl::StrCat(arg(0), " / ", arg(1));
    case OpKind::kPow:
      return flt ? absl::StrCat(t, "(__builtin_pow(double(", arg(0), "), double(", arg(1), ")))")
                 : absl::StrCat("kn::IntPow(", arg(0), ", ", arg(1), ")");
    case OpKind::kMaximum:
      return absl::StrCat("kn::NanMax(", arg(0), ", ", arg(1), ")");
    case OpKind::kMinimum:
      return absl::StrCat("kn::NanMin(", arg(0), ", ", arg(1), ")");
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
      if (e.dtype == DType::kF32 || e.dtype == DType::kF64) {
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

void KernelEmitter::EmitScope(const std::vector<bool>& bound, const std::vector<int>& roots) {
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

void KernelEmitter::EmitExpr(int e, const std::vector<bool>& bound) {
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
      Line(absl::StrCat("const ", CType(x.dtype), " v", e, " = ", OpText(x), ";"));
      EmitReciprocal(e);
  }
}

void KernelEmitter::EmitReciprocal(int e) {
  // An f32 division inside a loop by a value computed once outside it (softmax's row
  // sum) multiplies by the reciprocal instead: one division per row, and the element loop
  // vectorises into multiplies. x * (1/s) rounds twice, so it can differ from x / s by one
  // ulp (at most 1.5 ulp from the exact quotient instead of 0.5), well inside the f32
  // parity tolerance, and it is never NaN or inf where x / s is finite.
  if (!reciprocal_[e]) return;
  Line(absl::StrCat("const float rcp", e, " = 1.0f / v", e, ";"));
}

void KernelEmitter::EmitStore(const Store& s) {
  const std::string target = absl::StrCat("b", s.buffer, "[", Ref(s.offset), "]");
  if (s.accumulate) {
    const DType dt = ir_.buffers[s.buffer].dtype;
    if (IsFloating(dt)) {
      Line(absl::StrCat(target, " += ", Ref(s.value), ";"));
    } else {
      Line(absl::StrCat(target, " = kn::WrapAdd(", target, ", ", Ref(s.value), ");"));
    }
  } else {
    Line(absl::StrCat(target, " = ", Ref(s.value), ";"));
  }
}

void KernelEmitter::EmitNest(const LoopNest& nest) {
  if (nest.kind == NestKind::kColumnReduce) {
    EmitColumnNest(nest);
    return;
  }
  const int n = static_cast<int>(nest.vars.size());
  const int p = nest.num_parallel;
  // Level of a store: the innermost loop it needs (-1: none). The parallel loops are
  // collapsed into one level, p - 1.
  std::vector<int> level(nest.stores.size(), -1);
  for (size_t s = 0; s < nest.stores.size(); ++s) {
    for (int e : {nest.stores[s].offset, nest.stores[s].value}) {
      for (int v : deps_[e]) {
        const int at =
            static_cast<int>(std::find(nest.vars.begin(), nest.vars.end(), v) - nest.vars.begin());
        level[s] = std::max(level[s], at);
      }
    }
    if (level[s] >= 0 && level[s] < p) level[s] = p - 1;
  }
  auto roots_from = [&](int from) {
    std::vector<int> roots;
    for (size_t s = 0; s < nest.stores.size(); ++s) {
      if (level[s] >= from) {
        roots.push_back(nest.stores[s].offset);
        roots.push_back(nest.stores[s].value);
      }
    }
    return roots;
  };
  auto stores_at = [&](int at) {
    for (size_t s = 0; s < nest.stores.size(); ++s) {
      if (level[s] == at) EmitStore(nest.stores[s]);
    }
  };
  // The innermost loop is an OpenMP simd loop unless its body checks values, reduces or
  // accumulates into colliding elements. The pragma matters: the stores of one nest go to
  // distinct elements, but a kernel with many outputs (a forward step saving activations)
  // has more pointer pairs than GCC checks for overlap at run time, and without it the
  // loop stays scalar.
  auto simd_innermost = [&] {
    if (n == 0) return false;
    for (const Store& s : nest.stores) {
      if (s.accumulate) return false;
    }
    std::vector<bool> inner(ir_.vars.size(), false);
    inner[nest.vars[n - 1]] = true;
    for (int root : roots_from(n - 1)) {
      bool has_check = false;
      if (root >= 0 && Reaches(root, inner, &has_check)) return false;
    }
    return true;
  };
  const size_t scope_mark = scope_emitted_.size();
  Line("{");
  ++indent_;
  std::vector<bool> bound(ir_.vars.size(), false);
  EmitScope(bound, roots_from(-1));
  stores_at(-1);
  int opened = 0;
  int first = 0;
  if (p > 0 && !roots_from(p - 1).empty()) {
    std::vector<std::string> work;
    for (int k = 0; k < n; ++k) work.push_back(VarSize(nest.vars[k]));
    const bool simd = p == 1 && n == 1 && simd_innermost();
    Line(absl::StrCat("#pragma omp parallel for", simd ? " simd" : "",
                      p > 1 ? absl::StrCat(" collapse(", p, ")") : "",
                      " schedule(static) num_threads(nt) if (parallel : ",
                      absl::StrJoin(work, " * "), " >= ", kMinParallel, ")"));
    for (int k = 0; k < p; ++k) {
      const int v = nest.vars[k];
      Line(absl::StrCat("for (int64_t i", v, " = 0; i", v, " < ", VarSize(v), "; ++i", v, ") {"));
      ++indent_;
      bound[v] = true;
      ++opened;
    }
    EmitScope(bound, roots_from(p - 1));
    stores_at(p - 1);
    first = p;
  }
  for (int k = first; k < n; ++k) {
    if (roots_from(k).empty()) break;
    const int v = nest.vars[k];
    if (k == n - 1 && simd_innermost()) Line("#pragma omp simd");
    Line(absl::StrCat("for (int64_t i", v, " = 0; i", v, " < ", VarSize(v), "; ++i", v, ") {"));
    ++indent_;
    bound[v] = true;
    ++opened;
    EmitScope(bound, roots_from(k));
    stores_at(k);
  }
  for (int k = 0; k < opened; ++k) {
    --indent_;
    Line("}");
  }
  --indent_;
  Line("}");
  LeaveScope(scope_mark);
}

void KernelEmitter::EmitSizes() {
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
      Line(absl::StrCat("const int64_t n", x.arg, " = sizes[", x.arg, "];"));
    } else if (x.kind != ExprKind::kConstant) {
      Line(absl::StrCat("const int64_t v", e, " = ", OpText(x), ";"));
    }
    emitted_[e] = true;
  }
}

std::string KernelEmitter::Emit() {
  Line(absl::StrCat("// kernel ", ir_.name, " (", KernelKindName(ir_.kind), ")"));
  Line(absl::StrCat("extern \"C\" void ", ir_.name,
                    "(void* const* bufs, const int64_t* sizes, const double* scalars, int nt, "
                    "int phase, KilnError* err) {"));
  ++indent_;
  for (size_t b = 0; b < ir_.buffers.size(); ++b) {
    const BufferArg& arg = ir_.buffers[b];
    const bool in = arg.role == BufferRole::kInput;
    Line(absl::StrCat(in ? "const " : "", StorageType(arg.dtype),
                      arg.may_alias ? "* b" : "* __restrict b", b, " = static_cast<",
                      in ? "const " : "", StorageType(arg.dtype), "*>(bufs[", b, "]);"));
  }
  EmitSizes();
  for (size_t a = 0; a < ir_.scalar_dtypes.size(); ++a) {
    const char* t = CType(ir_.scalar_dtypes[a]);
    Line(absl::StrCat("const ", t, " a", a, " = kn::CastTo<", t, ">(scalars[", a, "]);"));
  }
  Line("(void)bufs; (void)sizes; (void)scalars; (void)nt; (void)err;");
  const int pre = ir_.num_pre_nests;
  const bool phased = !ir_.matmuls.empty();
  for (int k = 0; k < static_cast<int>(ir_.nests.size()); ++k) {
    if (phased && (k == 0 || k == pre)) {
      if (k > 0) {
        --indent_;
        Line("}");
      }
      Line(absl::StrCat("if (phase == ", k < pre ? 0 : 1, ") {"));
      ++indent_;
    }
    EmitNest(ir_.nests[k]);
  }
  if (phased && !ir_.nests.empty()) {
    --indent_;
    Line("}");
  }
  Line("(void)phase;");
  --indent_;
  Line("}");
  return out_;
}

}  // namespace cpp_internal

std::string CppPreamble() {
  // No #include: the standard headers would cost most of a small unit's compile time.
  // The helpers are the library's own headers, pasted in an unnamed namespace so that
  // nothing in the loaded library can bind to (or be bound by) another copy.
  return absl::StrCat(R"(// Generated by kiln's C++ emitter.
typedef __UINT8_TYPE__ uint8_t;
typedef __INT32_TYPE__ int32_t;
typedef __INT64_TYPE__ int64_t;

namespace {

)",
                      kKernelNumerics, kKernelMath, R"(
namespace kn = kiln::numerics;
namespace km = kiln::math;

struct KilnError {
  int32_t check;
  int32_t order;
  int64_t value;
  int64_t position;
};

// Keeps the failure of the earliest node (post-order), at its first position.
void kiln_fail(KilnError* err, int check, int order, int64_t value, int64_t position) {
#pragma omp critical(kiln_error)
  {
    if (err->check < 0 || order < err->order ||
        (order == err->order && position < err->position)) {
      err->check = check;
      err->order = order;
      err->value = value;
      err->position = position;
    }
  }
}

}  // namespace

)");
}

std::string EmitCppKernel(const KernelIR& kernel) {
  return cpp_internal::KernelEmitter(kernel).Emit();
}

std::string EmitCppSource(const std::vector<KernelIR>& kernels) {
  std::string source = CppPreamble();
  for (const KernelIR& k : kernels) absl::StrAppend(&source, EmitCppKernel(k), "\n");
  return source;
}

}  // namespace kiln::codegen
