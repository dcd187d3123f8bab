#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "codegen/cpp_kernel_emitter.h"

namespace kiln::codegen::internal {

bool CppKernelEmitter::Reaches(int root, const std::vector<bool>& inner_vars,
                               bool* has_check) const {
  std::vector<bool> seen(ir_.exprs.size(), false);
  std::vector<int> stack = {root};
  while (!stack.empty()) {
    const int e = stack.back();
    stack.pop_back();
    if (seen[e] || emitted_[e]) continue;
    seen[e] = true;
    bool inner = false;
    for (int v : deps_[e]) inner = inner || inner_vars[v];
    const Expr& x = ir_.exprs[e];
    if (x.kind == ExprKind::kReduce) {
      *has_check = true;  // nested reductions are not simd loops either
      continue;
    }
    if (!inner) continue;
    if (x.kind == ExprKind::kCheck) *has_check = true;
    for (int a : x.args) stack.push_back(a);
  }
  return *has_check;
}

bool CppKernelEmitter::SameUpToVar(int a, int b, int a_var, int b_var) const {
  if (a == b) return !std::binary_search(deps_[a].begin(), deps_[a].end(), a_var);
  const Expr& x = ir_.exprs[a];
  const Expr& y = ir_.exprs[b];
  if (x.kind != y.kind || x.dtype != y.dtype || x.op != y.op || x.args.size() != y.args.size()) {
    return false;
  }
  if (x.kind == ExprKind::kVar) {
    return x.arg == a_var ? y.arg == b_var : x.arg == y.arg && y.arg != b_var;
  }
  if (x.arg != y.arg) return false;
  switch (x.kind) {
    case ExprKind::kConstant:
      return x.number == y.number && x.inumber == y.inumber;
    case ExprKind::kReduce:
    case ExprKind::kCheck:
      return false;  // only the same expression (a == b) computes the same
    default:
      break;
  }
  for (size_t k = 0; k < x.args.size(); ++k) {
    if (!SameUpToVar(x.args[k], y.args[k], a_var, b_var)) return false;
  }
  return true;
}

std::vector<std::pair<int, std::string>> CppKernelEmitter::SummandsInBlocks(
    int v, const std::vector<int>& roots) const {
  std::vector<std::pair<int, std::string>> found;
  std::vector<bool> seen(ir_.exprs.size(), false);
  std::vector<int> stack(roots.begin(), roots.end());
  while (!stack.empty()) {
    const int s = stack.back();
    stack.pop_back();
    if (s < 0 || seen[s] || emitted_[s]) continue;
    seen[s] = true;
    for (const SummandBlock& sb : summand_blocks_) {
      const Expr& sum = ir_.exprs[sb.reduce];
      const int sum_var = sum.vars[0];
      if (!emitted_[sb.reduce] || ir_.exprs[sum.args[0]].dtype != ir_.exprs[s].dtype ||
          !SameUpToVar(ir_.vars[sum_var].size_expr, ir_.vars[v].size_expr, -1, -1) ||
          !SameUpToVar(sum.args[0], s, sum_var, v)) {
        continue;
      }
      found.emplace_back(s, absl::StrCat(CType(ir_.exprs[s].dtype), "(", sb.block, "[i", v, "])"));
      break;
    }
    if (!found.empty() && found.back().first == s) continue;  // its operands are not needed
    for (int a : ir_.exprs[s].args) stack.push_back(a);
  }
  return found;
}

void CppKernelEmitter::EmitReduce(int e, const std::vector<bool>& bound) {
  const Expr& x = ir_.exprs[e];
  const std::string acc = absl::StrCat("acc", e);
  const DType dt = x.dtype;
  const DType body_dt = ir_.exprs[x.args[0]].dtype;
  const bool flt = IsFloating(body_dt);
  const bool sum = x.op == OpKind::kSum || x.op == OpKind::kMean;
  std::vector<bool> inner = bound;
  std::vector<bool> own(ir_.vars.size(), false);
  for (int v : x.vars) inner[v] = own[v] = true;
  std::vector<std::string> names;
  for (int v : x.vars) names.push_back(absl::StrCat("i", v, " < ", VarSize(v)));
  Line(absl::StrCat("// ", OpName(x.op), " over ", absl::StrJoin(names, ", ")));
  const char* at = ReduceAccType(x, body_dt);
  bool has_check = false;
  Reaches(x.args[0], own, &has_check);
  const bool max_or_min = x.op == OpKind::kMax || x.op == OpKind::kMin;
  // Max/min as an OpenMP simd reduction: each lane keeps a plain compare-and-select
  // maximum (which NaN never wins) and a flag records whether any element was NaN, so the
  // result is still NaN whenever one was, as in the sequential step.
  const bool simd_max_or_min = max_or_min && !has_check && body_dt != DType::kBool;
  const std::string nan_flag = absl::StrCat("nan", e);
  Line(absl::StrCat(at, " ", acc, " = ", ReduceIdentity(x, body_dt), ";"));
  if (x.op == OpKind::kArgmax) Line(absl::StrCat("int64_t ", acc, "_at = 0;"));
  if (simd_max_or_min && flt) Line(absl::StrCat("int ", nan_flag, " = 0;"));
  const size_t scope_mark = scope_emitted_.size();
  const int innermost = x.vars.back();
  const bool blocked = sum && flt;
  const int opened = static_cast<int>(x.vars.size()) - (blocked ? 1 : 0);
  for (int k = 0; k < opened; ++k) {
    const int v = x.vars[k];
    if (simd_max_or_min && k == opened - 1) {
      Line(absl::StrCat("#pragma omp simd reduction(", x.op == OpKind::kMax ? "max" : "min", " : ",
                        acc, ")", flt ? absl::StrCat(" reduction(| : ", nan_flag, ")") : ""));
    }
    OpenLoop(v);
  }
  std::vector<int> roots(x.args.begin(), x.args.end());
  if (blocked) {
    // Blocked f32/f64 sum: each block's values summed by ks::BlockSum, blocks added in
    // order.
    const std::string i = absl::StrCat("i", innermost);
    const std::string part = absl::StrCat("part", e);
    const LoopVar& lv = ir_.vars[innermost];
    const bool one_block =
        ir_.exprs[lv.size_expr].kind == ExprKind::kConstant && lv.size <= kSumBlock;
    std::string lo = "0", hi = VarSize(innermost);
    // A sum over one variable declares its array with its accumulator, so that the
    // element loop after it can read the summands of a one-block row (SummandBlock).
    const std::string block = absl::StrCat("block", e);
    const bool keeps_summands = !has_check && x.vars.size() == 1 && IsFloating(body_dt) &&
                                CType(x.acc_dtype) == CType(body_dt);
    if (keeps_summands) {
      Line(absl::StrCat("alignas(64) ", at, " ", block, "[", kSumBlock, "];"));
      summand_blocks_.push_back({e, block});
    }
    if (!one_block) {
      Line(absl::StrCat("for (int64_t ", i, "_lo = 0; ", i, "_lo < ", hi, "; ", i,
                        "_lo += ", kSumBlock, ") {"));
      ++indent_;
      Line(absl::StrCat("const int64_t ", i, "_hi = ", i, "_lo + ", kSumBlock, " < ", hi, " ? ", i,
                        "_lo + ", kSumBlock, " : ", hi, ";"));
      lo = absl::StrCat(i, "_lo");
      hi = absl::StrCat(i, "_hi");
    }
    // A loop with checks stays sequential.
    if (has_check) {
      Line(absl::StrCat(at, " ", part, " = 0;"));
    } else {
      if (!keeps_summands) {
        Line(absl::StrCat("alignas(64) ", at, " ", block, "[", kSumBlock, "];"));
      }
      Line("#pragma omp simd");
    }
    Line(absl::StrCat("for (int64_t ", i, " = ", lo, "; ", i, " < ", hi, "; ++", i, ") {"));
    ++indent_;
    EmitScope(inner, {x.args[0]});
    if (has_check) {
      Line(absl::StrCat(part, " += ", Ref(x.args[0]), ";"));
    } else {
      Line(absl::StrCat(block, "[", i, " - ", lo, "] = ", at, "(", Ref(x.args[0]), ");"));
    }
    --indent_;
    Line("}");
    Line(absl::StrCat(
        acc, " += ",
        has_check ? part : absl::StrCat("ks::BlockSum(", block, ", ", hi, " - ", lo, ")"), ";"));
    if (!one_block) {
      --indent_;
      Line("}");
    }
  } else {
    EmitScope(inner, roots);
    const std::string v = Ref(x.args[0]);
    if (x.op == OpKind::kArgmax) {
      EmitArgmaxStep(acc, v, Ref(x.args[1]));
    } else if (simd_max_or_min) {
      Line(absl::StrCat(acc, " = kn::Simd", x.op == OpKind::kMax ? "Max" : "Min", "Step(", acc,
                        ", ", v, ");"));
      if (flt) Line(absl::StrCat(nan_flag, " |= ", v, " != ", v, ";"));
    } else {
      Line(absl::StrCat(acc, " = ", ReduceStep(x.op, acc, absl::StrCat(at, "(", v, ")")), ";"));
    }
  }
  for (int k = 0; k < opened; ++k) {
    --indent_;
    Line("}");
  }
  // Expressions of the loop body are out of scope now.
  LeaveScope(scope_mark);
  emitted_[e] = true;
  scope_emitted_.push_back(e);
  const std::string result = simd_max_or_min && flt ? absl::StrCat("kn::FinishNanReduction(", acc,
                                                                   ", ", nan_flag, " != 0)")
                                                    : ReduceResult(x, acc);
  Line(absl::StrCat("const ", CType(dt), " v", e, " = ", result, ";"));
  EmitReciprocal(e);
}

namespace {

// Floating column sums add rows into a block's partial sums, blocks into a group's, and
// groups into the chunk's: three short sequential sums, whose error stays near a pairwise
// sum's, for one extra pass over a block's columns every kColumnBlock rows.
constexpr int64_t kColumnBlock = 16;   // rows per block
constexpr int64_t kColumnGroup = 256;  // rows per group of blocks

struct ColumnText {
  std::string acc_type;  // the accumulator's C type
  std::string init;      // the identity
  bool blocked;          // a floating sum, summed per block of rows
};

ColumnText ColumnTextOf(const KernelIR& ir, int e) {
  const Expr& x = ir.exprs[e];
  const DType body = ir.exprs[x.args[0]].dtype;
  ColumnText t;
  t.acc_type = ReduceAccType(x, body);
  t.blocked = (x.op == OpKind::kSum || x.op == OpKind::kMean) && IsFloating(body);
  t.init = ReduceIdentity(x, body);
  return t;
}

// `acc` combined with `v` (an element or another partial result).
std::string ColumnStep(const KernelIR& ir, int e, const std::string& acc, const std::string& v) {
  const ColumnText t = ColumnTextOf(ir, e);
  if (t.blocked) return absl::StrCat(acc, " + ", v);
  return ReduceStep(ir.exprs[e].op, acc, absl::StrCat(t.acc_type, "(", v, ")"));
}

}  // namespace

void CppKernelEmitter::EmitColumnNest(const LoopNest& nest) {
  const ColumnSchedule schedule = ScheduleColumns(ir_, nest);
  const int p = nest.num_parallel;
  const int q = nest.num_reduced;
  const std::vector<int> outer(nest.vars.begin(), nest.vars.begin() + p);
  const std::vector<int> rows(nest.vars.begin() + p, nest.vars.begin() + p + q);
  const std::vector<int> cols(nest.vars.begin() + p + q, nest.vars.end());
  const size_t scope_mark = scope_emitted_.size();
  Line("{");
  ++indent_;
  std::vector<std::string> names;
  for (int e : nest.reductions) names.push_back(absl::StrCat(OpName(ir_.exprs[e].op), " v", e));
  Line(absl::StrCat("// column reduction: ", absl::StrJoin(names, ", "), "; rows outer, ",
                    "columns inner"));
  Line(absl::StrCat("const int64_t ko = ", SizeProduct(outer), ";"));
  Line(absl::StrCat("const int64_t kr = ", SizeProduct(rows), ";"));
  Line(absl::StrCat("const int64_t kw = ", SizeProduct(cols), ";"));
  // Too few outer slices for the threads: each slice's rows are split into chunks, each
  // with its own partial results, combined in chunk order. The chunk count depends only
  // on the sizes and nt, so a thread count always gives the same result.
  Line(absl::StrCat("const bool par = nt > 1 && ko * kr * kw >= ", kMinParallel, ";"));
  Line("const int64_t want = par && ko < 4 * int64_t(nt) ? (4 * int64_t(nt) + ko - 1) / ko : 1;");
  Line("const int64_t nch = want < kr ? want : (kr > 0 ? kr : 1);");
  Line("const int64_t ntask = ko * nch;");
  std::vector<std::string> arrays;
  for (int e : nest.reductions) {
    const ColumnText t = ColumnTextOf(ir_, e);
    auto array = [&](const std::string& name, const std::string& type, const std::string& n) {
      Line(absl::StrCat(type, "* ", name, " = new ", type, "[", n, " > 0 ? ", n, " : 1];"));
      arrays.push_back(name);
    };
    array(absl::StrCat("part", e), t.acc_type, "ntask * kw");
    if (t.blocked) array(absl::StrCat("blk", e), t.acc_type, "2 * ntask * kw");
    if (schedule.num_sweeps > 1)
      array(absl::StrCat("fin", e), CType(ir_.exprs[e].dtype), "ko * kw");
  }
  for (int s = 0; s < schedule.num_sweeps; ++s) {
    EmitColumnSweep(nest, schedule, s);
    if (s < schedule.num_levels) EmitColumnCombine(nest, schedule, s);
  }
  for (const std::string& a : arrays) Line(absl::StrCat("delete[] ", a, ";"));
  --indent_;
  Line("}");
  LeaveScope(scope_mark);
}

void CppKernelEmitter::EmitColumnSweep(const LoopNest& nest, const ColumnSchedule& schedule,
                                    int sweep) {
  const int p = nest.num_parallel;
  const int q = nest.num_reduced;
  const std::vector<int> outer(nest.vars.begin(), nest.vars.begin() + p);
  const std::vector<int> rows(nest.vars.begin() + p, nest.vars.begin() + p + q);
  const std::vector<int> cols(nest.vars.begin() + p + q, nest.vars.end());
  const size_t scope_mark = scope_emitted_.size();
  std::vector<int> now;      // reductions accumulated in this sweep
  std::vector<int> earlier;  // finished ones, read back per column
  std::vector<int> roots;
  for (size_t k = 0; k < nest.reductions.size(); ++k) {
    const int e = nest.reductions[k];
    if (schedule.level[k] == sweep) {
      now.push_back(e);
      roots.push_back(ir_.exprs[e].args[0]);
    } else if (schedule.level[k] < sweep) {
      earlier.push_back(e);
      emitted_[e] = true;
      scope_emitted_.push_back(e);
    }
  }
  std::vector<const Store*> stores;
  for (size_t k = 0; k < nest.stores.size(); ++k) {
    if (schedule.store_phase[k] != sweep) continue;
    stores.push_back(&nest.stores[k]);
    roots.push_back(nest.stores[k].offset);
    roots.push_back(nest.stores[k].value);
  }
  std::vector<bool> bound(ir_.vars.size(), false);
  Line("#pragma omp parallel for schedule(static) num_threads(nt) if (par)");
  Line("for (int64_t task = 0; task < ntask; ++task) {");
  ++indent_;
  Line("const int64_t o = task / nch;");
  Line("const int64_t ch = task - o * nch;");
  Delinearize(outer, "o", "orem");
  for (int v : outer) bound[v] = true;
  EmitScope(bound, roots);
  // Zeroes (or folds into `to`) the partial sums `from` of every blocked reduction.
  auto blocked_pass = [&](const char* from, const char* to) {
    for (int e : now) {
      if (!ColumnTextOf(ir_, e).blocked) continue;
      Line("#pragma omp simd");
      if (to == nullptr) {
        Line(absl::StrCat("for (int64_t c = 0; c < kw; ++c) ", from, e, "[c] = 0;"));
      } else {
        Line(absl::StrCat("for (int64_t c = 0; c < kw; ++c) ", to, e, "[c] += ", from, e, "[c];"));
      }
    }
  };
  for (int e : now) {
    const ColumnText t = ColumnTextOf(ir_, e);
    Line(absl::StrCat(t.acc_type, "* __restrict pp", e, " = part", e, " + task * kw;"));
    if (t.blocked) {
      Line(absl::StrCat(t.acc_type, "* __restrict qq", e, " = blk", e, " + 2 * task * kw;"));
      Line(absl::StrCat(t.acc_type, "* __restrict gg", e, " = qq", e, " + kw;"));
    }
    Line(absl::StrCat("for (int64_t c = 0; c < kw; ++c) pp", e, "[c] = ", t.init, ";"));
  }
  Line("const int64_t r_end = kr * (ch + 1) / nch;");
  Line(absl::StrCat("for (int64_t rg = kr * ch / nch; rg < r_end; rg += ", kColumnGroup, ") {"));
  ++indent_;
  Line(absl::StrCat("const int64_t rg_end = rg + ", kColumnGroup, " < r_end ? rg + ", kColumnGroup,
                    " : r_end;"));
  blocked_pass("gg", nullptr);
  Line(absl::StrCat("for (int64_t rb = rg; rb < rg_end; rb += ", kColumnBlock, ") {"));
  ++indent_;
  Line(absl::StrCat("const int64_t rb_end = rb + ", kColumnBlock, " < rg_end ? rb + ", kColumnBlock,
                    " : rg_end;"));
  blocked_pass("qq", nullptr);
  Line("for (int64_t r = rb; r < rb_end; ++r) {");
  ++indent_;
  Delinearize(rows, "r", "rrem");
  for (int v : rows) bound[v] = true;
  EmitScope(bound, roots);
  std::vector<bool> col_vars(ir_.vars.size(), false);
  for (int v : cols) col_vars[v] = true;
  bool has_check = false;
  for (int root : roots) Reaches(root, col_vars, &has_check);
  int innermost_opened = 0;
  for (size_t k = 0; k < cols.size(); ++k) {
    const int v = cols[k];
    if (k + 1 == cols.size()) {
      innermost_opened = OpenInnermostLoop(v, roots, bound, has_check ? "" : "#pragma omp simd");
    } else {
      OpenLoop(v);
    }
    bound[v] = true;
    if (k + 1 < cols.size()) EmitScope(bound, roots);
  }
  Line(absl::StrCat("const int64_t c = ", LinearIndex(cols), ";"));
  const std::vector<bool> used = ReachableExprs(ir_, roots);
  for (int e : earlier) {
    if (!used[e]) continue;
    Line(absl::StrCat("const ", CType(ir_.exprs[e].dtype), " v", e, " = fin", e, "[o * kw + c];"));
    EmitReciprocal(e);
  }
  EmitScope(bound, roots);
  for (const Store* st : stores) EmitStore(*st);
  for (int e : now) {
    const std::string v = Ref(ir_.exprs[e].args[0]);
    if (ColumnTextOf(ir_, e).blocked) {
      Line(absl::StrCat("qq", e, "[c] += ", v, ";"));
    } else {
      const std::string acc = absl::StrCat("pp", e, "[c]");
      Line(absl::StrCat(acc, " = ", ColumnStep(ir_, e, acc, v), ";"));
    }
  }
  CloseInnermostLoop(innermost_opened);
  for (size_t k = 1; k < cols.size(); ++k) {
    --indent_;
    Line("}");
  }
  --indent_;
  Line("}");
  blocked_pass("qq", "gg");
  --indent_;
  Line("}");
  blocked_pass("gg", "pp");
  --indent_;
  Line("}");
  --indent_;
  Line("}");
  LeaveScope(scope_mark);
}

void CppKernelEmitter::EmitColumnCombine(const LoopNest& nest, const ColumnSchedule& schedule,
                                      int level) {
  const int p = nest.num_parallel;
  const int q = nest.num_reduced;
  const std::vector<int> outer(nest.vars.begin(), nest.vars.begin() + p);
  const std::vector<int> cols(nest.vars.begin() + p + q, nest.vars.end());
  std::vector<int> kept = outer;
  kept.insert(kept.end(), cols.begin(), cols.end());
  const bool last = level + 1 == schedule.num_levels;
  const size_t scope_mark = scope_emitted_.size();
  const int n = static_cast<int>(kept.size());
  Line(absl::StrCat("#pragma omp parallel for", n > 1 ? absl::StrCat(" collapse(", n, ")") : "",
                    " schedule(static) num_threads(nt) if (par)"));
  std::vector<bool> bound(ir_.vars.size(), false);
  for (int v : kept) {
    OpenLoop(v);
    bound[v] = true;
  }
  Line(absl::StrCat("const int64_t o = ", LinearIndex(outer), ";"));
  Line(absl::StrCat("const int64_t c = ", LinearIndex(cols), ";"));
  for (size_t k = 0; k < nest.reductions.size(); ++k) {
    const int e = nest.reductions[k];
    const Expr& x = ir_.exprs[e];
    const char* type = CType(x.dtype);
    if (schedule.level[k] < level && last) {
      Line(absl::StrCat("const ", type, " v", e, " = fin", e, "[o * kw + c];"));
    } else if (schedule.level[k] == level) {
      const ColumnText t = ColumnTextOf(ir_, e);
      const std::string acc = absl::StrCat("cmb", e);
      Line(absl::StrCat(t.acc_type, " ", acc, " = part", e, "[o * nch * kw + c];"));
      Line(absl::StrCat(
          "for (int64_t ch = 1; ch < nch; ++ch) ", acc, " = ",
          ColumnStep(ir_, e, acc, absl::StrCat("part", e, "[(o * nch + ch) * kw + c]")), ";"));
      Line(absl::StrCat("const ", type, " v", e, " = ", ReduceResult(x, acc), ";"));
      if (schedule.num_sweeps > 1) Line(absl::StrCat("fin", e, "[o * kw + c] = v", e, ";"));
    } else {
      continue;
    }
    emitted_[e] = true;
    scope_emitted_.push_back(e);
    EmitReciprocal(e);
  }
  if (last) {
    std::vector<int> roots;
    for (size_t k = 0; k < nest.stores.size(); ++k) {
      if (schedule.store_phase[k] != -1) continue;
      roots.push_back(nest.stores[k].offset);
      roots.push_back(nest.stores[k].value);
    }
    EmitScope(bound, roots);
    for (size_t k = 0; k < nest.stores.size(); ++k) {
      if (schedule.store_phase[k] == -1) EmitStore(nest.stores[k]);
    }
  }
  for (int k = 0; k < n; ++k) {
    --indent_;
    Line("}");
  }
  LeaveScope(scope_mark);
}

}  // namespace kiln::codegen::internal
