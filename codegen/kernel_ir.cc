#include "codegen/kernel_ir.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "codegen/value_lowerer.h"
#include "util/status_macros.h"

namespace kiln::codegen {
namespace {

// Builds one kernel's loop nests (or BLAS call) and the stores in them.
class KernelBuilder : public ValueLowerer {
 public:
  // `allow_columns`: a row kernel that keeps its input's last dimension may become a
  // kColumnReduce nest.
  KernelBuilder(const Graph& graph, const Kernel& kernel, int index, bool allow_columns)
      : ValueLowerer(graph, kernel, index), allow_columns_(allow_columns) {}

  absl::StatusOr<KernelIR> Run();
  // After Run: the kernel has a shape kColumnReduce does not cover; lower it again with
  // allow_columns false.
  bool needs_plain_loops() const { return needs_plain_loops_; }

 private:
  // Whether the row kernel reducing the dimensions `reduced` of `row` can be a
  // kColumnReduce nest; then `group` gets, per dimension, 0 (kept outer), 1 (reduced) or
  // 2 (kept inner).
  bool ColumnGroups(const Node* row, const std::vector<bool>& reduced,
                    std::vector<int>* group) const;
  // Fills nest.reductions from the nest's stores; false when a reduction there does not
  // iterate exactly the nest's reduced variables.
  bool CollectColumnReductions(LoopNest& nest) const;

  absl::Status BuildLoops();
  absl::Status BuildMatmul();
  absl::Status BuildScatter();
  // A nest over `n`'s own shape storing it into `buffer`.
  absl::Status AddElementwiseNest(const Node* n, int buffer);
  absl::Status AddStore(LoopNest& nest, const Node* n, const Idx& idx, int buffer);

  const bool allow_columns_;
  bool needs_plain_loops_ = false;
};

bool KernelBuilder::ColumnGroups(const Node* row, const std::vector<bool>& reduced,
                                 std::vector<int>* group) const {
  if (!allow_columns_) return false;
  const auto& order = graph().post_order();
  for (int p : kernel().nodes) {
    const OpKind op = order[p]->op();
    // Argmax keeps the per-row loop (its position and tie order).
    if (op == OpKind::kArgmax) return false;
  }
  const Shape& r = row->shape();
  // Size-1 dimensions add no stride: they never decide which dimension is innermost.
  int64_t last_reduced = -1;
  for (int64_t d = 0; d < r.rank(); ++d) {
    if (reduced[d] && r.size(d) != 1) last_reduced = d;
  }
  group->assign(r.rank(), 0);
  bool columns = false;
  for (int64_t d = 0; d < r.rank(); ++d) {
    if (reduced[d]) {
      (*group)[d] = 1;
    } else if (d > last_reduced && r.size(d) != 1) {
      (*group)[d] = 2;
      columns = true;
    }
  }
  return columns;
}

bool KernelBuilder::CollectColumnReductions(LoopNest& nest) const {
  const std::vector<int> reduced_vars(nest.vars.begin() + nest.num_parallel,
                                      nest.vars.begin() + nest.num_parallel + nest.num_reduced);
  std::vector<int> roots;
  for (const Store& st : nest.stores) {
    roots.push_back(st.offset);
    roots.push_back(st.value);
  }
  std::vector<bool> seen(exprs().size(), false);
  while (!roots.empty()) {
    const int e = roots.back();
    roots.pop_back();
    if (e < 0 || seen[e]) continue;
    seen[e] = true;
    const Expr& x = exprs()[e];
    if (x.kind == ExprKind::kReduce) {
      if (x.vars != reduced_vars) return false;
      nest.reductions.push_back(e);
    }
    for (int a : x.args) roots.push_back(a);
  }
  std::sort(nest.reductions.begin(), nest.reductions.end());
  return !nest.reductions.empty();
}

absl::Status KernelBuilder::AddStore(LoopNest& nest, const Node* n, const Idx& idx, int buffer) {
  ASSIGN_OR_RETURN(int value, Lower(n, idx, True()));
  nest.stores.push_back({buffer, Linearize(idx, n), value, false});
  return absl::OkStatus();
}

absl::Status KernelBuilder::AddElementwiseNest(const Node* n, int buffer) {
  if (n->shape().numel() == 0) return absl::OkStatus();
  const Shape& s = n->shape();
  LoopNest nest;
  Idx idx;
  for (int64_t d = 0; d < s.rank(); ++d) {
    nest.vars.push_back(NewVar(n, d));
    idx.push_back(VarExpr(nest.vars.back()));
  }
  nest.num_parallel = s.rank() >= 2 ? static_cast<int>(s.rank()) - 1 : static_cast<int>(s.rank());
  RETURN_IF_ERROR(AddStore(nest, n, idx, buffer));
  ir().nests.push_back(std::move(nest));
  return absl::OkStatus();
}

absl::Status KernelBuilder::BuildLoops() {
  const auto& order = graph().post_order();
  const Node* reduction = nullptr;
  if (kernel().kind == KernelKind::kRow) {
    for (int p : kernel().nodes) {
      if (IsReduction(order[p]->op())) {
        reduction = order[p];
        break;
      }
    }
  }
  if (reduction == nullptr || reduction->operand(0).shape().numel() == 0) {
    // One nest over the stores' common shape; a store of another shape gets its own.
    std::vector<const Node*> rest;
    const Node* first = kernel().stores.empty() ? nullptr : order[kernel().stores[0]];
    LoopNest nest;
    Idx idx;
    if (first != nullptr && first->shape().numel() > 0) {
      const Shape& s = first->shape();
      for (int64_t d = 0; d < s.rank(); ++d) {
        nest.vars.push_back(NewVar(first, d));
        idx.push_back(VarExpr(nest.vars.back()));
      }
      nest.num_parallel =
          s.rank() >= 2 ? static_cast<int>(s.rank()) - 1 : static_cast<int>(s.rank());
    }
    for (int p : kernel().stores) {
      const Node* n = order[p];
      if (first != nullptr && SameSizes(n, first) && first->shape().numel() > 0) {
        RETURN_IF_ERROR(AddStore(nest, n, idx, OutputBuffer(n)));
      } else {
        rest.push_back(n);
      }
    }
    if (!nest.stores.empty()) ir().nests.push_back(std::move(nest));
    for (const Node* n : rest) RETURN_IF_ERROR(AddElementwiseNest(n, OutputBuffer(n)));
    return absl::OkStatus();
  }
  // Rows: the reduction input's kept dimensions, parallel; then its reduced ones.
  const Node* row = reduction->operand(0).node.get();
  const Shape& r = row->shape();
  std::vector<bool> reduced(r.rank(), false);
  if (reduction->op() == OpKind::kArgmax) {
    reduced[reduction->attrs().GetInt("dim")] = true;
  } else {
    for (int64_t d : reduction->attrs().GetInts("dims")) reduced[d] = true;
  }
  std::vector<int> group;
  const bool columns = ColumnGroups(row, reduced, &group);
  if (!columns) {
    group.clear();
    for (int64_t d = 0; d < r.rank(); ++d) group.push_back(reduced[d] ? 1 : 0);
  }
  std::vector<int> var_of(r.rank());
  LoopNest nest;
  for (int pass = 0; pass < 3; ++pass) {
    for (int64_t d = 0; d < r.rank(); ++d) {
      if (group[d] != pass) continue;
      var_of[d] = NewVar(row, d);
      nest.vars.push_back(var_of[d]);
      if (pass == 0) ++nest.num_parallel;
      if (pass == 1) ++nest.num_reduced;
    }
  }
  if (columns) {
    nest.kind = NestKind::kColumnReduce;
    // The reductions iterate the nest's own row variables, so an element both stored
    // and reduced is one expression.
    ShareReducedVars(row, reduced, var_of);
  } else {
    nest.num_reduced = 0;
  }
  // A store over the row's elements, or one value per row with or without the reduced
  // dimensions, compared by size symbols.
  using Dims = std::vector<SizeSymbols::Product>;
  Dims full_form = syms().Dims(row), keep_form, drop_form;
  Idx full, keep_idx, drop_idx;
  for (int64_t d = 0; d < r.rank(); ++d) {
    full.push_back(VarExpr(var_of[d]));
    keep_form.push_back(reduced[d] ? SizeSymbols::Product() : full_form[d]);
    keep_idx.push_back(reduced[d] ? IConst(0) : VarExpr(var_of[d]));
    if (!reduced[d]) {
      drop_form.push_back(full_form[d]);
      drop_idx.push_back(VarExpr(var_of[d]));
    }
  }
  std::vector<const Node*> rest;
  for (int p : kernel().stores) {
    const Node* n = order[p];
    const Dims s = syms().Dims(n);
    if (s == full_form) {
      RETURN_IF_ERROR(AddStore(nest, n, full, OutputBuffer(n)));
    } else if (s == keep_form) {
      RETURN_IF_ERROR(AddStore(nest, n, keep_idx, OutputBuffer(n)));
    } else if (s == drop_form) {
      RETURN_IF_ERROR(AddStore(nest, n, drop_idx, OutputBuffer(n)));
    } else {
      rest.push_back(n);
    }
  }
  ShareReducedVars(nullptr, {}, {});
  if (columns && !CollectColumnReductions(nest)) {
    needs_plain_loops_ = true;
    return absl::OkStatus();
  }
  if (!nest.stores.empty()) ir().nests.push_back(std::move(nest));
  for (const Node* n : rest) RETURN_IF_ERROR(AddElementwiseNest(n, OutputBuffer(n)));
  return absl::OkStatus();
}

absl::Status KernelBuilder::BuildMatmul() {
  const auto& order = graph().post_order();
  const Node* mm = nullptr;
  for (int p : kernel().nodes) {
    if (order[p]->op() == OpKind::kMatmul) mm = order[p];
  }
  if (mm == nullptr || !IsFloating(mm->shape().dtype())) return BuildLoops();
  MatmulCall call;
  call.dtype = mm->shape().dtype();
  for (int k = 0; k < 2; ++k) {
    const Node* v = mm->operand(k).node.get();
    int buffer = -1;
    bool transpose = false;
    Sizes shape = v->shape().sizes();
    if (v->shape().numel() > 0) {
      // The planner's operand views (fusion_plan.h, rule 2): transpose*(reshape*(buffer)).
      // A reshape of a loaded buffer is the same memory read with other sizes, and a
      // transpose of the last two dimensions is BLAS's flag (two cancel out): no copy
      // for either.
      const Node* src = v;
      while (Member(src) && IsLastTwoTranspose(*src)) {
        transpose = !transpose;
        src = src->operand(0).node.get();
      }
      const Sizes viewed = src->shape().sizes();
      while (Member(src) && src->op() == OpKind::kReshape) src = src->operand(0).node.get();
      if (!Member(src)) {
        buffer = InputBuffer(src);
        shape = viewed;
      } else {
        transpose = false;
      }
    }
    if (buffer < 0) {
      // Materialise the operand into scratch memory with a generated loop.
      buffer = static_cast<int>(ir().buffers.size());
      ir().buffers.push_back({v->shape().dtype(), BufferRole::kScratch, -1, v->shape().sizes()});
      RETURN_IF_ERROR(AddElementwiseNest(v, buffer));
    }
    (k == 0 ? call.a : call.b) = buffer;
    (k == 0 ? call.transpose_a : call.transpose_b) = transpose;
    (k == 0 ? call.a_shape : call.b_shape) = shape;
  }
  call.out = OutputBuffer(mm);
  call.out_shape = mm->shape().sizes();
  ir().matmuls.push_back(call);
  ir().num_pre_nests = static_cast<int>(ir().nests.size());
  // Other stores run after the BLAS call and read the product back.
  Materialize(mm);
  for (int p : kernel().stores) {
    if (order[p] != mm) RETURN_IF_ERROR(AddElementwiseNest(order[p], OutputBuffer(order[p])));
  }
  return absl::OkStatus();
}

absl::Status KernelBuilder::BuildScatter() {
  const auto& order = graph().post_order();
  const Node* sa = nullptr;
  for (int p : kernel().nodes) {
    if (order[p]->op() == OpKind::kScatterAdd) sa = order[p];
  }
  if (sa == nullptr) return BuildLoops();
  const int out = OutputBuffer(sa);
  // out = self, then out[p with `dim` replaced by index[p]] += src[p] in row-major order
  // of p. With dim != 0, positions with different p[0] never collide, so the rows run in
  // parallel and each element still accumulates in order.
  RETURN_IF_ERROR(AddElementwiseNest(sa->operand(0).node.get(), out));
  const Node* index = sa->operand(1).node.get();
  const Node* src = sa->operand(2).node.get();
  const Shape& is = index->shape();
  const int64_t dim = sa->attrs().GetInt("dim");
  if (is.numel() > 0 && sa->shape().numel() > 0) {
    LoopNest nest;
    Idx idx;
    for (int64_t d = 0; d < is.rank(); ++d) {
      nest.vars.push_back(NewVar(index, d));
      idx.push_back(VarExpr(nest.vars.back()));
    }
    nest.num_parallel = dim != 0 ? 1 : 0;
    ASSIGN_OR_RETURN(int raw, Lower(index, idx, True()));
    codegen::Check check = NewCheck(Check::kIndexRange, OpKind::kScatterAdd, Pos(sa));
    check.dim = dim;
    check.size = sa->shape().size(dim);
    check.shape = is.sizes();
    const int i = Check(std::move(check), Cast(raw, DType::kI64), True(), Linearize(idx, index),
                        Size(sa, dim));
    Idx target = idx;
    target[dim] = i;
    ASSIGN_OR_RETURN(int value, Lower(src, idx, True()));
    nest.stores.push_back({out, Linearize(target, sa), value, true});
    ir().nests.push_back(std::move(nest));
  }
  Materialize(sa);
  for (int p : kernel().stores) {
    if (order[p] != sa) RETURN_IF_ERROR(AddElementwiseNest(order[p], OutputBuffer(order[p])));
  }
  return absl::OkStatus();
}

absl::StatusOr<KernelIR> KernelBuilder::Run() {
  switch (kernel().kind) {
    case KernelKind::kElementwise:
    case KernelKind::kRow:
      RETURN_IF_ERROR(BuildLoops());
      if (needs_plain_loops_) return absl::StatusOr<KernelIR>(KernelIR());
      break;
    case KernelKind::kMatmul:
      RETURN_IF_ERROR(BuildMatmul());
      break;
    case KernelKind::kScatterAdd:
      RETURN_IF_ERROR(BuildScatter());
      break;
  }
  if (ir().matmuls.empty()) ir().num_pre_nests = static_cast<int>(ir().nests.size());
  // Every store of the plan has a buffer, even when it is empty and no loop writes it.
  const auto& order = graph().post_order();
  for (int p : kernel().stores) OutputBuffer(order[p]);
  ir().exprs = TakeExprs();
  return std::move(ir());
}

}  // namespace

absl::StatusOr<KernelIR> LowerKernel(const Graph& graph, const FusionPlan& plan, int index) {
  if (index < 0 || index >= static_cast<int>(plan.kernels.size())) {
    return absl::InvalidArgumentError(absl::StrCat("no kernel ", index));
  }
  KernelBuilder builder(graph, plan.kernels[index], index, /*allow_columns=*/true);
  absl::StatusOr<KernelIR> ir = builder.Run();
  if (!builder.needs_plain_loops()) return ir;
  KernelBuilder plain(graph, plan.kernels[index], index, /*allow_columns=*/false);
  return plain.Run();
}

ColumnSchedule ScheduleColumns(const KernelIR& ir, const LoopNest& nest) {
  ColumnSchedule schedule;
  std::vector<int> level_of(ir.exprs.size(), -1);
  std::vector<bool> reduced_var(ir.vars.size(), false);
  for (int k = 0; k < nest.num_reduced; ++k) reduced_var[nest.vars[nest.num_parallel + k]] = true;
  // The highest level of the nest's reductions that `roots` use (-1: none), not looking
  // inside them; `uses_reduced`: whether a reduced variable is used outside them.
  auto walk = [&](std::vector<int> roots, bool* uses_reduced) {
    int top = -1;
    std::vector<bool> seen(ir.exprs.size(), false);
    while (!roots.empty()) {
      const int e = roots.back();
      roots.pop_back();
      if (e < 0 || seen[e]) continue;
      seen[e] = true;
      if (level_of[e] >= 0) {
        top = std::max(top, level_of[e]);
        continue;
      }
      const Expr& x = ir.exprs[e];
      if (x.kind == ExprKind::kVar && reduced_var[x.arg]) *uses_reduced = true;
      for (int a : x.args) roots.push_back(a);
    }
    return top;
  };
  bool unused = false;
  for (int e : nest.reductions) {
    level_of[e] = walk(ir.exprs[e].args, &unused) + 1;
    schedule.level.push_back(level_of[e]);
    schedule.num_levels = std::max(schedule.num_levels, level_of[e] + 1);
  }
  schedule.num_sweeps = schedule.num_levels;
  for (const Store& st : nest.stores) {
    bool element = false;
    const int top = walk({st.offset, st.value}, &element);
    schedule.store_phase.push_back(element ? top + 1 : -1);
    if (element) schedule.num_sweeps = std::max(schedule.num_sweeps, top + 2);
  }
  return schedule;
}

std::vector<bool> ReachableExprs(const KernelIR& ir, std::vector<int> roots) {
  std::vector<bool> seen(ir.exprs.size(), false);
  while (!roots.empty()) {
    const int e = roots.back();
    roots.pop_back();
    if (e < 0 || seen[e]) continue;
    seen[e] = true;
    for (int a : ir.exprs[e].args) roots.push_back(a);
  }
  return seen;
}

MatmulDims GetMatmulDims(const MatmulCall& call) {
  const Sizes& as = call.a_shape;
  const Sizes& bs = call.b_shape;
  const Sizes& os = call.out_shape;
  MatmulDims d;
  d.m = os[os.size() - 2];
  d.n = os.back();
  d.k = call.transpose_a ? as[as.size() - 2] : as.back();
  d.lda = as.back();
  d.ldb = bs.back();
  d.out_batch = absl::Span<const int64_t>(os.data(), os.size() - 2);
  d.a_batch = absl::Span<const int64_t>(as.data(), as.size() - 2);
  d.b_batch = absl::Span<const int64_t>(bs.data(), bs.size() - 2);
  for (int64_t s : d.out_batch) d.batches *= s;
  return d;
}

int64_t MatmulBatchOffset(int64_t flat, absl::Span<const int64_t> out_batch,
                          absl::Span<const int64_t> batch, int64_t matrix) {
  int64_t offset = 0;
  int64_t stride = matrix;
  const size_t lead = out_batch.size() - batch.size();
  for (size_t d = out_batch.size(); d-- > 0;) {
    const int64_t i = flat % out_batch[d];
    flat /= out_batch[d];
    if (d < lead) continue;
    const int64_t size = batch[d - lead];
    if (size != 1) offset += i * stride;
    stride *= size;
  }
  return offset;
}

}  // namespace kiln::codegen
