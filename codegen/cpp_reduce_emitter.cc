#include <algorithm>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "codegen/cpp_kernel_emitter.h"

namespace kiln::codegen::cpp_internal {

bool KernelEmitter::Reaches(int root, const std::vector<bool>& inner_vars, bool* has_check) const {
  // Whether the part of `root` that depends on `inner_vars` contains a check or a nested
  // reduction, which keep the loop from being an OpenMP simd loop.
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

void KernelEmitter::EmitReduce(int e, const std::vector<bool>& bound) {
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
  const char* at = CType(sum ? x.acc_dtype : body_dt);
  bool has_check = false;
  Reaches(x.args[0], own, &has_check);
  const bool max_or_min = x.op == OpKind::kMax || x.op == OpKind::kMin;
  // Max/min as an OpenMP simd reduction: each lane keeps a plain compare-and-select
  // maximum (which NaN never wins) and a flag records whether any element was NaN, so the
  // result is still NaN whenever one was, as in the sequential step.
  const bool simd_max_or_min = max_or_min && !has_check && body_dt != DType::kBool;
  const std::string nan_flag = absl::StrCat("nan", e);
  if (sum) {
    Line(absl::StrCat(at, " ", acc, " = 0;"));
  } else if (x.op == OpKind::kArgmax) {
    Line(absl::StrCat(CType(body_dt), " ", acc, " = kn::Lowest<", CType(body_dt), ">();"));
    Line(absl::StrCat("int64_t ", acc, "_at = 0;"));
  } else {
    Line(absl::StrCat(CType(body_dt), " ", acc, " = kn::",
                      x.op == OpKind::kMax ? "Lowest" : "Highest", "<", CType(body_dt), ">();"));
    if (simd_max_or_min && flt) Line(absl::StrCat("int ", nan_flag, " = 0;"));
  }
  const size_t scope_mark = scope_emitted_.size();
  const int innermost = x.vars.back();
  const bool blocked = sum && flt;
  const int opened = static_cast<int>(x.vars.size()) - (blocked ? 1 : 0);
  for (int k = 0; k < opened; ++k) {
    const int v = x.vars[k];
    if (simd_max_or_min && k == opened - 1) {
      Line(absl::StrCat("#pragma omp simd reduction(", x.op == OpKind::kMax ? "max" : "min",
                        " : ", acc, ")", flt ? absl::StrCat(" reduction(| : ", nan_flag, ")") : ""));
    }
    Line(absl::StrCat("for (int64_t i", v, " = 0; i", v, " < ", VarSize(v), "; ++i", v, ") {"));
    ++indent_;
  }
  std::vector<int> roots(x.args.begin(), x.args.end());
  if (blocked) {
    // Blocked f32/f64 sum: lanes within a block, blocks added in order.
    const std::string i = absl::StrCat("i", innermost);
    const std::string part = absl::StrCat("part", e);
    const LoopVar& lv = ir_.vars[innermost];
    const bool one_block =
        ir_.exprs[lv.size_expr].kind == ExprKind::kConstant && lv.size <= kSumBlock;
    std::string lo = "0", hi = VarSize(innermost);
    if (!one_block) {
      Line(absl::StrCat("for (int64_t ", i, "_lo = 0; ", i, "_lo < ", hi, "; ", i,
                        "_lo += ", kSumBlock, ") {"));
      ++indent_;
      Line(absl::StrCat("const int64_t ", i, "_hi = ", i, "_lo + ", kSumBlock, " < ", hi, " ? ", i,
                        "_lo + ", kSumBlock, " : ", hi, ";"));
      lo = absl::StrCat(i, "_lo");
      hi = absl::StrCat(i, "_hi");
    }
    Line(absl::StrCat(at, " ", part, " = 0;"));
    if (!has_check) Line(absl::StrCat("#pragma omp simd reduction(+ : ", part, ")"));
    Line(absl::StrCat("for (int64_t ", i, " = ", lo, "; ", i, " < ", hi, "; ++", i, ") {"));
    ++indent_;
    EmitScope(inner, {x.args[0]});
    Line(absl::StrCat(part, " += ", Ref(x.args[0]), ";"));
    --indent_;
    Line("}");
    Line(absl::StrCat(acc, " += ", part, ";"));
    if (!one_block) {
      --indent_;
      Line("}");
    }
  } else {
    EmitScope(inner, roots);
    const std::string v = Ref(x.args[0]);
    if (sum) {
      Line(absl::StrCat(acc, " = kn::WrapAdd(", acc, ", ", at, "(", v, "));"));
    } else if (x.op == OpKind::kArgmax) {
      Line(absl::StrCat("if (!(", acc, " != ", acc, ") && (", v, " != ", v, " || ", v, " > ", acc,
                        ")) {"));
      Line(absl::StrCat("  ", acc, " = ", v, ";"));
      Line(absl::StrCat("  ", acc, "_at = ", Ref(x.args[1]), ";"));
      Line("}");
    } else if (simd_max_or_min) {
      Line(absl::StrCat(acc, " = kn::Simd", x.op == OpKind::kMax ? "Max" : "Min", "Step(", acc,
                        ", ", v, ");"));
      if (flt) Line(absl::StrCat(nan_flag, " |= ", v, " != ", v, ";"));
    } else {
      Line(absl::StrCat(acc, " = kn::Reduce", x.op == OpKind::kMax ? "Max" : "Min", "Step(", acc,
                        ", ", v, ");"));
    }
  }
  for (int k = 0; k < opened; ++k) {
    --indent_;
    Line("}");
  }
  // Expressions of the loop body are out of scope now.
  for (size_t k = scope_mark; k < scope_emitted_.size(); ++k) emitted_[scope_emitted_[k]] = false;
  scope_emitted_.resize(scope_mark);
  emitted_[e] = true;
  scope_emitted_.push_back(e);
  std::string result;
  switch (x.op) {
    case OpKind::kMean:
      result = absl::StrCat(CType(dt), "(double(", acc, ") / double(", Ref(x.args[1]), "))");
      break;
    case OpKind::kArgmax:
      result = absl::StrCat(acc, "_at");
      break;
    default:
      if (sum) {
        result = absl::StrCat("kn::CastTo<", CType(dt), ">(", acc, ")");
      } else if (simd_max_or_min && flt) {
        result = absl::StrCat("kn::FinishNanReduction(", acc, ", ", nan_flag, " != 0)");
      } else {
        result = acc;
      }
  }
  Line(absl::StrCat("const ", CType(dt), " v", e, " = ", result, ";"));
  EmitReciprocal(e);
}

}  // namespace kiln::codegen::cpp_internal
