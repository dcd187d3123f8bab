#pragma once
// The differential fuzzer: random graphs (random_graph.h) run on interp and on each backend
// under test from the same random inputs (differential_run.h); a graph that disagrees is
// shrunk (shrink.h) and reported as IR text for a regression test (regressions/).
//
//   const FuzzReport report = RunDifferentialFuzz({.seed = 1, .graphs = 1000});
//   std::cout << report.Summary();
//   for (const FuzzFailure& f : report.failures) std::cout << f.ir_text;
#include <cstdint>
#include <string>
#include <vector>

#include "tests/differential/random_graph.h"

namespace kiln::differential {

struct FuzzOptions {
  uint64_t seed = 1;
  // Graphs first_graph .. first_graph + graphs - 1 of the run from `seed`.
  int first_graph = 0;
  int graphs = 100;
  // Graphs run as one graph: a backend compiles a batch once, which makes thousands of
  // graphs affordable when every compile is a run of the host compiler.
  int graphs_per_batch = 40;
  std::vector<std::string> backends = {"cpu", "cuda_emulated"};
  // cuda_emulated: also compile every batch's kernels with NVRTC (cuda_emulated's default;
  // it costs about twice the emulated run's own compile).
  bool check_with_nvrtc = true;
  RandomGraphOptions graph;
};

struct FuzzFailure {
  uint64_t graph_seed = 0;  // RandomGraph(graph_seed, options.graph) gives the graph again
  std::string backend;
  std::string what;     // the first mismatch of the shrunk graph
  std::string ir_text;  // the shrunk graph (the whole one if it disagrees only in its batch)
};

struct FuzzReport {
  int graphs = 0;
  int64_t nodes = 0;
  // Graph outputs compared, summed over the backends.
  int64_t outputs_compared = 0;
  // Graphs whose reference run failed and that failed on every backend too: "graph seed:
  // error" each. The generator means to avoid this; a growing list says it has a gap.
  std::vector<std::string> failing_everywhere;
  std::vector<FuzzFailure> failures;
  // Seconds spent in each backend (compile and run), in options.backends order.
  std::vector<double> backend_seconds;

  std::string Summary(const std::vector<std::string>& backends) const;
};

// The seed of graph `index` of a run from `seed`.
uint64_t GraphSeed(uint64_t seed, int index);

// Every name in options.backends must be an available backend (GetBackend).
FuzzReport RunDifferentialFuzz(const FuzzOptions& options);

}  // namespace kiln::differential
