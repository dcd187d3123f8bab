#pragma once
// One graph run on two backends from the same random inputs, every output element
// compared.
//
//   const Inputs inputs = RandomInputs(graph, seed);
//   const RunResult want = RunGraph(*GetBackend("interp").value(), graph, inputs);
//   const RunResult got = RunGraph(*GetBackend("cpu").value(), graph, inputs);
//   for (const Mismatch& m : CompareRuns(graph, want, got)) ...
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "backends/backend.h"
#include "ir/graph.h"

namespace kiln::differential {

// One entry per Graph::parameters(): a DeviceData's elements, or a Scalar's one value.
using Inputs = std::vector<std::vector<double>>;
// One entry per Graph::outputs(), every element as f64 (integers and bools exactly).
using Outputs = std::vector<std::vector<double>>;

// Inputs drawn from `seed` in the ranges value_ranges.h assumes. An integer parameter
// that is (through casts and views) the index operand of gather, index_select or
// scatter_add is drawn in [0, size of the indexed dimension), so the graph indexes in
// range. A Scalar keeps the value its leaf carries (0 in a graph parsed from text).
Inputs RandomInputs(const Graph& graph, uint64_t seed);

struct RunResult {
  absl::Status status;  // the compile or run error, if any
  Outputs outputs;
};

// Compiles `graph` on `backend` and runs it on `inputs`.
RunResult RunGraph(Backend& backend, const Graph& graph, const Inputs& inputs);

// The reference run: `graph` on interp, and for every output the largest finite magnitude
// among the values it is computed from (itself included), which scales its tolerance: an
// output that cancels large intermediates is only as accurate as they are.
struct Reference {
  RunResult result;
  std::vector<double> scales;
};
Reference RunReference(const Graph& graph, const Inputs& inputs);

struct Mismatch {
  int output = -1;   // the graph output that differs; -1 when only one run failed
  std::string what;  // which element, both values and the tolerance, or the error
};

// Where `got` disagrees with the reference `want`. Floats agree within
// 1e-3 * |want| + 1e-4 * max(1, scale), or 1e-9 and 1e-10 when the graph computes nothing
// in f32; NaN must meet NaN, an infinity the same infinity; integers and bools must be
// equal. Both runs failing is agreement (an index out of range reaches every backend);
// one failing is a mismatch.
std::vector<Mismatch> CompareRuns(const Graph& graph, const Reference& want, const RunResult& got);

}  // namespace kiln::differential
