#pragma once
// Per-kernel timings of the cpu backend (KILN_PROFILE=1), aggregated per graph and kernel
// over the whole process, printed to stderr as one table at exit:
//
//   kiln profile (cpu): 1 graphs, 19 runs after their first, 1214.558 ms in Run: ...
//   graph b355929157d8e1c89204c3828ae0118e (11 kernels): 19 runs, 63.924 ms per run
//   (first run 98.120 ms, not counted): ...
//     kernel   kind           calls   total ms    mean us   %run     GB/s  GFLOP/s
//     kiln_k0  matmul            19    117.382   6177.983    9.7     0.28    10.86
//     kiln_k1  elementwise       19     79.177   4167.201    6.5     0.63        -
//
// A graph's first run is left out of its figures once a second one exists: it first-touches
// every buffer it allocates (page faults, zeroing) and runs on cold caches, and in a short
// profiled run it would otherwise dominate the kernels that allocate the most. Its time is
// reported on its own.
//
// Graphs are listed by their total Run time, largest first; kernels in execution order
// (the order of <hash>.plan.txt under KILN_DUMP_DIR). A kernel's time runs from its
// first generated loop to its last BLAS call; "host" is the rest of Run: argument checks,
// buffer allocation and release, output copies. GB/s counts each input and output buffer
// once (a lower bound on memory traffic: scratch and cache misses are not counted);
// GFLOP/s counts 2*M*N*K per matrix product, for matmul kernels only. At-exit printing
// (rather than every N runs) keeps the hot loop's output clean; ProfileReport() gives the
// same table at any time.
//
// Thread-safe: runs on several threads record into the same graph under its mutex.
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/types/span.h"

namespace kiln::cpu {

// What the report says about one kernel besides its timings; fixed at compile time.
struct KernelProfileInfo {
  std::string name;   // the generated function's name, e.g. "kiln_k3"
  std::string kind;   // codegen::KernelKindName
  int64_t bytes = 0;  // input + output buffer bytes per call
  double flops = 0;   // per call; 0 for kernels without a matmul
};

// Totals for one kernel.
struct KernelStats {
  KernelProfileInfo info;
  int64_t calls = 0;
  double seconds = 0;
};

// Totals for one graph (all executables compiled from it).
struct GraphStats {
  std::string graph;  // Graph::hash().ToString(), as in the KILN_DUMP_DIR file names
  int64_t runs = 0;   // the runs counted here: all but the first, or the first when alone
  double run_seconds = 0;  // their whole Run calls
  double first_run_seconds = 0;
  bool first_run_counted = false;  // true while the first run is the only one
  std::vector<KernelStats> kernels;
};

// The accumulator of one graph. Created by RegisterGraphProfile; shared between the
// executables compiled from the graph and the process-wide registry (which keeps it for
// the report after the executables are gone).
class GraphProfile {
 public:
  GraphProfile(std::string graph, std::vector<KernelProfileInfo> kernels);

  // One successful Run: each kernel's seconds (in kernel order) and the whole Run's.
  void RecordRun(absl::Span<const double> kernel_seconds, double run_seconds);

  GraphStats Snapshot() const;

 private:
  mutable std::mutex mu_;
  GraphStats first_;  // guarded by mu_; the first run alone
  GraphStats stats_;  // guarded by mu_; the runs after it
};

// The profile for `graph`, shared with earlier executables of the same graph hash and
// kernel count. The first call arranges for the report to be printed at exit.
std::shared_ptr<GraphProfile> RegisterGraphProfile(const std::string& graph,
                                                   std::vector<KernelProfileInfo> kernels);

// Every registered graph's totals, largest total Run time first.
std::vector<GraphStats> ProfileSnapshot();

// The table shown above; empty when no graph was profiled.
std::string ProfileReport();

// Forgets every registered profile (for tests; live executables keep recording into
// their now-unlisted profiles).
void ClearProfilesForTesting();

}  // namespace kiln::cpu
