#pragma once
// Why did kiln compile again? The executor keeps a history of every uncached compile
// (hashes, parameter shapes, the op sequence with trace locations) and explains each new
// compile against it, in one line:
//
//   first compile of this graph structure (12 nodes)
//   same graph structure; input 3 shape f32[32,128,192] -> f32[16,256,192]
//   same graph structure; node 7 (reshape) shape f32[4,8] -> f32[8,4]
//   new graph structure; first divergence from the closest previous graph at node 5
//     (op mul), traced at train.cc:42 (in TrainStep)
//
// It also counts steps, compiles and cache hits, warns once about a recompile storm
// (after 10 steps, more than 0.5 compiles per step) and renders the summary printed at
// exit under KILN_DEBUG=1. Steps and compiles made during warm-up (a WarmupScope, e.g.
// kiln::precompile compiling every shape bucket up front) are deliberate: they are
// explained and counted, but left out of the storm rate. All of it is for people reading logs; nothing here changes
// what is compiled.
#include <cstdint>
#include <memory>
#include <optional>
#include <source_location>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "ir/graph.h"
#include "util/hash.h"
#include "util/mutex.h"

namespace kiln {

// What the history remembers of one compiled graph (no buffers, no nodes: it keeps no
// tensor data alive).
struct CompileRecord {
  // One node of the post-order.
  struct Op {
    OpKind op;
    // NodeStructureKey (ir/graph.h): equal keys at equal positions = same structure.
    Hash128 structure_key;
    Shape shape;
    // The size-only attributes (reshape sizes, slice bounds, ...), printed; usually empty.
    std::string size_attributes;
    std::source_location location;
  };

  Hash128 graph_hash;
  Hash128 structure_hash;
  // 1 for the first compile; set by RecompileExplainer::RecordCompile.
  int64_t compile_number = 0;
  std::string backend;
  std::vector<Shape> parameter_shapes;
  // Where each parameter was first used in an op (empty for graphs parsed from text).
  std::vector<std::source_location> parameter_locations;
  std::vector<Op> ops;
  std::vector<Shape> output_shapes;
};

// Captures `graph` for the history; `backend` names where it is compiled.
CompileRecord MakeCompileRecord(const Graph& graph, std::string_view backend);

// The explanation of one compile: the text, and the causes it counts for the storm
// warning and the exit summary (e.g. "input 0 shape changed"; one per differing input).
struct CompileExplanation {
  std::string text;
  std::vector<std::string> causes;
  // An earlier compile had the same StructureHash (KILN_ERROR_ON_RECOMPILE refuses it).
  bool known_structure = false;
};

// "file.cc:42 (in Function)" for a trace location: the file name without directories;
// "<unknown location>" when the location is empty (graphs parsed from text).
std::string FormatLocation(const std::source_location& location);

// The compile history and step statistics. Thread-safe; one process-wide instance
// (recompile_explainer()) is fed by the graph executor.
class RecompileExplainer {
 public:
  // The storm warning looks at the rate only after this many steps.
  static constexpr int64_t kStormMinSteps = 10;
  static constexpr double kStormCompilesPerStep = 0.5;

  // Explains compiling `record` given the history so far; records nothing.
  CompileExplanation Explain(const CompileRecord& record) const;
  // Adds an uncached compile that succeeded; returns its number (1 for the first).
  // `warmup`: compiled inside a WarmupScope (not counted toward a storm).
  int64_t RecordCompile(CompileRecord record, const CompileExplanation& explanation,
                        double compile_seconds, bool warmup = false);
  // Number of compiles recorded so far.
  int64_t num_compiles() const;
  // Number of steps recorded so far.
  int64_t num_steps() const;
  void RecordCacheHit();
  // Number of those compiles made during warm-up.
  int64_t num_warmup_compiles() const;
  // Counts one mark_step (`warmup`: inside a WarmupScope). Returns the storm warning
  // (without the "kiln: " prefix) the first time the rate of compiles outside warm-up
  // per step outside warm-up crosses the threshold, once until Clear().
  std::optional<std::string> RecordStep(bool warmup = false);

  // The latest explanation text; empty before the first compile.
  std::string last_explanation() const;
  // Steps, compiles, cache hits, total compile time and the counted causes, one item
  // per line, each line starting with "kiln: ".
  std::string Summary() const;
  // Forgets the history and the statistics (the storm warning may fire again).
  void Clear();

 private:
  std::string TopCauses(size_t limit) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  mutable Mutex mu_;
  // The latest record of each structure. Records of one structure share their op
  // sequence, so this is all a "closest previous graph" search needs, and the history
  // grows with the number of distinct structures, not with the number of compiles.
  absl::flat_hash_map<Hash128, std::shared_ptr<const CompileRecord>> latest_by_structure_
      ABSL_GUARDED_BY(mu_);
  // Cause -> count, plus first-seen order so ties print stably.
  absl::flat_hash_map<std::string, int64_t> cause_counts_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> cause_order_ ABSL_GUARDED_BY(mu_);
  std::string last_explanation_ ABSL_GUARDED_BY(mu_);
  int64_t steps_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t compiles_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t warmup_steps_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t warmup_compiles_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t cache_hits_ ABSL_GUARDED_BY(mu_) = 0;
  double compile_seconds_ ABSL_GUARDED_BY(mu_) = 0;
  bool storm_warned_ ABSL_GUARDED_BY(mu_) = false;
};

// The process-wide history used by mark_step.
RecompileExplainer& recompile_explainer();

// recompile_explainer().Summary(): what KILN_DEBUG>=1 prints at exit.
std::string compile_summary();

}  // namespace kiln
