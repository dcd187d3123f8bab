// VerifyFusionPlan: the invariants every backend relies on when it compiles a plan.
#include <algorithm>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "codegen/fusion_plan.h"

namespace kiln::codegen {
absl::Status VerifyFusionPlan(const Graph& graph, const FusionPlan& plan) {
  const auto& order = graph.post_order();
  const int n = static_cast<int>(order.size());
  absl::flat_hash_map<const Node*, int> position;
  for (int i = 0; i < n; ++i) position[order[i]] = i;
  std::vector<bool> member(n, false);
  std::vector<bool> stored(n, false);  // by an earlier kernel
  for (size_t ki = 0; ki < plan.kernels.size(); ++ki) {
    const Kernel& k = plan.kernels[ki];
    const std::string where = absl::StrCat("kernel ", ki, " (", KernelKindName(k.kind), "): ");
    absl::flat_hash_set<int> members(k.nodes.begin(), k.nodes.end());
    absl::flat_hash_set<int> loads(k.loads.begin(), k.loads.end());
    for (int l : k.loads) {
      if (l < 0 || l >= n) return absl::InternalError(absl::StrCat(where, "bad load %", l));
      if (!IsParameter(order[l]->op()) && !stored[l]) {
        return absl::InternalError(
            absl::StrCat(where, "loads %", l, ", neither a parameter nor an earlier store"));
      }
    }
    for (int m : k.nodes) {
      if (m < 0 || m >= n || IsParameter(order[m]->op())) {
        return absl::InternalError(absl::StrCat(where, "bad member %", m));
      }
      member[m] = true;
      for (const Value& v : order[m]->operands()) {
        const int o = position.at(v.node.get());
        if (!members.contains(o) && !loads.contains(o)) {
          return absl::InternalError(
              absl::StrCat(where, "member %", m, " reads %", o, ", neither member nor load"));
        }
      }
    }
    for (int s : k.stores) {
      const bool copy = k.nodes.empty() && IsParameter(order[s]->op()) && loads.contains(s);
      if (!members.contains(s) && !copy) {
        return absl::InternalError(absl::StrCat(where, "stores %", s, ", not a member"));
      }
    }
    if (k.kind == KernelKind::kElementwise) {
      for (int s : k.stores) {
        if (order[s]->shape().sizes() != order[k.stores[0]]->shape().sizes()) {
          return absl::InternalError(
              absl::StrCat(where, "stores %", k.stores[0], " and %", s, " have different sizes"));
        }
      }
    }
    if (k.kind == KernelKind::kRow) {
      const Node* first = nullptr;
      for (int m : k.nodes) {
        const Node* r = order[m];
        if (!IsReduction(r->op())) continue;
        if (first == nullptr) {
          first = r;
          continue;
        }
        const auto dims = [](const Node* x) {
          std::vector<int64_t> d = x->op() == OpKind::kArgmax
                                       ? std::vector<int64_t>{x->attrs().GetInt("dim")}
                                       : x->attrs().GetInts("dims");
          std::sort(d.begin(), d.end());
          return d;
        };
        if (r->operand(0).shape().sizes() != first->operand(0).shape().sizes() ||
            dims(r) != dims(first)) {
          return absl::InternalError(absl::StrCat(where, "reductions %", position.at(first),
                                                  " and %", m,
                                                  " reduce different sizes or dimensions"));
        }
      }
      if (first == nullptr) return absl::InternalError(absl::StrCat(where, "no reduction"));
    }
    if ((k.kind == KernelKind::kMatmul || k.kind == KernelKind::kScatterAdd) &&
        k.stores.size() != 1) {
      return absl::InternalError(absl::StrCat(where, "expected one store"));
    }
    for (int s : k.stores) stored[s] = true;
  }
  // Every node an output needs is computed: the outputs' ancestors down to loads.
  std::vector<int> stack;
  std::vector<bool> seen(n, false);
  for (const Value& v : graph.outputs()) {
    const int o = position.at(v.node.get());
    if (!stored[o]) return absl::InternalError(absl::StrCat("output %", o, " is never stored"));
    stack.push_back(o);
  }
  while (!stack.empty()) {
    const int p = stack.back();
    stack.pop_back();
    if (seen[p]) continue;
    seen[p] = true;
    if (IsParameter(order[p]->op())) continue;
    if (!member[p]) return absl::InternalError(absl::StrCat("%", p, " is in no kernel"));
    for (const Value& v : order[p]->operands()) stack.push_back(position.at(v.node.get()));
  }
  return absl::OkStatus();
}

}  // namespace kiln::codegen
