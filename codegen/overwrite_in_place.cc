#include "codegen/overwrite_in_place.h"

#include <algorithm>
#include <utility>
#include <vector>

namespace kiln::codegen {
namespace {

// The loop variables each expression depends on (a reduction's own variables excluded),
// as in the emitter's placement.
std::vector<std::vector<int>> VarDeps(const KernelIR& ir) {
  std::vector<std::vector<int>> deps(ir.exprs.size());
  for (size_t i = 0; i < ir.exprs.size(); ++i) {
    const Expr& e = ir.exprs[i];
    std::vector<int> d;
    if (e.kind == ExprKind::kVar) d.push_back(e.arg);
    for (int a : e.args) d.insert(d.end(), deps[a].begin(), deps[a].end());
    std::sort(d.begin(), d.end());
    d.erase(std::unique(d.begin(), d.end()), d.end());
    if (e.kind == ExprKind::kReduce) {
      std::erase_if(
          d, [&](int v) { return std::find(e.vars.begin(), e.vars.end(), v) != e.vars.end(); });
    }
    deps[i] = std::move(d);
  }
  return deps;
}

// Marks every expression reachable from the stores of `nest`.
std::vector<bool> Reachable(const KernelIR& ir, const LoopNest& nest) {
  std::vector<int> roots;
  for (const Store& s : nest.stores) {
    roots.push_back(s.offset);
    roots.push_back(s.value);
  }
  return ReachableExprs(ir, std::move(roots));
}

}  // namespace

bool CanOverwriteInPlace(const KernelIR& ir, int input, int output) {
  // BLAS reads its operands outside the nests, between the kernel's two phases.
  if (ir.kind == KernelKind::kMatmul || !ir.matmuls.empty()) return false;
  if (input < 0 || output < 0 || input >= static_cast<int>(ir.buffers.size()) ||
      output >= static_cast<int>(ir.buffers.size()) ||
      ir.buffers[input].role != BufferRole::kInput ||
      ir.buffers[output].role != BufferRole::kOutput) {
    return false;
  }
  const Store* store = nullptr;
  int store_nest = -1;
  for (size_t n = 0; n < ir.nests.size(); ++n) {
    for (const Store& s : ir.nests[n].stores) {
      if (s.buffer != output) continue;
      if (store != nullptr || s.accumulate) return false;
      store = &s;
      store_nest = static_cast<int>(n);
    }
  }
  if (store == nullptr) return false;
  // A column nest with more than one sweep reads its inputs again after earlier sweeps
  // and combines have stored.
  const LoopNest& nest = ir.nests[store_nest];
  if (nest.kind == NestKind::kColumnReduce && ScheduleColumns(ir, nest).num_sweeps > 1) {
    return false;
  }
  const std::vector<std::vector<int>> deps = VarDeps(ir);
  const std::vector<int>& offset_deps = deps[store->offset];
  for (size_t n = 0; n < ir.nests.size(); ++n) {
    const std::vector<bool> reachable = Reachable(ir, ir.nests[n]);
    for (size_t e = 0; e < ir.exprs.size(); ++e) {
      const Expr& x = ir.exprs[e];
      if (!reachable[e] || x.kind != ExprKind::kLoad || x.arg != input) continue;
      if (static_cast<int>(n) != store_nest || x.args[0] != store->offset) return false;
      // A mask on other variables would place the load in a deeper loop, after the store.
      if (x.args.size() > 1 && !std::includes(offset_deps.begin(), offset_deps.end(),
                                              deps[x.args[1]].begin(), deps[x.args[1]].end())) {
        return false;
      }
    }
  }
  return true;
}

}  // namespace kiln::codegen
