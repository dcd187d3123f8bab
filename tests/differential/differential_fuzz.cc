#include "tests/differential/differential_fuzz.h"

#include <chrono>
#include <optional>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "backends/cuda/cuda_backend.h"
#include "backends/cuda/emulated_device.h"
#include "ir/ir_text.h"
#include "tests/differential/differential_run.h"
#include "tests/differential/shrink.h"
#include "util/hash.h"

namespace kiln::differential {
namespace {

double Seconds(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count();
}

// The first mismatch of `graph` on `backend` against interp, from inputs drawn from `seed`.
std::optional<Mismatch> FirstMismatch(Backend& backend, const Graph& graph, uint64_t seed) {
  const Inputs inputs = RandomInputs(graph, seed);
  const std::vector<Mismatch> mismatches =
      CompareRuns(graph, RunReference(graph, inputs), RunGraph(backend, graph, inputs));
  if (mismatches.empty()) return std::nullopt;
  return mismatches.front();
}

// Records a graph that disagreed on `backend` inside its batch (`batch_mismatch`): shrunk
// when it disagrees on its own too, whole otherwise.
void ReportFailure(Backend& backend, uint64_t graph_seed, const Graph& graph,
                   const std::string& batch_mismatch, FuzzReport& report) {
  FuzzFailure failure;
  failure.graph_seed = graph_seed;
  failure.backend = backend.name();
  if (FirstMismatch(backend, graph, graph_seed).has_value()) {
    const Graph small = ShrinkGraph(
        graph, [&](const Graph& g) { return FirstMismatch(backend, g, graph_seed).has_value(); });
    failure.what = FirstMismatch(backend, small, graph_seed).value().what;
    failure.ir_text = PrintGraph(small);
  } else {
    failure.what = absl::StrCat("only inside its batch: ", batch_mismatch);
    failure.ir_text = PrintGraph(graph);
  }
  report.failures.push_back(std::move(failure));
}

// A batch of graphs run as one graph.
struct Batch {
  std::vector<Graph> graphs;
  std::vector<uint64_t> seeds;
  std::vector<int> graph_of_output;  // which graph each output of `all` comes from
  Graph all;
};

Batch MakeBatch(const FuzzOptions& options, int first, int count) {
  Batch batch;
  std::vector<Value> outputs;
  for (int i = 0; i < count; ++i) {
    batch.seeds.push_back(GraphSeed(options.seed, first + i));
    batch.graphs.push_back(RandomGraph(batch.seeds.back(), options.graph));
    for (const Value& out : batch.graphs.back().outputs()) {
      outputs.push_back(out);
      batch.graph_of_output.push_back(i);
    }
  }
  batch.all = Graph::Build(std::move(outputs));
  return batch;
}

// Compares each graph of `batch` on its own: when some graph fails on interp (which the
// generator means to avoid) and the batch with it, so that the others are still compared.
void CompareEachAlone(Backend& backend, const Batch& batch, bool first_backend,
                      FuzzReport& report) {
  for (size_t i = 0; i < batch.graphs.size(); ++i) {
    const Graph& graph = batch.graphs[i];
    const Inputs inputs = RandomInputs(graph, batch.seeds[i]);
    const Reference want = RunReference(graph, inputs);
    const std::vector<Mismatch> mismatches =
        CompareRuns(graph, want, RunGraph(backend, graph, inputs));
    report.outputs_compared += static_cast<int64_t>(graph.outputs().size());
    if (!want.result.status.ok() && first_backend) {
      report.failing_everywhere.push_back(
          absl::StrCat(batch.seeds[i], ": ", want.result.status.message()));
    }
    if (!mismatches.empty()) {
      ReportFailure(backend, batch.seeds[i], graph, mismatches.front().what, report);
    }
  }
}

// Compares the batch as one graph, then reports the graphs behind its mismatches.
void CompareBatch(Backend& backend, const Batch& batch, const Inputs& inputs,
                  const Reference& reference, FuzzReport& report) {
  const std::vector<Mismatch> mismatches =
      CompareRuns(batch.all, reference, RunGraph(backend, batch.all, inputs));
  report.outputs_compared += static_cast<int64_t>(batch.all.outputs().size());
  if (!mismatches.empty() && mismatches.front().output < 0) {
    // Only the backend failed, naming no output: the graphs that fail alone.
    const size_t before = report.failures.size();
    for (size_t i = 0; i < batch.graphs.size(); ++i) {
      if (FirstMismatch(backend, batch.graphs[i], batch.seeds[i]).has_value()) {
        ReportFailure(backend, batch.seeds[i], batch.graphs[i], mismatches.front().what, report);
      }
    }
    if (report.failures.size() == before) {
      report.failures.push_back({batch.seeds[0], backend.name(),
                                 "only as a batch: " + mismatches.front().what,
                                 PrintGraph(batch.all)});
    }
    return;
  }
  std::vector<bool> reported(batch.graphs.size(), false);
  for (const Mismatch& m : mismatches) {
    const int i = batch.graph_of_output[m.output];
    if (reported[i]) continue;
    reported[i] = true;
    ReportFailure(backend, batch.seeds[i], batch.graphs[i], m.what, report);
  }
}

}  // namespace

uint64_t GraphSeed(uint64_t seed, int index) {
  return HashString(absl::StrCat("graph ", seed, " ", index)).low;
}

std::string FuzzReport::Summary(const std::vector<std::string>& backends) const {
  std::string times;
  for (size_t b = 0; b < backends.size() && b < backend_seconds.size(); ++b) {
    absl::StrAppend(&times, b ? ", " : "", backends[b], " ",
                    static_cast<int>(backend_seconds[b] + 0.5), " s");
  }
  return absl::StrCat(graphs, " graphs (", nodes, " nodes), ", outputs_compared,
                      " outputs compared against interp on ", absl::StrJoin(backends, ", "), " (",
                      times, "); ", failing_everywhere.size(), " graphs failed alike everywhere; ",
                      failures.size(), " mismatches\n");
}

FuzzReport RunDifferentialFuzz(const FuzzOptions& options) {
  FuzzReport report;
  std::vector<Backend*> backends;
  std::vector<cuda::EmulatedDevice*> emulated;
  for (const std::string& name : options.backends) {
    backends.push_back(GetBackend(name).value());
    if (auto* cuda = dynamic_cast<cuda::CudaBackend*>(backends.back())) {
      if (auto* device = dynamic_cast<cuda::EmulatedDevice*>(cuda->device())) {
        device->SetCheckWithNvrtc(options.check_with_nvrtc);
        emulated.push_back(device);
      }
    }
  }
  report.backend_seconds.assign(backends.size(), 0);

  const int end = options.first_graph + options.graphs;
  for (int first = options.first_graph; first < end; first += options.graphs_per_batch) {
    const Batch batch = MakeBatch(options, first, std::min(options.graphs_per_batch, end - first));
    report.graphs += static_cast<int>(batch.graphs.size());
    report.nodes += batch.all.num_nodes();
    const Inputs inputs = RandomInputs(batch.all, GraphSeed(options.seed, -1 - first));
    const Reference reference = RunReference(batch.all, inputs);
    for (size_t b = 0; b < backends.size(); ++b) {
      const auto start = std::chrono::steady_clock::now();
      if (reference.result.status.ok()) {
        CompareBatch(*backends[b], batch, inputs, reference, report);
      } else {
        CompareEachAlone(*backends[b], batch, b == 0, report);
      }
      report.backend_seconds[b] += Seconds(start);
    }
  }
  for (cuda::EmulatedDevice* device : emulated) device->SetCheckWithNvrtc(true);
  return report;
}

}  // namespace kiln::differential
