#include "codegen/fusion_plan.h"

#include <algorithm>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "util/check.h"

namespace kiln::codegen {
namespace {

// How much work recomputing a node costs, and whether it may be recomputed at all.
struct RecomputeCost {
  int ops = 0;                    // elementwise ops (views, constants and arange are free)
  // The nodes with ops that recomputing it runs and their ops, each counted once however
  // often the chain uses it (x * x * x reads x three times); kept while ops is within
  // kMaxRecomputedOps.
  std::vector<std::pair<int, int>> chain;
  bool reads_results = false;     // reads another kernel's stored result
  bool has_indexed_load = false;  // gather/index_select inside
  // The tensors it reads (results and device data; scalars are free), up to two.
  std::vector<int> buffers;
  // Adds the nodes of `operand`'s chain that this chain does not run yet.
  void AddChain(const RecomputeCost& operand) {
    if (ops > kMaxRecomputedOps || operand.ops > kMaxRecomputedOps) {
      ops = kMaxRecomputedOps + 1;
      chain.clear();
      return;
    }
    for (const auto& [node, node_ops] : operand.chain) {
      if (std::find(chain.begin(), chain.end(), std::pair(node, node_ops)) != chain.end()) {
        continue;
      }
      chain.emplace_back(node, node_ops);
      ops += node_ops;
    }
  }
  void AddBuffer(int b) {
    if (buffers.size() < 2 && std::find(buffers.begin(), buffers.end(), b) == buffers.end()) {
      buffers.push_back(b);
    }
  }
};

// Whether `user` reads parameter `param` broadcast along a dimension (a bias added to
// every row): a reader that loads it along with a stored result then moves little more
// data than one that loads the result alone. Decided on which sizes are 1, as the rest of
// the plan is, so that every size shares one plan.
bool IsBroadcastParameter(const Node& param, const Node& user) {
  const Shape& p = param.shape();
  const Shape& u = user.shape();
  if (p.rank() > u.rank()) return false;
  const int64_t offset = u.rank() - p.rank();
  for (int64_t d = 0; d < u.rank(); ++d) {
    const int64_t param_size = d < offset ? 1 : p.size(d - offset);
    if (param_size == 1 && u.size(d) != 1) return true;
  }
  return false;
}

bool IsCheapLeaf(OpKind op) { return op == OpKind::kConstant || op == OpKind::kArange; }

bool IsView(OpKind op) {
  return op == OpKind::kReshape || op == OpKind::kPermute || op == OpKind::kExpand ||
         op == OpKind::kSlice || op == OpKind::kPad || op == OpKind::kConcat;
}

// What recomputing `op` costs per element, in arithmetic ops: views and constants are
// index arithmetic; a transcendental (range reduction and a polynomial, kernel_math.h)
// counts as three; random numbers (ten Philox rounds) as twelve.
int RecomputeOps(OpKind op) {
  if (IsCheapLeaf(op) || IsView(op)) return 0;
  switch (op) {
    case OpKind::kRandUniform:
      return 12;
    case OpKind::kExp:
    case OpKind::kLog:
    case OpKind::kTanh:
    case OpKind::kErf:
    case OpKind::kSigmoid:
    case OpKind::kSin:
    case OpKind::kCos:
    case OpKind::kPow:
      return 3;
    default:
      return 1;
  }
}

// The sorted reduced dimensions of a reduction.
std::vector<int64_t> ReducedDims(const Node& node) {
  std::vector<int64_t> dims = node.op() == OpKind::kArgmax
                                  ? std::vector<int64_t>{node.attrs().GetInt("dim")}
                                  : node.attrs().GetInts("dims");
  std::sort(dims.begin(), dims.end());
  return dims;
}

Sizes WithoutOnes(const Sizes& sizes) {
  Sizes out;
  for (int64_t s : sizes) {
    if (s != 1) out.push_back(s);
  }
  return out;
}

// Whether a view keeps every row's values in the same row: only size-1 dimensions change
// (keepdim <-> no keepdim) or size-1 dimensions are broadcast.
bool KeepsRows(const Node& node) {
  switch (node.op()) {
    case OpKind::kExpand:
      return true;
    case OpKind::kReshape:
      return WithoutOnes(node.shape().sizes()) == WithoutOnes(node.operand(0).shape().sizes());
    case OpKind::kPermute:
    case OpKind::kSlice:
    case OpKind::kPad:
    case OpKind::kConcat:
    case OpKind::kGather:
    case OpKind::kIndexSelect:
      return false;
    default:
      return true;  // elementwise
  }
}

struct Group {
  KernelKind kind = KernelKind::kElementwise;
  Sizes sizes;                // kElementwise: loop sizes; kRow: reduction input sizes
  std::vector<int64_t> dims;  // kRow: reduced dimensions
  std::vector<int> results;   // computed-once members, in post-order
  bool alive = true;
};

class Planner {
 public:
  explicit Planner(const Graph& graph) : graph_(graph), order_(graph.post_order()) {}

  FusionPlan Run();

 private:
  int n() const { return static_cast<int>(order_.size()); }
  const Node& node(int p) const { return *order_[p]; }
  bool IsParam(int p) const { return IsParameter(order_[p]->op()); }

  void Index();
  void ChooseResults();
  void ComputeInputs();
  void Fuse();
  std::optional<std::string> WhyNotFuse(int a, int b) const;
  std::optional<std::string> RowHazard(const std::vector<int>& results) const;
  bool DependsOn(int group, int target) const;
  std::vector<int> GroupDeps(int g) const;
  std::vector<int> Members(const std::vector<int>& results) const;
  void Merge(int a, int b);
  bool ShareInput(int a, int b) const;
  FusionPlan Emit();

  const Graph& graph_;
  const std::vector<const Node*>& order_;
  absl::flat_hash_map<const Node*, int> pos_;
  std::vector<std::vector<int>> operands_;  // positions of each node's operands
  std::vector<std::vector<int>> users_;     // distinct user positions
  std::vector<bool> is_output_;
  std::vector<bool> result_;               // computed once in one kernel (else inlined)
  std::vector<std::vector<int>> inputs_;   // results: other results/parameters they read
  std::vector<std::vector<int>> inlined_;  // results: the inlined nodes they compute
  std::vector<int> group_of_;              // results: their group
  std::vector<Group> groups_;
};

void Planner::Index() {
  for (int i = 0; i < n(); ++i) pos_[order_[i]] = i;
  operands_.resize(n());
  users_.resize(n());
  is_output_.assign(n(), false);
  for (int i = 0; i < n(); ++i) {
    for (const Value& v : node(i).operands()) {
      const int p = pos_.at(v.node.get());
      operands_[i].push_back(p);
      if (users_[p].empty() || users_[p].back() != i) users_[p].push_back(i);
    }
  }
  for (const Value& v : graph_.outputs()) is_output_[pos_.at(v.node.get())] = true;
}

void Planner::ChooseResults() {
  result_.assign(n(), false);
  std::vector<RecomputeCost> cost(n());
  // Views a matmul kernel applies to a loaded buffer instead of copying it: reshapes
  // (free on a contiguous buffer) under transposes of the last two dims (a flag).
  std::vector<bool> matmul_view(n(), false);
  for (int i = 0; i < n(); ++i) {
    if (node(i).op() != OpKind::kMatmul) continue;
    for (int o : operands_[i]) {
      int v = o;
      while (IsLastTwoTranspose(node(v)) && !is_output_[v]) {
        matmul_view[v] = true;
        v = operands_[v][0];
      }
      while (node(v).op() == OpKind::kReshape && !is_output_[v]) {
        matmul_view[v] = true;
        v = operands_[v][0];
      }
    }
  }
  for (int i = 0; i < n(); ++i) {
    const OpKind op = node(i).op();
    if (IsParameter(op)) continue;
    bool forced =
        is_output_[i] || IsReduction(op) || op == OpKind::kMatmul || op == OpKind::kScatterAdd;
    for (int u : users_[i]) {
      const OpKind user_op = node(u).op();
      if (user_op == OpKind::kMatmul && !matmul_view[i]) forced = true;
      if (matmul_view[u] && !matmul_view[i]) forced = true;  // the viewed buffer
    }
    RecomputeCost& c = cost[i];
    c.ops = RecomputeOps(op);
    if (c.ops > 0) c.chain = {{i, c.ops}};
    c.has_indexed_load = op == OpKind::kGather || op == OpKind::kIndexSelect;
    for (int o : operands_[i]) {
      if (IsParameter(node(o).op())) {
        if (node(o).op() != OpKind::kScalar && !IsBroadcastParameter(node(o), node(i))) {
          c.AddBuffer(o);
        }
        continue;
      }
      if (result_[o]) {
        c.reads_results = true;
        c.AddBuffer(o);
        continue;
      }
      c.AddChain(cost[o]);
      c.reads_results |= cost[o].reads_results;
      c.has_indexed_load |= cost[o].has_indexed_load;
      for (int b : cost[o].buffers) c.AddBuffer(b);
    }
    if (forced) {
      result_[i] = !matmul_view[i];
      continue;
    }
    if (matmul_view[i] || users_[i].size() <= 1) continue;  // inlined into its one user
    // Used by several nodes: recompute only what is free (views, constants) or a short
    // chain of elementwise ops on parameters; anything else is computed once.
    const bool free = c.ops == 0 && !c.has_indexed_load;
    const bool short_chain = c.ops <= kMaxRecomputedOps && !c.has_indexed_load &&
                             (!c.reads_results || c.buffers.size() <= 1);
    if (!free && !short_chain) result_[i] = true;
  }
}

void Planner::ComputeInputs() {
  inputs_.assign(n(), {});
  inlined_.assign(n(), {});
  for (int r = 0; r < n(); ++r) {
    if (!result_[r]) continue;
    absl::flat_hash_set<int> seen;
    std::vector<int> stack(operands_[r].begin(), operands_[r].end());
    while (!stack.empty()) {
      const int p = stack.back();
      stack.pop_back();
      if (!seen.insert(p).second) continue;
      if (IsParam(p) || result_[p]) {
        inputs_[r].push_back(p);
        continue;
      }
      inlined_[r].push_back(p);
      for (int o : operands_[p]) stack.push_back(o);
    }
    std::sort(inputs_[r].begin(), inputs_[r].end());
    std::sort(inlined_[r].begin(), inlined_[r].end());
  }
}

std::vector<int> Planner::Members(const std::vector<int>& results) const {
  std::vector<int> members;
  for (int r : results) {
    members.push_back(r);
    members.insert(members.end(), inlined_[r].begin(), inlined_[r].end());
  }
  std::sort(members.begin(), members.end());
  members.erase(std::unique(members.begin(), members.end()), members.end());
  return members;
}

std::vector<int> Planner::GroupDeps(int g) const {
  std::vector<int> deps;
  for (int r : groups_[g].results) {
    for (int p : inputs_[r]) {
      if (IsParam(p)) continue;
      const int h = group_of_[p];
      if (h != g) deps.push_back(h);
    }
  }
  std::sort(deps.begin(), deps.end());
  deps.erase(std::unique(deps.begin(), deps.end()), deps.end());
  return deps;
}

// Whether `group` reaches `target` through another kernel (the direct edge does not
// count: fusing the two removes it).
bool Planner::DependsOn(int group, int target) const {
  std::vector<bool> seen(groups_.size(), false);
  std::vector<int> stack;
  for (int d : GroupDeps(group)) {
    if (d != target) stack.push_back(d);
  }
  while (!stack.empty()) {
    const int g = stack.back();
    stack.pop_back();
    if (g == target) return true;
    if (seen[g]) continue;
    seen[g] = true;
    for (int d : GroupDeps(g)) stack.push_back(d);
  }
  return false;
}

// Within one row kernel, a value that depends on a reduction exists for the current row
// only: a view that moves values between rows (permute, slice, pad, concat, an indexed
// load, a reshape of non-unit sizes) would need other rows' results.
std::optional<std::string> Planner::RowHazard(const std::vector<int>& results) const {
  const std::vector<int> members = Members(results);
  absl::flat_hash_set<int> member_set(members.begin(), members.end());
  absl::flat_hash_set<int> per_row;
  for (int m : members) {
    bool reads_row_value = false;
    for (int o : operands_[m]) reads_row_value |= per_row.contains(o);
    if (reads_row_value && !KeepsRows(node(m))) {
      return absl::StrCat(OpName(node(m).op()), " moves a per-row reduction result between rows");
    }
    if (reads_row_value || IsReduction(node(m).op())) per_row.insert(m);
  }
  return std::nullopt;
}

std::optional<std::string> Planner::WhyNotFuse(int a, int b) const {
  const Group& ga = groups_[a];
  const Group& gb = groups_[b];
  for (const Group* g : {&ga, &gb}) {
    if (g->kind == KernelKind::kMatmul) return "matmul runs in BLAS";
    if (g->kind == KernelKind::kScatterAdd) return "scatter_add runs alone";
  }
  if (ga.kind == KernelKind::kElementwise && gb.kind == KernelKind::kElementwise) {
    if (ga.sizes != gb.sizes) return "different loop sizes";
  } else if (ga.kind == KernelKind::kRow && gb.kind == KernelKind::kRow) {
    if (ga.sizes != gb.sizes || ga.dims != gb.dims) {
      return "reduction over different sizes or dimensions";
    }
  } else {
    const Group& row = ga.kind == KernelKind::kRow ? ga : gb;
    const Group& elem = ga.kind == KernelKind::kRow ? gb : ga;
    Sizes kept_ones = row.sizes;
    Sizes kept;
    for (int64_t d = 0; d < static_cast<int64_t>(row.sizes.size()); ++d) {
      const bool reduced = std::binary_search(row.dims.begin(), row.dims.end(), d);
      if (reduced) kept_ones[d] = 1;
      if (!reduced) kept.push_back(row.sizes[d]);
    }
    if (elem.sizes != row.sizes && elem.sizes != kept_ones && elem.sizes != kept) {
      return "sizes match neither the rows nor the row elements";
    }
  }
  std::vector<int> results = ga.results;
  results.insert(results.end(), gb.results.begin(), gb.results.end());
  std::sort(results.begin(), results.end());
  if (ga.kind == KernelKind::kRow || gb.kind == KernelKind::kRow) {
    if (std::optional<std::string> hazard = RowHazard(results)) return hazard;
  }
  if (DependsOn(b, a) || DependsOn(a, b)) return "fusing would form a cycle";
  return std::nullopt;
}

void Planner::Merge(int a, int b) {
  Group& ga = groups_[a];
  Group& gb = groups_[b];
  if (gb.kind == KernelKind::kRow && ga.kind != KernelKind::kRow) {
    ga.kind = KernelKind::kRow;
    ga.sizes = gb.sizes;
    ga.dims = gb.dims;
  }
  for (int r : gb.results) group_of_[r] = a;
  ga.results.insert(ga.results.end(), gb.results.begin(), gb.results.end());
  std::sort(ga.results.begin(), ga.results.end());
  gb.results.clear();
  gb.alive = false;
}

bool Planner::ShareInput(int a, int b) const {
  absl::flat_hash_set<int> reads;
  auto collect = [&](int g, bool check) {
    for (int r : groups_[g].results) {
      for (int p : inputs_[r]) {
        if (node(p).op() == OpKind::kScalar) continue;
        if (check ? reads.contains(p) : reads.insert(p).second) {
          if (check) return true;
        }
      }
      for (int p : inlined_[r]) {
        if (IsCheapLeaf(node(p).op())) continue;
        if (check ? reads.contains(p) : reads.insert(p).second) {
          if (check) return true;
        }
      }
    }
    return false;
  };
  collect(a, false);
  return collect(b, true);
}

void Planner::Fuse() {
  group_of_.assign(n(), -1);
  for (int r = 0; r < n(); ++r) {
    if (!result_[r]) continue;
    Group g;
    const OpKind op = node(r).op();
    if (op == OpKind::kMatmul) {
      g.kind = KernelKind::kMatmul;
    } else if (op == OpKind::kScatterAdd) {
      g.kind = KernelKind::kScatterAdd;
    } else if (IsReduction(op)) {
      g.kind = KernelKind::kRow;
      g.sizes = node(r).operand(0).shape().sizes();
      g.dims = ReducedDims(node(r));
    } else {
      g.sizes = node(r).shape().sizes();
    }
    g.results = {r};
    group_of_[r] = static_cast<int>(groups_.size());
    groups_.push_back(std::move(g));
  }
  // Vertical: each result joins its nearest producers' kernels (prologues, epilogues).
  for (int r = 0; r < n(); ++r) {
    if (!result_[r]) continue;
    for (auto it = inputs_[r].rbegin(); it != inputs_[r].rend(); ++it) {
      if (IsParam(*it)) continue;
      const int a = group_of_[*it];
      const int b = group_of_[r];
      if (a != b && !WhyNotFuse(a, b)) Merge(std::min(a, b), std::max(a, b));
    }
  }
  // Horizontal: kernels of the same loop that read the same inputs share one pass.
  for (size_t a = 0; a < groups_.size(); ++a) {
    for (size_t b = a + 1; b < groups_.size() && groups_[a].alive; ++b) {
      if (!groups_[b].alive || !ShareInput(a, b) || WhyNotFuse(a, b)) continue;
      Merge(a, b);
    }
  }
}

FusionPlan Planner::Emit() {
  std::vector<int> alive;
  for (size_t g = 0; g < groups_.size(); ++g) {
    if (groups_[g].alive) alive.push_back(static_cast<int>(g));
  }
  // Execution order: repeatedly the ready kernel whose first result comes first.
  std::vector<int> ordered;
  std::vector<bool> done(groups_.size(), false);
  while (ordered.size() < alive.size()) {
    int best = -1;
    for (int g : alive) {
      if (done[g]) continue;
      bool ready = true;
      for (int d : GroupDeps(g)) ready &= done[d];
      if (ready && (best < 0 || groups_[g].results[0] < groups_[best].results[0])) best = g;
    }
    KILN_CHECK(best >= 0) << "fusion groups form a cycle";
    done[best] = true;
    ordered.push_back(best);
  }

  FusionPlan plan;
  // A graph output that is a parameter is copied into a fresh buffer.
  std::vector<int> param_outputs;
  for (int p = 0; p < n(); ++p) {
    if (is_output_[p] && IsParam(p)) param_outputs.push_back(p);
  }
  // Results another kernel reads, directly or through the chains it recomputes (a
  // recomputed node is a member of every kernel that reads it, so its users alone do not
  // tell).
  std::vector<bool> read_elsewhere(n(), false);
  for (int h : ordered) {
    for (int s : groups_[h].results) {
      for (int p : inputs_[s]) {
        if (!IsParam(p) && group_of_[p] != h) read_elsewhere[p] = true;
      }
    }
  }
  for (int g : ordered) {
    const Group& group = groups_[g];
    for (auto it = param_outputs.begin(); it != param_outputs.end();) {
      if (*it > group.results[0]) break;
      plan.kernels.push_back(
          {KernelKind::kElementwise, {}, {*it}, {*it}, "graph output is a parameter: copied"});
      it = param_outputs.erase(it);
    }
    Kernel k;
    k.kind = group.kind;
    k.nodes = Members(group.results);
    absl::flat_hash_set<int> members(k.nodes.begin(), k.nodes.end());
    for (int m : k.nodes) {
      for (int o : operands_[m]) {
        if (!members.contains(o)) k.loads.push_back(o);
      }
    }
    std::sort(k.loads.begin(), k.loads.end());
    k.loads.erase(std::unique(k.loads.begin(), k.loads.end()), k.loads.end());
    std::optional<std::string> boundary;
    for (int r : group.results) {
      if (is_output_[r] || read_elsewhere[r]) k.stores.push_back(r);
    }
    // Why this kernel does not continue into the kernels that read its stores.
    for (int other : ordered) {
      if (other == g || boundary) continue;
      bool reads = false;
      for (int s : groups_[other].results) {
        for (int r : k.stores) reads |= std::binary_search(inputs_[s].begin(), inputs_[s].end(), r);
      }
      if (reads) boundary = WhyNotFuse(std::min(g, other), std::max(g, other));
    }
    if (group.kind == KernelKind::kMatmul) {
      k.boundary = "matmul runs in BLAS";
    } else if (group.kind == KernelKind::kScatterAdd) {
      k.boundary = "scatter_add runs alone (no two threads add into one element)";
    } else {
      k.boundary = boundary ? *boundary : "graph output";
    }
    plan.kernels.push_back(std::move(k));
  }
  for (int p : param_outputs) {
    plan.kernels.push_back(
        {KernelKind::kElementwise, {}, {p}, {p}, "graph output is a parameter: copied"});
  }
  return plan;
}

FusionPlan Planner::Run() {
  Index();
  ChooseResults();
  ComputeInputs();
  Fuse();
  return Emit();
}

}  // namespace

FusionPlan PlanFusion(const Graph& graph) { return Planner(graph).Run(); }

}  // namespace kiln::codegen
