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

// The text of codegen/kernel_math.h and kernel_sums.h, embedded at build time
// (cmake/kiln_embed_text.cmake), so generated kernels use exactly the library's code.
constexpr char kKernelMath[] =
#include "codegen/kernel_math.inc"
    ;
constexpr char kKernelSums[] =
#include "codegen/kernel_sums.inc"
    ;

}  // namespace

namespace internal {

int CppKernelEmitter::OpenInnermostLoop(int v, const std::vector<int>& roots,
                                        const std::vector<bool>& bound, const std::string& pragma) {
  // The blockable divisions, grouped by (dividend, divisor): walks the loop's own
  // expressions, not into reductions (their loops are their own).
  struct Division {
    int dividend, divisor;
    int offset;  // the part of the dividend fixed outside the loop; -1: none
    std::vector<int> exprs;
  };
  std::vector<Division> divisions;
  std::vector<int> comparisons;  // i<v> >= c or i<v> < c, c fixed outside the loop
  const auto is_var = [&](int e) {
    return ir_.exprs[e].kind == ExprKind::kVar && ir_.exprs[e].arg == v;
  };
  std::vector<bool> seen(ir_.exprs.size(), false);
  std::vector<int> stack(roots.begin(), roots.end());
  while (!stack.empty()) {
    const int e = stack.back();
    stack.pop_back();
    if (e < 0 || seen[e] || Bound(e, bound)) continue;
    seen[e] = true;
    const Expr& x = ir_.exprs[e];
    if (x.kind == ExprKind::kReduce) continue;
    for (int a : x.args) stack.push_back(a);
    if (x.kind == ExprKind::kOp && (x.op == OpKind::kGe || x.op == OpKind::kLt) &&
        is_var(x.args[0]) && Bound(x.args[1], bound)) {
      comparisons.push_back(e);
      continue;
    }
    if (x.kind != ExprKind::kIdxDiv && x.kind != ExprKind::kIdxMod) continue;
    const int dividend = x.args[0], divisor = x.args[1];
    if (!Bound(divisor, bound)) continue;
    int offset = -1;
    const Expr& d = ir_.exprs[dividend];
    if (d.kind == ExprKind::kIdxAdd && is_var(d.args[0]) && Bound(d.args[1], bound)) {
      offset = d.args[1];
    } else if (d.kind == ExprKind::kIdxAdd && is_var(d.args[1]) && Bound(d.args[0], bound)) {
      offset = d.args[0];
    } else if (!is_var(dividend)) {
      continue;
    }
    auto same = std::find_if(divisions.begin(), divisions.end(), [&](const Division& g) {
      return g.dividend == dividend && g.divisor == divisor;
    });
    if (same == divisions.end()) {
      divisions.push_back({dividend, divisor, offset, {}});
      same = divisions.end() - 1;
    }
    same->exprs.push_back(e);
  }
  const std::string i = absl::StrCat("i", v);
  if (divisions.empty() && comparisons.empty()) {
    if (!pragma.empty()) Line(pragma);
    OpenLoop(v);
    return 1;
  }
  Line(absl::StrCat("for (int64_t ", i, "_blk = 0, ", i, "_end = 0; ", i, "_blk < ", VarSize(v),
                    "; ", i, "_blk = ", i, "_end) {"));
  ++indent_;
  Line(absl::StrCat(i, "_end = ", VarSize(v), ";"));
  for (const Division& g : divisions) {
    const std::string q = absl::StrCat("q", g.exprs.front());
    const std::string start =
        g.offset < 0 ? absl::StrCat(i, "_blk") : absl::StrCat(i, "_blk + ", Ref(g.offset));
    Line(absl::StrCat("const int64_t ", q, " = kn::IdxQuotientUntil<int64_t>(", start, ", ",
                      Ref(g.divisor), ", ", i, "_blk, &", i, "_end);"));
    for (int e : g.exprs) {
      replaced_text_[e] = ir_.exprs[e].kind == ExprKind::kIdxDiv
                              ? q
                              : absl::StrCat(Ref(g.dividend), " - ", q, " * ", Ref(g.divisor));
      blocked_exprs_.push_back(e);
    }
  }
  for (int e : comparisons) {
    const std::string below = absl::StrCat("below", e);
    Line(absl::StrCat("const bool ", below, " = kn::IdxBelowUntil<int64_t>(", i, "_blk, ",
                      Ref(ir_.exprs[e].args[1]), ", &", i, "_end);"));
    replaced_text_[e] = ir_.exprs[e].op == OpKind::kLt ? below : absl::StrCat("!", below);
    blocked_exprs_.push_back(e);
  }
  if (!pragma.empty()) Line(pragma);
  Line(absl::StrCat("for (int64_t ", i, " = ", i, "_blk; ", i, " < ", i, "_end; ++", i, ") {"));
  ++indent_;
  return 2;
}

void CppKernelEmitter::CloseInnermostLoop(int opened) {
  for (int k = 0; k < opened; ++k) {
    --indent_;
    Line("}");
  }
  for (int e : blocked_exprs_) replaced_text_[e].clear();
  blocked_exprs_.clear();
}

void CppKernelEmitter::EmitNest(const LoopNest& nest) {
  if (nest.kind == NestKind::kColumnReduce) {
    EmitColumnNest(nest);
    return;
  }
  const int n = static_cast<int>(nest.vars.size());
  const int p = nest.num_parallel;
  // Level of a store: the innermost loop it needs (-1: none). The parallel loops are
  // collapsed into one level, p - 1.
  std::vector<int> level = StoreLevels(nest);
  for (int& l : level) {
    if (l >= 0 && l < p) l = p - 1;
  }
  auto roots_from = [&](int from) { return StoreRoots(nest, level, from); };
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
      OpenLoop(v);
      bound[v] = true;
      ++opened;
    }
    EmitScope(bound, roots_from(p - 1));
    stores_at(p - 1);
    first = p;
  }
  // The element loop, over v: once as is, or first (when the row fits one block) reading
  // what it shares with a row sum from the sum's array (SummandBlock).
  const auto emit_innermost = [&](int k, int v) {
    const std::vector<int> roots = roots_from(k);
    const std::string pragma = simd_innermost() ? "#pragma omp simd" : "";
    std::vector<bool> inner = bound;
    inner[v] = true;
    const auto emit_loop = [&] {
      const size_t mark = scope_emitted_.size();
      const int loops = OpenInnermostLoop(v, roots, bound, pragma);
      EmitScope(inner, roots);
      stores_at(k);
      CloseInnermostLoop(loops);
      LeaveScope(mark);
    };
    const std::vector<std::pair<int, std::string>> summands = SummandsInBlocks(v, roots);
    if (summands.empty()) {
      emit_loop();
      return;
    }
    Line(absl::StrCat("if (", VarSize(v), " <= ", kSumBlock, ") {"));
    ++indent_;
    for (const auto& [e, text] : summands) replaced_text_[e] = text;
    emit_loop();
    for (const auto& [e, text] : summands) replaced_text_[e].clear();
    --indent_;
    Line("} else {");
    ++indent_;
    emit_loop();
    --indent_;
    Line("}");
  };
  for (int k = first; k < n; ++k) {
    if (roots_from(k).empty()) break;
    const int v = nest.vars[k];
    if (k == n - 1) {
      emit_innermost(k, v);
      break;
    }
    OpenLoop(v);
    ++opened;
    bound[v] = true;
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

std::string CppKernelEmitter::Emit() {
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

}  // namespace internal

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
                      internal::KernelNumericsText(), kKernelMath, kKernelSums, R"(
namespace kn = kiln::numerics;
namespace km = kiln::math;
namespace ks = kiln::sums;

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
  return internal::CppKernelEmitter(kernel).Emit();
}

std::string EmitCppSource(const std::vector<KernelIR>& kernels) {
  std::string source = CppPreamble();
  for (const KernelIR& k : kernels) absl::StrAppend(&source, EmitCppKernel(k), "\n");
  return source;
}

}  // namespace kiln::codegen
