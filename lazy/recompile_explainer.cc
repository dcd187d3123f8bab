#include "lazy/recompile_explainer.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "util/config.h"

namespace kiln {
namespace {

std::string BaseName(std::string_view path) {
  const size_t slash = path.find_last_of('/');
  return std::string(slash == std::string_view::npos ? path : path.substr(slash + 1));
}

std::string FormatSeconds(double s) {
  if (s >= 1) return absl::StrFormat("%.3fs", s);
  if (s >= 1e-3) return absl::StrFormat("%.3fms", s * 1e3);
  return absl::StrFormat("%.3fus", s * 1e6);
}

// Differences between two compiles of one structure, most telling first: input shapes,
// then the first node whose shape differs, then size attributes with equal shapes
// (e.g. a slice that moved but kept its length).
void ExplainSameStructure(const CompileRecord& prev, const CompileRecord& now,
                          CompileExplanation* e) {
  std::vector<std::string> parts;
  if (prev.graph_hash == now.graph_hash) {
    if (prev.backend != now.backend) {
      e->text = absl::StrCat("same graph compiled for backend ", now.backend,
                             " (before: ", prev.backend, ")");
      e->causes.push_back("new backend");
    } else {
      e->text = absl::StrCat(
          "same graph compiled again: it was evicted from the compile cache (KILN_CACHE_SIZE=",
          config().cache_size, ")");
      e->causes.push_back("compile cache eviction");
    }
    return;
  }
  const size_t num_params = std::min(prev.parameter_shapes.size(), now.parameter_shapes.size());
  for (size_t i = 0; i < num_params; ++i) {
    if (prev.parameter_shapes[i] == now.parameter_shapes[i]) continue;
    std::string part = absl::StrCat("input ", i, " shape ", prev.parameter_shapes[i].ToString(),
                                    " -> ", now.parameter_shapes[i].ToString());
    // Users know their tensors by where they use them, not by parameter number.
    if (i < now.parameter_locations.size() && now.parameter_locations[i].line() != 0) {
      absl::StrAppend(&part, ", first used at ", FormatLocation(now.parameter_locations[i]));
    }
    parts.push_back(std::move(part));
    e->causes.push_back(absl::StrCat("input ", i, " shape changed"));
  }
  const size_t num_ops = std::min(prev.ops.size(), now.ops.size());
  if (parts.empty()) {
    for (size_t i = 0; i < num_ops; ++i) {
      if (prev.ops[i].shape == now.ops[i].shape) continue;
      const char* op = OpName(now.ops[i].op);
      parts.push_back(absl::StrCat("node ", i, " (", op, ") shape ", prev.ops[i].shape.ToString(),
                                   " -> ", now.ops[i].shape.ToString()));
      e->causes.push_back(absl::StrCat("node ", i, " (", op, ") shape changed"));
      break;
    }
  }
  if (parts.empty()) {
    for (size_t i = 0; i < num_ops; ++i) {
      if (prev.ops[i].size_attributes == now.ops[i].size_attributes) continue;
      const char* op = OpName(now.ops[i].op);
      parts.push_back(absl::StrCat("node ", i, " (", op, ") ", prev.ops[i].size_attributes, " -> ",
                                   now.ops[i].size_attributes));
      e->causes.push_back(absl::StrCat("node ", i, " (", op, ") attributes changed"));
      break;
    }
  }
  if (parts.empty()) {
    parts.push_back("graph hash changed with equal shapes and attributes");
    e->causes.push_back("other");
  }
  e->text = absl::StrCat("same graph structure; ", absl::StrJoin(parts, "; "));
}

size_t CommonPrefix(const CompileRecord& a, const CompileRecord& b) {
  const size_t n = std::min(a.ops.size(), b.ops.size());
  size_t i = 0;
  while (i < n && a.ops[i].structure_key == b.ops[i].structure_key) ++i;
  return i;
}

void ExplainNewStructure(const CompileRecord& closest, size_t prefix, const CompileRecord& now,
                         CompileExplanation* e) {
  const std::string head = absl::StrCat(
      "new graph structure; first divergence from the closest previous graph at node ", prefix);
  if (prefix < now.ops.size()) {
    const CompileRecord::Op& op = now.ops[prefix];
    const std::string where = FormatLocation(op.location);
    e->text = absl::StrCat(head, " (op ", OpName(op.op), "), traced at ", where);
    if (prefix < closest.ops.size()) {
      const CompileRecord::Op& before = closest.ops[prefix];
      if (before.op != op.op) {
        absl::StrAppend(&e->text, "; the closest graph has ", OpName(before.op), " there");
      } else if (!(before.shape == op.shape)) {
        absl::StrAppend(&e->text, "; its shape was ", before.shape.ToString(), ", now ",
                        op.shape.ToString());
      }
    }
    e->causes.push_back(absl::StrCat("new graph structure at ", where));
  } else if (prefix < closest.ops.size()) {
    e->text = absl::StrCat(head, " (end of graph: ", now.ops.size(), " nodes, the closest has ",
                           closest.ops.size(), ")");
    e->causes.push_back("new graph structure (shorter graph)");
  } else {
    e->text = absl::StrCat(
        "new graph structure; same nodes as the closest previous graph but different outputs (",
        closest.output_shapes.size(), " -> ", now.output_shapes.size(), " outputs)");
    e->causes.push_back("new graph structure (different outputs)");
  }
}

}  // namespace

std::string FormatLocation(const std::source_location& location) {
  const std::string file =
      location.file_name() == nullptr ? std::string() : BaseName(location.file_name());
  if (file.empty()) return "<unknown location>";
  std::string out = absl::StrCat(file, ":", location.line());
  const char* function = location.function_name();
  if (function != nullptr && function[0] != '\0') absl::StrAppend(&out, " (in ", function, ")");
  return out;
}

CompileRecord MakeCompileRecord(const Graph& graph, std::string_view backend) {
  CompileRecord record;
  record.graph_hash = graph.hash();
  record.structure_hash = graph.StructureHash();
  record.backend = std::string(backend);
  for (const Node* p : graph.parameters()) {
    record.parameter_shapes.push_back(p->shape());
    record.parameter_locations.push_back(p->location());
  }
  for (const Value& out : graph.outputs()) record.output_shapes.push_back(out.shape());

  absl::flat_hash_map<const Node*, int> index;
  index.reserve(graph.post_order().size());
  record.ops.reserve(graph.post_order().size());
  for (const Node* node : graph.post_order()) {
    index[node] = static_cast<int>(index.size());
    CompileRecord::Op op{node->op(), {}, node->shape(), {}, node->location()};
    op.structure_key = NodeStructureKey(*node, index);
    for (const auto& [name, value] : node->attrs().entries()) {
      if (!IsSizeAttribute(node->op(), name)) continue;
      if (!op.size_attributes.empty()) op.size_attributes += ' ';
      absl::StrAppend(&op.size_attributes, name, "=", AttrValueToString(value));
    }
    record.ops.push_back(std::move(op));
  }
  return record;
}

CompileExplanation RecompileExplainer::Explain(const CompileRecord& record) const {
  MutexLock lock(&mu_);
  CompileExplanation e;
  if (latest_by_structure_.empty()) {
    e.text = absl::StrCat("first compile of this graph structure (", record.ops.size(), " nodes)");
    e.causes.push_back("first compile");
    return e;
  }
  if (auto it = latest_by_structure_.find(record.structure_hash);
      it != latest_by_structure_.end()) {
    e.known_structure = true;
    ExplainSameStructure(*it->second, record, &e);
    return e;
  }
  // Closest: the longest common prefix of structure keys; ties go to the latest compile.
  const CompileRecord* closest = nullptr;
  size_t best = 0;
  for (const auto& [hash, candidate] : latest_by_structure_) {
    const size_t prefix = CommonPrefix(*candidate, record);
    if (closest == nullptr || prefix > best ||
        (prefix == best && candidate->compile_number > closest->compile_number)) {
      closest = candidate.get();
      best = prefix;
    }
  }
  ExplainNewStructure(*closest, best, record, &e);
  return e;
}

int64_t RecompileExplainer::RecordCompile(CompileRecord record,
                                          const CompileExplanation& explanation,
                                          double compile_seconds, bool warmup) {
  MutexLock lock(&mu_);
  record.compile_number = ++compiles_;
  if (warmup) ++warmup_compiles_;
  compile_seconds_ += compile_seconds;
  last_explanation_ = explanation.text;
  for (const std::string& cause : explanation.causes) {
    auto [it, inserted] = cause_counts_.try_emplace(cause, 0);
    if (inserted) cause_order_.push_back(cause);
    ++it->second;
  }
  const Hash128 structure = record.structure_hash;
  latest_by_structure_[structure] = std::make_shared<const CompileRecord>(std::move(record));
  return compiles_;
}

int64_t RecompileExplainer::num_compiles() const {
  MutexLock lock(&mu_);
  return compiles_;
}

int64_t RecompileExplainer::num_warmup_compiles() const {
  MutexLock lock(&mu_);
  return warmup_compiles_;
}

int64_t RecompileExplainer::num_steps() const {
  MutexLock lock(&mu_);
  return steps_;
}

void RecompileExplainer::RecordCacheHit() {
  MutexLock lock(&mu_);
  ++cache_hits_;
}

std::optional<std::string> RecompileExplainer::RecordStep(bool warmup) {
  MutexLock lock(&mu_);
  ++steps_;
  if (warmup) ++warmup_steps_;
  // Warm-up compiles every bucket on purpose, a few steps apart: not a storm.
  const int64_t steps = steps_ - warmup_steps_;
  const int64_t compiles = compiles_ - warmup_compiles_;
  if (storm_warned_ || steps < kStormMinSteps ||
      static_cast<double>(compiles) <= kStormCompilesPerStep * static_cast<double>(steps)) {
    return std::nullopt;
  }
  storm_warned_ = true;
  return absl::StrFormat(
      "warning: recompile storm: %d compiles in %d steps (more than %.1f per step); top causes: "
      "%s. Inputs whose shapes change every step recompile every step: pad them to a few "
      "sizes and compile each inside a kiln::WarmupScope; KILN_DEBUG=1 explains every compile.",
      compiles, steps, kStormCompilesPerStep, TopCauses(3));
}

std::string RecompileExplainer::TopCauses(size_t limit) const {
  std::vector<std::string> order = cause_order_;
  // stable_sort keeps first-seen order among equal counts.
  std::stable_sort(order.begin(), order.end(), [&](const std::string& a, const std::string& b) {
    return cause_counts_.at(a) > cause_counts_.at(b);
  });
  if (order.size() > limit) order.resize(limit);
  std::vector<std::string> parts;
  for (const std::string& cause : order) {
    parts.push_back(absl::StrCat(cause, " (", cause_counts_.at(cause), "x)"));
  }
  return parts.empty() ? "none recorded" : absl::StrJoin(parts, ", ");
}

std::string RecompileExplainer::last_explanation() const {
  MutexLock lock(&mu_);
  return last_explanation_;
}

std::string RecompileExplainer::Summary() const {
  MutexLock lock(&mu_);
  std::string out = "kiln: compile summary\n";
  absl::StrAppend(&out, "kiln:   steps: ", steps_, "\n");
  absl::StrAppend(&out, "kiln:   compiles: ", compiles_);
  if (warmup_compiles_ > 0) absl::StrAppend(&out, " (", warmup_compiles_, " during warm-up)");
  absl::StrAppend(&out, "\n");
  absl::StrAppend(&out, "kiln:   cache hits: ", cache_hits_, "\n");
  absl::StrAppend(&out, "kiln:   compile time: ", FormatSeconds(compile_seconds_), "\n");
  if (!cause_order_.empty()) {
    absl::StrAppend(&out, "kiln:   compile causes:\n");
    std::vector<std::string> order = cause_order_;
    std::stable_sort(order.begin(), order.end(), [&](const std::string& a, const std::string& b) {
      return cause_counts_.at(a) > cause_counts_.at(b);
    });
    for (const std::string& cause : order) {
      absl::StrAppend(&out, "kiln:     ", cause, ": ", cause_counts_.at(cause), "\n");
    }
  }
  return out;
}

void RecompileExplainer::Clear() {
  MutexLock lock(&mu_);
  latest_by_structure_.clear();
  cause_counts_.clear();
  cause_order_.clear();
  last_explanation_.clear();
  steps_ = compiles_ = cache_hits_ = 0;
  warmup_steps_ = warmup_compiles_ = 0;
  compile_seconds_ = 0;
  storm_warned_ = false;
}

RecompileExplainer& recompile_explainer() {
  static auto* explainer = [] {
    // Never destroyed, so the exit summary can still read it; printed from atexit,
    // which runs before static destructors of objects constructed earlier.
    auto* e = new RecompileExplainer;
    std::atexit([] {
      RecompileExplainer& self = recompile_explainer();
      if (config().debug < 1 || (self.num_steps() == 0 && self.num_compiles() == 0)) return;
      const std::string summary = self.Summary();
      std::fputs(summary.c_str(), stderr);
    });
    return e;
  }();
  return *explainer;
}

std::string compile_summary() { return recompile_explainer().Summary(); }

}  // namespace kiln
