// kiln_difffuzz: a long differential fuzzing run (the test suite runs a short one).
//
//   kiln_difffuzz [--graphs N] [--seed S] [--batch B] [--backends cpu,cuda_emulated]
//                 [--out DIR] [--no-nvrtc] [--max-ops N]
//   kiln_difffuzz --seed S --show I     prints graph I of the run from S and exits
//   kiln_difffuzz --replay FILE [--seed S] [--backends ...]
//                                        runs a graph's IR text file against interp
//
// Prints a summary after every 20 batches and, for every mismatch, its shrunk graph; with
// --out, each shrunk graph is also written to DIR/<backend>_<graph seed>.txt, ready to be
// copied to tests/differential/regressions/. Exits 1 when any graph disagreed.
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "ir/ir_text.h"
#include "tests/differential/differential_fuzz.h"
#include "tests/differential/differential_run.h"

namespace {

int Usage() {
  std::cerr << "usage: kiln_difffuzz [--graphs N] [--seed S] [--batch B] "
               "[--backends cpu,cuda_emulated] [--out DIR] [--no-nvrtc] [--max-ops N] [--show I] "
               "[--replay FILE]\n";
  return 2;
}

// Runs the graph in `path` on every backend of `options` from inputs drawn from its seed.
int Replay(const std::string& path, const kiln::differential::FuzzOptions& options) {
  std::ifstream file(path);
  std::stringstream text;
  text << file.rdbuf();
  const absl::StatusOr<kiln::Graph> graph = kiln::ParseGraph(text.str());
  if (!file || !graph.ok()) {
    std::cerr << path << ": " << (file ? graph.status().ToString() : "cannot read") << "\n";
    return 2;
  }
  using namespace kiln::differential;
  const Inputs inputs = RandomInputs(*graph, options.seed);
  const Reference want = RunReference(*graph, inputs);
  int mismatches = 0;
  for (const std::string& name : options.backends) {
    const RunResult got = RunGraph(*kiln::GetBackend(name).value(), *graph, inputs);
    for (const Mismatch& m : CompareRuns(*graph, want, got)) {
      std::cout << name << ": " << m.what << "\n";
      ++mismatches;
    }
  }
  std::cout << (mismatches ? "" : "every backend agrees with interp\n");
  return mismatches ? 1 : 0;
}

}  // namespace

int main(int argc, char** argv) {
  kiln::differential::FuzzOptions options;
  options.graphs = 2000;
  std::string out_dir;
  int show = -1;
  std::string replay;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (flag == "--no-nvrtc") {  // cuda_emulated: skip compiling the kernels with NVRTC too
      options.check_with_nvrtc = false;
      continue;
    }
    if (i + 1 >= argc) return Usage();
    const std::string value = argv[++i];
    if (flag == "--graphs") {
      options.graphs = std::atoi(value.c_str());
    } else if (flag == "--seed") {
      options.seed = std::strtoull(value.c_str(), nullptr, 10);
    } else if (flag == "--batch") {
      options.graphs_per_batch = std::atoi(value.c_str());
    } else if (flag == "--backends") {
      options.backends = absl::StrSplit(value, ',');
    } else if (flag == "--max-ops") {
      options.graph.max_ops = std::atoi(value.c_str());
    } else if (flag == "--show") {
      show = std::atoi(value.c_str());
    } else if (flag == "--replay") {
      replay = value;
    } else if (flag == "--out") {
      out_dir = value;
    } else {
      return Usage();
    }
  }
  if (options.graphs <= 0 || options.graphs_per_batch <= 0 || options.graph.max_ops <= 0) {
    return Usage();
  }
  for (const std::string& name : options.backends) {
    if (const absl::StatusOr<kiln::Backend*> backend = kiln::GetBackend(name); !backend.ok()) {
      std::cerr << backend.status().message() << "\n";
      return 2;
    }
  }
  if (show >= 0) {
    std::cout << kiln::PrintGraph(kiln::differential::RandomGraph(
        kiln::differential::GraphSeed(options.seed, show), options.graph));
    return 0;
  }

  if (!replay.empty()) return Replay(replay, options);

  // Steps of at most 20 batches, so a long run shows its progress.
  const int step = 20 * options.graphs_per_batch;
  kiln::differential::FuzzReport total;
  for (int done = 0; done < options.graphs; done += step) {
    kiln::differential::FuzzOptions part = options;
    part.first_graph = done;
    part.graphs = std::min(step, options.graphs - done);
    const kiln::differential::FuzzReport report = RunDifferentialFuzz(part);
    total.graphs += report.graphs;
    total.nodes += report.nodes;
    total.outputs_compared += report.outputs_compared;
    for (const std::string& failed : report.failing_everywhere) {
      std::cout << "failed on every backend, graph seed " << failed << "\n";
      total.failing_everywhere.push_back(failed);
    }
    total.backend_seconds.resize(report.backend_seconds.size());
    for (size_t b = 0; b < report.backend_seconds.size(); ++b) {
      total.backend_seconds[b] += report.backend_seconds[b];
    }
    for (const kiln::differential::FuzzFailure& f : report.failures) {
      std::cout << "MISMATCH on " << f.backend << " (graph seed " << f.graph_seed << "): " << f.what
                << "\n"
                << f.ir_text << "\n";
      if (!out_dir.empty()) {
        std::ofstream(absl::StrCat(out_dir, "/", f.backend, "_", f.graph_seed, ".txt"))
            << f.ir_text;
      }
      total.failures.push_back(f);
    }
    std::cout << total.Summary(options.backends) << std::flush;
  }
  return total.failures.empty() ? 0 : 1;
}
