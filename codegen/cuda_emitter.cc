#include "codegen/cuda_emitter.h"

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "codegen/kernel_printer.h"

namespace kiln::codegen {
namespace internal {
namespace {

// Elements per partial sum of a floating sum a thread walks alone (as in the C++ emitter).
constexpr int64_t kCudaSumBlock = 1024;

// Prints one kernel's nests as __global__ functions. One per kernel.
class CudaKernelEmitter : public KernelPrinter {
 public:
  explicit CudaKernelEmitter(const KernelIR& ir) : KernelPrinter(ir, Dialect::kCuda) {}

  CudaKernelSource Emit();

 private:
  void EmitReduce(int e, const std::vector<bool>& bound) override;
  // The reduction's loops in this thread alone, or (block_scope_) shared by the block.
  void EmitThreadReduce(int e, const std::vector<bool>& bound);
  void EmitBlockReduce(int e, const std::vector<bool>& bound);
  CudaLaunch PlanNest(const LoopNest& nest, int index) const;
  void EmitNest(const LoopNest& nest, const CudaLaunch& launch);
  // A row launch's loops: the whole rows (`stage` -1), or stage `stage` of the split form.
  void EmitRows(const LoopNest& nest, const CudaLaunch& launch, int stage);
  // The same for a column nest's thread per column (split: per column and part of rows).
  void EmitColumns(const LoopNest& nest, const CudaLaunch& launch, int stage);
  // The functions of a launch: its own, then its split form's stages.
  void EmitFunctions(const LoopNest& nest, const CudaLaunch& launch);
  void OpenFunction(const std::string& function, bool split);
  void CloseFunction(const std::string& function, bool split);
  bool UsesAny(const Store& s, const std::vector<int>& vars) const;
  // Each store `pick` selects, right after its value, so that a kernel with many outputs
  // keeps few values live at once (registers; a spill is a failure of the NVRTC check).
  // `one_thread` ("" or a condition) and StoreGuard(guard_vars) pick who stores.
  template <typename Pick>
  void EmitStores(const LoopNest& nest, std::vector<bool>& bound, Pick pick,
                  const std::vector<int>& guard_vars, const std::string& one_thread);
  // A guard that holds for one thread among those that differ only in the variables of
  // `vars` the store does not use ("" when it uses them all).
  std::string StoreGuard(const Store& s, const std::vector<int>& vars) const;
  std::vector<std::string> ParamDecls(bool split) const;
  void EmitEmulationLauncher(const std::string& function, bool split);

  // The contiguous accesses of a flat nest (see ContiguousAccess), printed as lanes of
  // vec<buffer> while a vector loop's lanes are emitted.
  struct VectorAccess {
    std::vector<std::pair<int, int>> refs;  // (buffer, offset expression), sorted
    std::vector<int> loaded, stored;        // buffers, increasing
  };
  VectorAccess ContiguousAccess(const LoopNest& nest, const std::vector<int>& vars) const;
  void EmitVectorLoop(const LoopNest& nest, const std::vector<int>& vars,
                      const VectorAccess& access, std::vector<bool>& bound);
  std::string ElementRef(int buffer, int offset) const override;

  bool block_scope_ = false;  // reductions emitted now are shared by a block's threads
  std::vector<std::pair<int, int>> vector_refs_;  // ContiguousAccess::refs, in lanes
  int stage_ = -1;          // the split form's stage being emitted (-1: not split)
  std::vector<int> level_;  // per expression: its level if a shared reduction, else -1
  std::vector<int> slot_;   // per expression: its slot in the partials record
  int num_slots_ = 0;
};

// The level of each reduction in `shared` (by expression id; -1 for the others): how
// many of the shared reductions, one after another, its body waits for.
std::vector<int> SharedLevels(const KernelIR& ir, const std::vector<int>& shared) {
  std::vector<bool> is_shared(ir.exprs.size(), false);
  for (int e : shared) is_shared[e] = true;
  std::vector<int> level(ir.exprs.size(), -1), waits(ir.exprs.size(), 0);
  for (size_t e = 0; e < ir.exprs.size(); ++e) {
    for (int a : ir.exprs[e].args)
      waits[e] = std::max(waits[e], is_shared[a] ? level[a] + 1 : waits[a]);
    if (is_shared[e]) level[e] = waits[e];
  }
  return level;
}

// Whether expressions `a` and `b` compute the same value by the same operations.
bool SameExpr(const KernelIR& ir, int a, int b) {
  if (a == b) return true;
  const Expr& x = ir.exprs[a];
  const Expr& y = ir.exprs[b];
  if (x.kind != y.kind || x.dtype != y.dtype || x.op != y.op || x.arg != y.arg ||
      x.number != y.number || x.inumber != y.inumber || x.args.size() != y.args.size() ||
      x.kind == ExprKind::kLoad || x.kind == ExprKind::kReduce || x.kind == ExprKind::kCheck) {
    return false;
  }
  for (size_t k = 0; k < x.args.size(); ++k) {
    if (!SameExpr(ir, x.args[k], y.args[k])) return false;
  }
  return true;
}

// Whether `e` is the row-major linear index of the first `count` of `vars`, in the form
// the lowering builds offsets in: ((i0 * n1) + i1) * n2 + i2.
bool IsLinearIndex(const KernelIR& ir, int e, const std::vector<int>& vars, size_t count) {
  const Expr& x = ir.exprs[e];
  if (count == 1) return x.kind == ExprKind::kVar && x.arg == vars[0];
  if (count == 0 || x.kind != ExprKind::kIdxAdd) return false;
  const Expr& last = ir.exprs[x.args[1]];
  const Expr& scaled = ir.exprs[x.args[0]];
  return last.kind == ExprKind::kVar && last.arg == vars[count - 1] &&
         scaled.kind == ExprKind::kIdxMul &&
         SameExpr(ir, scaled.args[1], ir.vars[vars[count - 1]].size_expr) &&
         IsLinearIndex(ir, scaled.args[0], vars, count - 1);
}

bool AllStores(const Store&) { return true; }

}  // namespace

std::vector<std::string> CudaKernelEmitter::ParamDecls(bool split) const {
  std::vector<std::string> params;
  for (size_t b = 0; b < ir_.buffers.size(); ++b) {
    const BufferArg& arg = ir_.buffers[b];
    const bool in = arg.role == BufferRole::kInput;
    params.push_back(absl::StrCat(in ? "const " : "", StorageType(arg.dtype),
                                  arg.may_alias ? "* b" : "* __restrict__ b", b));
  }
  for (size_t k = 0; k < ir_.size_values.size(); ++k) {
    params.push_back(absl::StrCat("const int64_t n", k));
  }
  for (size_t a = 0; a < ir_.scalar_dtypes.size(); ++a) {
    params.push_back(absl::StrCat("const double s", a));
  }
  params.push_back("KilnError* err");
  if (split)
    params.insert(params.end(), {"unsigned char* __restrict__ partials", "const int64_t split"});
  return params;
}

CudaLaunch CudaKernelEmitter::PlanNest(const LoopNest& nest, int index) const {
  CudaLaunch launch;
  launch.function = absl::StrCat(ir_.name, "_n", index);
  launch.after_matmuls = !ir_.matmuls.empty() && index >= ir_.num_pre_nests;
  const int n = static_cast<int>(nest.vars.size());
  auto add_stages = [&] {
    const std::vector<int> level = SharedLevels(ir_, launch.shared_reductions);
    int stages = 0;
    for (int e : launch.shared_reductions) stages = std::max(stages, level[e] + 2);
    for (int k = 0; k < stages; ++k) {
      launch.split_stages.push_back(absl::StrCat(launch.function, "_s", k));
    }
  };
  if (nest.kind == NestKind::kColumnReduce) {
    // A thread per kept element; the reduced rows are walked inside (EmitColumns).
    const int p = nest.num_parallel;
    launch.thread_vars.assign(nest.vars.begin(), nest.vars.begin() + p);
    launch.thread_vars.insert(launch.thread_vars.end(),
                              nest.vars.begin() + p + nest.num_reduced, nest.vars.end());
    // Split forms keep argmax's (value, position) pairs only across a block (EmitRows).
    launch.shared_reductions = nest.reductions;
    if (std::none_of(nest.reductions.begin(), nest.reductions.end(),
                     [&](int e) { return ir_.exprs[e].op == OpKind::kArgmax; })) {
      add_stages();
    }
    return launch;
  }
  // The rows: the leading variables every reduction the stores read depends on. When
  // variables are left over for the elements, a block takes each row.
  int split = -1;
  std::vector<int> roots;
  for (const Store& s : nest.stores) roots.insert(roots.end(), {s.offset, s.value});
  const std::vector<bool> used = ReachableExprs(ir_, roots);
  for (size_t e = 0; e < ir_.exprs.size(); ++e) {
    if (!used[e] || ir_.exprs[e].kind != ExprKind::kReduce) continue;
    int deepest = -1;
    bool in_nest = true;
    for (int v : deps_[e]) {
      const auto it = std::find(nest.vars.begin(), nest.vars.end(), v);
      in_nest = in_nest && it != nest.vars.end();
      deepest = std::max(deepest, static_cast<int>(it - nest.vars.begin()));
    }
    if (in_nest) split = std::max(split, deepest + 1);
  }
  if (split >= 0 && split < n) {
    launch.kind = CudaLaunch::Kind::kRows;
    launch.block_vars.assign(nest.vars.begin(), nest.vars.begin() + split);
    launch.thread_vars.assign(nest.vars.begin() + split, nest.vars.end());
    // Shared: the reductions computed once per row (every variable they use is a row's).
    std::vector<bool> row_var(ir_.vars.size(), false);
    for (int v : launch.block_vars) row_var[v] = true;
    for (size_t e = 0; e < ir_.exprs.size(); ++e) {
      if (!used[e] || ir_.exprs[e].kind != ExprKind::kReduce) continue;
      if (std::all_of(deps_[e].begin(), deps_[e].end(), [&](int v) { return row_var[v]; })) {
        launch.shared_reductions.push_back(static_cast<int>(e));
      }
    }
    add_stages();
  } else {
    launch.thread_vars = nest.vars;
  }
  return launch;
}

std::string CudaKernelEmitter::StoreGuard(const Store& s, const std::vector<int>& vars) const {
  std::vector<std::string> zero;
  for (int v : vars) {
    const bool uses = std::binary_search(deps_[s.offset].begin(), deps_[s.offset].end(), v) ||
                      std::binary_search(deps_[s.value].begin(), deps_[s.value].end(), v);
    if (!uses) zero.push_back(absl::StrCat("i", v, " == 0"));
  }
  return absl::StrJoin(zero, " && ");
}

bool CudaKernelEmitter::UsesAny(const Store& s, const std::vector<int>& vars) const {
  for (int v : vars) {
    if (std::binary_search(deps_[s.offset].begin(), deps_[s.offset].end(), v) ||
        std::binary_search(deps_[s.value].begin(), deps_[s.value].end(), v)) {
      return true;
    }
  }
  return false;
}

template <typename Pick>
void CudaKernelEmitter::EmitStores(const LoopNest& nest, std::vector<bool>& bound, Pick pick,
                                   const std::vector<int>& guard_vars,
                                   const std::string& one_thread) {
  for (const Store& s : nest.stores) {
    if (!pick(s)) continue;
    EmitScope(bound, {s.offset, s.value});
    std::string guard = StoreGuard(s, guard_vars);
    if (!one_thread.empty()) guard = guard.empty() ? one_thread : one_thread + " && " + guard;
    if (!guard.empty()) Line(absl::StrCat("if (", guard, ")"));
    if (!guard.empty()) ++indent_;
    EmitStore(s);
    if (!guard.empty()) --indent_;
  }
}

void CudaKernelEmitter::OpenFunction(const std::string& function, bool split) {
  std::fill(emitted_.begin(), emitted_.end(), false);
  scope_emitted_.clear();
  const std::vector<std::string> params = ParamDecls(split);
  Line(absl::StrCat("extern \"C\" __global__ void ", function, "("));
  for (size_t k = 0; k < params.size(); ++k) {
    Line(absl::StrCat("    ", params[k], k + 1 < params.size() ? "," : ") {"));
  }
  ++indent_;
  EmitSizes();
  for (size_t a = 0; a < ir_.scalar_dtypes.size(); ++a) {
    const char* t = CType(ir_.scalar_dtypes[a]);
    Line(absl::StrCat("const ", t, " a", a, " = kn::CastTo<", t, ">(s", a, ");"));
  }
}

void CudaKernelEmitter::CloseFunction(const std::string& function, bool split) {
  Line("(void)err;");
  --indent_;
  Line("}");
  EmitEmulationLauncher(function, split);
}

void CudaKernelEmitter::EmitRows(const LoopNest& nest, const CudaLaunch& launch, int stage) {
  const std::vector<int>& bv = launch.block_vars;
  const std::vector<int>& tv = launch.thread_vars;
  const bool split = stage >= 0;
  const bool stores = !split || stage + 1 == static_cast<int>(launch.split_stages.size());
  Line(absl::StrCat("const int64_t rows = ", SizeProduct(bv), ";"));
  Line(absl::StrCat("const int64_t inner = ", SizeProduct(tv), ";"));
  const auto per_row = [&](const Store& s) { return !UsesAny(s, tv); };
  const auto per_element = [&](const Store& s) { return UsesAny(s, tv); };
  const bool element_stores =
      stores && std::any_of(nest.stores.begin(), nest.stores.end(), per_element);
  if (split) {
    Line("for (int64_t unit = blockIdx.x; unit < rows * split; unit += gridDim.x) {");
    Line("  const int64_t row = kc::IdxDiv(unit, split);");
    Line("  const int64_t part = unit - row * split;");
    // Only the row's stores are left: one part does them (the whole block skips).
    if (stores && !element_stores) Line("  if (part != 0) continue;");
  } else {
    Line("for (int64_t row = blockIdx.x; row < rows; row += gridDim.x) {");
  }
  ++indent_;
  Delinearize(bv, "row", "rrem");
  std::vector<bool> bound(ir_.vars.size(), false);
  for (int v : bv) bound[v] = true;
  std::vector<int> roots;
  if (stores) {
    for (const Store& s : nest.stores) roots.insert(roots.end(), {s.offset, s.value});
  } else {
    for (int e : launch.shared_reductions) {
      if (level_[e] == stage) roots.push_back(e);
    }
  }
  stage_ = stage;
  block_scope_ = true;
  EmitScope(bound, roots);
  block_scope_ = false;
  if (stores) {
    EmitStores(nest, bound, per_row, {},
               split ? "part == 0 && threadIdx.x == 0" : "threadIdx.x == 0");
  }
  if (element_stores) {
    Line(split ? "for (int64_t t = part * blockDim.x + threadIdx.x; t < inner; "
                 "t += split * blockDim.x) {"
               : "for (int64_t t = threadIdx.x; t < inner; t += blockDim.x) {");
    ++indent_;
    Delinearize(tv, "t", "trem");
    for (int v : tv) bound[v] = true;
    EmitStores(nest, bound, per_element, tv, "");
    --indent_;
    Line("}");
  }
  stage_ = -1;
  --indent_;
  Line("}");
}

void CudaKernelEmitter::EmitFunctions(const LoopNest& nest, const CudaLaunch& launch) {
  const bool rows = launch.kind == CudaLaunch::Kind::kRows;
  OpenFunction(launch.function, false);
  rows ? EmitRows(nest, launch, -1) : EmitColumns(nest, launch, -1);
  CloseFunction(launch.function, false);
  level_ = SharedLevels(ir_, launch.shared_reductions);
  slot_.assign(ir_.exprs.size(), -1);
  num_slots_ = static_cast<int>(launch.shared_reductions.size());
  for (int k = 0; k < num_slots_; ++k) slot_[launch.shared_reductions[k]] = k;
  for (size_t k = 0; k < launch.split_stages.size(); ++k) {
    OpenFunction(launch.split_stages[k], true);
    const int stage = static_cast<int>(k);
    rows ? EmitRows(nest, launch, stage) : EmitColumns(nest, launch, stage);
    CloseFunction(launch.split_stages[k], true);
  }
}

void CudaKernelEmitter::EmitNest(const LoopNest& nest, const CudaLaunch& launch) {
  if (launch.kind == CudaLaunch::Kind::kRows || nest.kind == NestKind::kColumnReduce) {
    EmitFunctions(nest, launch);
    return;
  }
  OpenFunction(launch.function, false);
  std::vector<bool> bound(ir_.vars.size(), false);
  const std::vector<int>& tv = launch.thread_vars;
  Line(absl::StrCat("const int64_t total = ", SizeProduct(tv), ";"));
  std::string first = "blockIdx.x * int64_t(blockDim.x) + threadIdx.x";
  const VectorAccess access = ContiguousAccess(nest, tv);
  if (!access.refs.empty()) {
    EmitVectorLoop(nest, tv, access, bound);
    first = "4 * quads + " + first;  // the elements after the last whole quad
  }
  Line(absl::StrCat("for (int64_t t = ", first, "; t < total;"));
  Line("     t += int64_t(gridDim.x) * blockDim.x) {");
  ++indent_;
  Delinearize(tv, "t", "trem");
  for (int v : tv) bound[v] = true;
  EmitStores(nest, bound, AllStores, tv, "");
  --indent_;
  Line("}");
  CloseFunction(launch.function, false);
}

void CudaKernelEmitter::EmitColumns(const LoopNest& nest, const CudaLaunch& launch, int stage) {
  const std::vector<int>& tv = launch.thread_vars;
  // The reduced rows, walked by each thread in order (split: its part of them).
  const std::vector<int> seq(nest.vars.begin() + nest.num_parallel,
                             nest.vars.begin() + nest.num_parallel + nest.num_reduced);
  const bool split = stage >= 0;
  const bool stores = !split || stage + 1 == static_cast<int>(launch.split_stages.size());
  const auto inside = [&](const Store& s) { return UsesAny(s, seq); };
  const auto outside = [&](const Store& s) { return !UsesAny(s, seq); };
  const bool element_stores = stores && std::any_of(nest.stores.begin(), nest.stores.end(), inside);
  Line(absl::StrCat("const int64_t total = ", SizeProduct(tv), ";"));
  if (split) {
    Line(absl::StrCat("const int64_t rows = ", SizeProduct(seq), ";"));
    Line("const int64_t part_rows = kc::IdxDiv(rows + split - 1, split);");
    Line("for (int64_t unit = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;");
    Line("     unit < total * split; unit += int64_t(gridDim.x) * blockDim.x) {");
    Line("  const int64_t part = kc::IdxDiv(unit, total);");
    Line("  const int64_t t = unit - part * total;");
    Line("  const int64_t lo = part * part_rows;");
    Line("  const int64_t hi = lo + part_rows < rows ? lo + part_rows : rows;");
    if (stores && !element_stores) Line("  if (part != 0) continue;");
  } else {
    Line("for (int64_t t = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; t < total;");
    Line("     t += int64_t(gridDim.x) * blockDim.x) {");
  }
  ++indent_;
  Delinearize(tv, "t", "trem");
  std::vector<bool> bound(ir_.vars.size(), false);
  for (int v : tv) bound[v] = true;
  stage_ = stage;
  if (!stores) {
    std::vector<int> roots;
    for (int e : launch.shared_reductions) {
      if (level_[e] == stage) roots.push_back(e);
    }
    EmitScope(bound, roots);
  } else {
    EmitStores(nest, bound, outside, tv, split ? "part == 0" : "");
  }
  std::vector<int> inside_roots;
  for (const Store& s : nest.stores) {
    if (element_stores && inside(s)) inside_roots.insert(inside_roots.end(), {s.offset, s.value});
  }
  if (!inside_roots.empty()) {
    EmitScope(bound, inside_roots);  // what the rows share: reductions over them
    if (split) {
      Line("for (int64_t r = lo; r < hi; ++r) {");
      ++indent_;
      Delinearize(seq, "r", "rrem");
    } else {
      for (int v : seq) {
        OpenLoop(v);
      }
    }
    for (int v : seq) bound[v] = true;
    EmitStores(nest, bound, inside, tv, "");
    for (size_t k = 0; k < (split ? 1 : seq.size()); ++k) {
      --indent_;
      Line("}");
    }
  }
  stage_ = -1;
  --indent_;
  Line("}");
}

CudaKernelEmitter::VectorAccess CudaKernelEmitter::ContiguousAccess(
    const LoopNest& nest, const std::vector<int>& vars) const {
  // Unmasked loads at the linear index: every element of [0, total) is read, so whole
  // quads may be. Stores at it, when no store to the buffer is elsewhere or accumulates.
  VectorAccess access;
  std::vector<int> roots;
  for (const Store& s : nest.stores) roots.insert(roots.end(), {s.offset, s.value});
  const std::vector<bool> used = ReachableExprs(ir_, roots);
  for (size_t e = 0; e < ir_.exprs.size(); ++e) {
    const Expr& x = ir_.exprs[e];
    if (!used[e] || x.kind != ExprKind::kLoad || x.args.size() != 1) continue;
    if (!IsLinearIndex(ir_, x.args[0], vars, vars.size())) continue;
    access.refs.emplace_back(x.arg, x.args[0]);
    access.loaded.push_back(x.arg);
  }
  for (size_t b = 0; b < ir_.buffers.size(); ++b) {
    bool any = false, all = true;
    for (const Store& s : nest.stores) {
      if (s.buffer != static_cast<int>(b)) continue;
      any = true;
      all = all && !s.accumulate && IsLinearIndex(ir_, s.offset, vars, vars.size());
    }
    if (!any || !all) continue;
    access.stored.push_back(static_cast<int>(b));
    for (const Store& s : nest.stores) {
      if (s.buffer == static_cast<int>(b)) access.refs.emplace_back(s.buffer, s.offset);
    }
  }
  std::sort(access.refs.begin(), access.refs.end());
  std::sort(access.loaded.begin(), access.loaded.end());
  access.loaded.erase(std::unique(access.loaded.begin(), access.loaded.end()), access.loaded.end());
  return access;
}

void CudaKernelEmitter::EmitVectorLoop(const LoopNest& nest, const std::vector<int>& vars,
                                       const VectorAccess& access, std::vector<bool>& bound) {
  // Four consecutive elements per thread, their contiguous operands moved as one vector
  // each (16 bytes of f32), when every such buffer is aligned to its vector.
  std::vector<int> buffers = access.loaded;
  buffers.insert(buffers.end(), access.stored.begin(), access.stored.end());
  std::sort(buffers.begin(), buffers.end());
  buffers.erase(std::unique(buffers.begin(), buffers.end()), buffers.end());
  std::vector<std::string> pointers;
  for (int b : buffers) pointers.push_back(absl::StrCat("b", b));
  Line(absl::StrCat("const int64_t quads = kc::AlignedForVectors(", absl::StrJoin(pointers, ", "),
                    ") ? total / 4 : 0;"));
  Line("for (int64_t q = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; q < quads;");
  Line("     q += int64_t(gridDim.x) * blockDim.x) {");
  ++indent_;
  for (int b : buffers) {
    const bool load = std::binary_search(access.loaded.begin(), access.loaded.end(), b);
    Line(absl::StrCat("kc::Vec4<", StorageType(ir_.buffers[b].dtype), "> vec", b,
                      load ? absl::StrCat(" = kc::Load4(b", b, " + 4 * q)") : "", ";"));
  }
  Line("#pragma unroll");
  Line("for (int lane = 0; lane < 4; ++lane) {");
  ++indent_;
  const size_t scope_mark = scope_emitted_.size();
  Line("const int64_t t = 4 * q + lane;");
  Delinearize(vars, "t", "trem");
  for (int v : vars) bound[v] = true;
  vector_refs_ = access.refs;
  EmitStores(nest, bound, AllStores, vars, "");
  vector_refs_.clear();
  for (int v : vars) bound[v] = false;
  LeaveScope(scope_mark);
  --indent_;
  Line("}");
  for (int b : access.stored) Line(absl::StrCat("kc::Store4(b", b, " + 4 * q, vec", b, ");"));
  --indent_;
  Line("}");
}

std::string CudaKernelEmitter::ElementRef(int buffer, int offset) const {
  if (std::binary_search(vector_refs_.begin(), vector_refs_.end(),
                         std::make_pair(buffer, offset))) {
    return absl::StrCat("vec", buffer, ".v[lane]");
  }
  return KernelPrinter::ElementRef(buffer, offset);
}

void CudaKernelEmitter::EmitEmulationLauncher(const std::string& function, bool split) {
  std::vector<std::string> args;
  int k = 0;
  for (const BufferArg& b : ir_.buffers) {
    args.push_back(absl::StrCat("static_cast<", b.role == BufferRole::kInput ? "const " : "",
                                StorageType(b.dtype), "*>(*static_cast<void* const*>(args[", k++,
                                "]))"));
  }
  for (size_t s = 0; s < ir_.size_values.size(); ++s) {
    args.push_back(absl::StrCat("*static_cast<const int64_t*>(args[", k++, "])"));
  }
  for (size_t a = 0; a < ir_.scalar_dtypes.size(); ++a) {
    args.push_back(absl::StrCat("*static_cast<const double*>(args[", k++, "])"));
  }
  args.push_back(absl::StrCat("*static_cast<KilnError* const*>(args[", k++, "])"));
  if (split) {
    args.push_back(
        absl::StrCat("static_cast<unsigned char*>(*static_cast<void* const*>(args[", k++, "]))"));
    args.push_back(absl::StrCat("*static_cast<const int64_t*>(args[", k++, "])"));
  }
  Line("#ifdef KILN_CUDA_EMULATION");
  Line(absl::StrCat("extern \"C\" const char* ", function,
                    "_emulate(unsigned grid, unsigned block, void** args, uint64_t seed) {"));
  Line("  kiln_emu::SetScheduleSeed(seed);");
  Line(absl::StrCat("  return kiln_emu::Launch(dim3(grid), dim3(block), [&] { ", function, "("));
  Line(absl::StrCat("      ", absl::StrJoin(args, ",\n        "), "); });"));
  Line("}");
  Line("#endif");
}

void CudaKernelEmitter::EmitReduce(int e, const std::vector<bool>& bound) {
  const Expr& x = ir_.exprs[e];
  std::vector<std::string> names;
  for (int v : x.vars) names.push_back(absl::StrCat("i", v, " < ", VarSize(v)));
  Line(absl::StrCat("// ", OpName(x.op), " over ", absl::StrJoin(names, ", "),
                    block_scope_ ? " (shared by the block)" : ""));
  if (block_scope_) {
    EmitBlockReduce(e, bound);
  } else {
    EmitThreadReduce(e, bound);
  }
  emitted_[e] = true;
  scope_emitted_.push_back(e);
  const std::string acc = absl::StrCat("acc", e);
  Line(absl::StrCat("const ", CType(x.dtype), " v", e, " = ", ReduceResult(x, acc), ";"));
}

void CudaKernelEmitter::EmitThreadReduce(int e, const std::vector<bool>& bound) {
  const Expr& x = ir_.exprs[e];
  const DType body = ir_.exprs[x.args[0]].dtype;
  const bool sum = x.op == OpKind::kSum || x.op == OpKind::kMean;
  const std::string acc = absl::StrCat("acc", e);
  const char* at = ReduceAccType(x, body);
  Line(absl::StrCat(at, " ", acc, " = ", ReduceIdentity(x, body), ";"));
  if (x.op == OpKind::kArgmax) Line(absl::StrCat("int64_t ", acc, "_at = 0;"));
  std::vector<bool> inner = bound;
  for (int v : x.vars) inner[v] = true;
  const size_t scope_mark = scope_emitted_.size();
  // A floating sum adds blocks of kCudaSumBlock elements, each into its own partial sum,
  // which keeps a long sum's error near that of a pairwise sum.
  const bool blocked = sum && IsFloating(body);
  if (stage_ >= 0 && slot_[e] >= 0) {
    // into = op(into, value)
    auto step = [&](const std::string& into, const std::string& value) {
      return absl::StrCat(into, " = ", ReduceStep(x.op, into, value), ";");
    };
    // A split column stage: this thread's part of the rows, lo to hi, into its partials
    // slot; or, for a reduction of an earlier stage, the parts' slots combined in order.
    auto slot = [&](const char* part) {
      return absl::StrCat("*kc::PartialSlot<", at, ">(partials, (", slot_[e], " * split + ", part,
                          ") * total + t)");
    };
    if (level_[e] < stage_) {
      Line("for (int64_t p = 0; p < split; ++p) {");
      Line("  " + step(acc, slot("p")));
      Line("}");
      return;
    }
    const std::string r = absl::StrCat("r", e);
    Line(absl::StrCat("for (int64_t ", r, "_lo = lo; ", r, "_lo < hi; ", r,
                      "_lo += ", kCudaSumBlock, ") {"));
    Line(absl::StrCat("  const int64_t ", r, "_hi = ", r, "_lo + ", kCudaSumBlock, " < hi ? ", r,
                      "_lo + ", kCudaSumBlock, " : hi;"));
    Line(absl::StrCat("  ", at, " part", e, " = ", ReduceIdentity(x, body), ";"));
    Line(absl::StrCat("  for (int64_t ", r, " = ", r, "_lo; ", r, " < ", r, "_hi; ++", r, ") {"));
    indent_ += 2;
    Delinearize(x.vars, r, absl::StrCat("rr", e));
    EmitScope(inner, std::vector<int>(x.args.begin(), x.args.end()));
    const std::string part = absl::StrCat("part", e);
    const std::string value = absl::StrCat(at, "(", Ref(x.args[0]), ")");
    Line(blocked ? absl::StrCat(part, " += ", value, ";") : step(part, value));
    indent_ -= 2;
    Line("  }");
    Line("  " + step(acc, part));
    Line("}");
    LeaveScope(scope_mark);
    Line(absl::StrCat(slot("part"), " = ", acc, ";"));
    return;
  }
  const int innermost = x.vars.back();
  for (int v : x.vars) {
    const std::string i = absl::StrCat("i", v);
    if (blocked && v == innermost) {
      Line(absl::StrCat("for (int64_t ", i, "_lo = 0; ", i, "_lo < ", VarSize(v), "; ", i,
                        "_lo += ", kCudaSumBlock, ") {"));
      Line(absl::StrCat("  const int64_t ", i, "_hi = ", i, "_lo + ", kCudaSumBlock, " < ",
                        VarSize(v), " ? ", i, "_lo + ", kCudaSumBlock, " : ", VarSize(v), ";"));
      Line(absl::StrCat("  ", at, " part", e, " = 0;"));
      Line(absl::StrCat("  for (int64_t ", i, " = ", i, "_lo; ", i, " < ", i, "_hi; ++", i, ") {"));
      indent_ += 2;
    } else {
      OpenLoop(v);
    }
  }
  EmitScope(inner, std::vector<int>(x.args.begin(), x.args.end()));
  const std::string v = Ref(x.args[0]);
  if (blocked) {
    Line(absl::StrCat("part", e, " += ", v, ";"));
  } else if (x.op == OpKind::kArgmax) {
    EmitArgmaxStep(acc, v, Ref(x.args[1]));
  } else {
    Line(absl::StrCat(acc, " = ", ReduceStep(x.op, acc, absl::StrCat(at, "(", v, ")")), ";"));
  }
  for (auto it = x.vars.rbegin(); it != x.vars.rend(); ++it) {
    if (blocked && *it == innermost) {
      indent_ -= 2;
      Line("  }");
      Line(absl::StrCat("  ", acc, " += part", e, ";"));
      Line("}");
    } else {
      --indent_;
      Line("}");
    }
  }
  LeaveScope(scope_mark);
}

void CudaKernelEmitter::EmitBlockReduce(int e, const std::vector<bool>& bound) {
  // Each thread reduces a strided share of the elements in order, then the block combines
  // the threads' results (kc::BlockReduce): every thread gets the row's value. In a
  // split stage the share is of this block's part of the row, and the block's result is
  // written to its partials slot; a later stage combines the parts' slots instead.
  const Expr& x = ir_.exprs[e];
  const DType body = ir_.exprs[x.args[0]].dtype;
  const bool sum = x.op == OpKind::kSum || x.op == OpKind::kMean;
  const bool argmax = x.op == OpKind::kArgmax;
  const std::string acc = absl::StrCat("acc", e);
  const char* at = ReduceAccType(x, body);
  const std::string var = argmax ? acc + "_p" : acc;
  const std::string type = argmax ? absl::StrCat("kc::ArgmaxPair<", at, ">") : std::string(at);
  const std::string op = absl::StrCat("kc::",
                                      sum                     ? "Sum"
                                      : argmax                ? "Argmax"
                                      : x.op == OpKind::kProd ? "Prod"
                                      : x.op == OpKind::kMax  ? "Max"
                                                              : "Min",
                                      "Op<", at, ">()");
  if (argmax) {
    // An empty share is the lowest value at no position, which any element beats or ties
    // at a smaller position.
    Line(absl::StrCat(type, " ", var, "{", ReduceIdentity(x, body), ", kc::kNoPosition};"));
  } else {
    Line(absl::StrCat(type, " ", var, " = ", ReduceIdentity(x, body), ";"));
  }
  const bool split = stage_ >= 0;
  const std::string slot = absl::StrCat(" * ", num_slots_, " + ", split ? slot_[e] : 0);
  if (split && level_[e] < stage_) {
    Line("for (int64_t p = threadIdx.x; p < split; p += blockDim.x) {");
    Line(absl::StrCat("  ", var, " = ", op, "(", var, ", *kc::PartialSlot<", type,
                      ">(partials, (row * split + p)", slot, "));"));
    Line("}");
  } else {
    const std::string r = absl::StrCat("r", e);
    Line(absl::StrCat("for (int64_t ", r, " = ", split ? "part * blockDim.x + " : "",
                      "threadIdx.x; ", r, " < ", SizeProduct(x.vars), "; ", r,
                      " += ", split ? "split * " : "", "blockDim.x) {"));
    ++indent_;
    const size_t scope_mark = scope_emitted_.size();
    Delinearize(x.vars, r, absl::StrCat("rr", e));
    std::vector<bool> inner = bound;
    for (int v : x.vars) inner[v] = true;
    block_scope_ = false;  // a reduction inside the body belongs to this thread
    EmitScope(inner, std::vector<int>(x.args.begin(), x.args.end()));
    block_scope_ = true;
    const std::string v = Ref(x.args[0]);
    if (argmax) {
      Line(absl::StrCat(var, " = ", op, "(", var, ", {", v, ", ", Ref(x.args[1]), "});"));
    } else {
      Line(absl::StrCat(acc, " = ", ReduceStep(x.op, acc, absl::StrCat(at, "(", v, ")")), ";"));
    }
    LeaveScope(scope_mark);
    --indent_;
    Line("}");
  }
  Line(absl::StrCat(var, " = kc::BlockReduce(", var, ", ", op, ");"));
  if (split && level_[e] == stage_) {
    Line(absl::StrCat("if (threadIdx.x == 0) *kc::PartialSlot<", type,
                      ">(partials, (row * split + part)", slot, ") = ", var, ";"));
  }
  if (argmax) {
    Line(absl::StrCat("const int64_t ", acc, "_at = ", var, ".at == kc::kNoPosition ? 0 : ", var,
                      ".at;"));
  }
}

CudaKernelSource CudaKernelEmitter::Emit() {
  CudaKernelSource result;
  Line(absl::StrCat("// kernel ", ir_.name, " (", KernelKindName(ir_.kind), ")"));
  for (int k = 0; k < static_cast<int>(ir_.nests.size()); ++k) {
    CudaLaunch launch = PlanNest(ir_.nests[k], k);
    EmitNest(ir_.nests[k], launch);
    result.launches.push_back(std::move(launch));
  }
  result.source = std::move(out_);
  return result;
}

}  // namespace internal

std::string CudaPreamble() {
  static_assert(kPartialSlotBytes == 16, "the preamble's PartialSlot");
  // Compiled by NVRTC with -default-device, so the pasted numerics header (written for
  // the host) is device code too. NVRTC has no GCC builtins: the four the numerics header
  // and the literals use are spelled with CUDA's bit casts.
  return absl::StrCat(R"(// Generated by kiln's CUDA emitter.
#ifndef KILN_CUDA_EMULATION
typedef unsigned char uint8_t;
typedef int int32_t;
typedef long long int64_t;
#define __builtin_inf() __longlong_as_double(0x7ff0000000000000LL)
#define __builtin_nan(s) __longlong_as_double(0x7ff8000000000000LL)
#define __builtin_inff() __int_as_float(0x7f800000)
#define __builtin_nanf(s) __int_as_float(0x7fc00000)
#endif

namespace {

)",
                      internal::KernelNumericsText(), R"(
namespace kn = kiln::numerics;

struct KilnError {
  int32_t check;
  int32_t order;
  int64_t value;
  int64_t position;
  int32_t lock;
};

// Keeps the failure of the earliest node (post-order), at its first position. A spin
// lock: a failing thread is rare, and sm_70 and later schedule a warp's threads
// independently, so the holder always gets to release it.
void kiln_fail(KilnError* err, int check, int order, int64_t value, int64_t position) {
  while (atomicCAS(&err->lock, 0, 1) != 0) {
  }
  __threadfence();
  volatile KilnError* e = err;
  if (e->check < 0 || order < e->order || (order == e->order && position < e->position)) {
    e->check = check;
    e->order = order;
    e->value = value;
    e->position = position;
  }
  __threadfence();
  atomicExch(&err->lock, 0);
}

namespace kc {

template <typename T>
T ShflXor(T v, int lane_mask) {
  return __shfl_xor_sync(0xffffffffu, v, lane_mask);
}
inline bool ShflXor(bool v, int lane_mask) {
  return __shfl_xor_sync(0xffffffffu, int(v), lane_mask) != 0;
}

template <typename T>
struct SumOp {
  T operator()(T a, T b) const { return kn::WrapAdd(a, b); }
};
template <typename T>
struct ProdOp {
  T operator()(T a, T b) const { return kn::WrapMul(a, b); }
};
template <typename T>
struct MaxOp {
  T operator()(T a, T b) const { return kn::ReduceMaxStep(a, b); }
};
template <typename T>
struct MinOp {
  T operator()(T a, T b) const { return kn::ReduceMinStep(a, b); }
};

constexpr int64_t kNoPosition = 0x7fffffffffffffffLL;
template <typename T>
struct ArgmaxPair {
  T value;
  int64_t at;
};
// The first maximum: NaN beats every number, and ties go to the smaller position, so
// combining shares in any order gives the element-order result.
template <typename T>
struct ArgmaxOp {
  ArgmaxPair<T> operator()(ArgmaxPair<T> a, ArgmaxPair<T> b) const {
    const bool a_nan = kn::IsNan(a.value), b_nan = kn::IsNan(b.value);
    if (a_nan != b_nan) return a_nan ? a : b;
    if (!a_nan && a.value != b.value) return a.value > b.value ? a : b;
    return a.at <= b.at ? a : b;
  }
};
template <typename T>
ArgmaxPair<T> ShflXor(ArgmaxPair<T> p, int lane_mask) {
  return {ShflXor(p.value, lane_mask), ShflXor(p.at, lane_mask)};
}

// The block's threads' values combined by `op`, returned to every thread. Warps combine
// by shuffles; warp results are combined in warp order, so the result depends only on
// the block size. Every thread of the block must call it (blockDim.x a multiple of 32).
template <typename T, typename Op>
T BlockReduce(T v, Op op) {
  __shared__ T warp_results[32];
  for (int m = 16; m > 0; m >>= 1) v = op(v, ShflXor(v, m));
  __syncthreads();  // the previous reduction's readers are done with warp_results
  if ((threadIdx.x & 31) == 0) warp_results[threadIdx.x >> 5] = v;
  __syncthreads();
  T r = warp_results[0];
  for (unsigned w = 1; w < (blockDim.x >> 5); ++w) r = op(r, warp_results[w]);
  return r;
}

// The slot `slot` of a split row kernel's partial results (kPartialSlotBytes each).
template <typename T>
T* PartialSlot(unsigned char* partials, int64_t slot) {
  static_assert(sizeof(T) <= 16, "a partial result fits its slot");
  return reinterpret_cast<T*>(partials + slot * 16);
}

// a / b and a % b for index values (a >= 0, b > 0), in 32 bits when both fit.
inline int64_t IdxDiv(int64_t a, int64_t b) {
  return ((a | b) >> 32) == 0 ? int64_t(unsigned(a) / unsigned(b)) : a / b;
}
inline int64_t IdxMod(int64_t a, int64_t b) {
  return ((a | b) >> 32) == 0 ? int64_t(unsigned(a) % unsigned(b)) : a % b;
}

// Four consecutive elements, moved by one 16-byte access for 4-byte types.
template <typename T>
struct alignas(4 * sizeof(T)) Vec4 {
  T v[4];
};
template <typename... T>
bool AlignedForVectors(const T*... p) {
  return ((reinterpret_cast<unsigned long long>(p) % sizeof(Vec4<T>) == 0) && ...);
}
template <typename T>
Vec4<T> Load4(const T* p) {
#ifdef KILN_CUDA_EMULATION
  kiln_emu::CheckAligned(p, sizeof(Vec4<T>));
  return Vec4<T>{{p[0], p[1], p[2], p[3]}};
#else
  return *reinterpret_cast<const Vec4<T>*>(p);
#endif
}
template <typename T>
void Store4(T* p, const Vec4<T>& x) {
#ifdef KILN_CUDA_EMULATION
  kiln_emu::CheckAligned(p, sizeof(Vec4<T>));
  for (int k = 0; k < 4; ++k) p[k] = x.v[k];
#else
  *reinterpret_cast<Vec4<T>*>(p) = x;
#endif
}

// scatter_add: threads may add to one element at once.
inline void AtomicAccumulate(float* p, float v) { atomicAdd(p, v); }
inline void AtomicAccumulate(double* p, double v) { atomicAdd(p, v); }
inline void AtomicAccumulate(int32_t* p, int32_t v) { atomicAdd(p, v); }
inline void AtomicAccumulate(int64_t* p, int64_t v) {
  atomicAdd(reinterpret_cast<unsigned long long*>(p), static_cast<unsigned long long>(v));
}
// bool: the sum of 0/1 values converted back is their OR, set in the aligned 32-bit word
// holding the byte (buffers are allocated in multiples of 4 bytes).
inline void AtomicAccumulate(uint8_t* p, bool v) {
  if (!v) return;
  const unsigned long long address = reinterpret_cast<unsigned long long>(p);
  atomicOr(reinterpret_cast<unsigned*>(address & ~3ULL), 1u << ((address & 3ULL) * 8));
}

}  // namespace kc
}  // namespace

)");
}

CudaKernelSource EmitCudaKernel(const KernelIR& kernel) {
  return internal::CudaKernelEmitter(kernel).Emit();
}

int64_t VarsProduct(const KernelIR& kernel, const std::vector<int>& vars) {
  int64_t product = 1;
  for (int v : vars) product *= kernel.vars[v].size;
  return product;
}

}  // namespace kiln::codegen
