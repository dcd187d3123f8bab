#pragma once
// Per-kernel timings of the cpu backend (KILN_PROFILE=1), aggregated per graph and kernel
// over the whole process, printed to stderr as one table at exit:
//
//   kiln profile (cpu): 1 graphs, 20 runs, 1278.482 ms in Run: matmul 64.7%, fused 35.0%, ...
//   graph b355929157d8e1c89204c3828ae0118e (11 kernels): 20 runs, 63.924 ms per run: ...
//     kernel   kind           calls   total ms    mean us   %run     GB/s  GFLOP/s
//     kiln_k0  matmul            20    123.560   6177.983    9.7     0.28    10.86
//     kiln_k1  elementwise       20     83.344   4167.201    6.5     0.63        -
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
  int64_t runs = 0;
  double run_seconds = 0;  // whole Run calls
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
  GraphStats stats_;  // guarded by mu_
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
