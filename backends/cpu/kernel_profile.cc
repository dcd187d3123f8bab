#include "backends/cpu/kernel_profile.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace kiln::cpu {
namespace {

struct Registry {
  std::mutex mu;
  std::vector<std::shared_ptr<GraphProfile>> graphs;  // guarded by mu; registration order
  std::vector<std::string> hashes;                    // guarded by mu; parallel to graphs
};

Registry& registry() {
  // Never destroyed, so the atexit report can still read it.
  static auto* r = [] {
    auto* reg = new Registry;
    std::atexit([] {
      const std::string report = ProfileReport();
      if (!report.empty()) std::fputs(report.c_str(), stderr);
    });
    return reg;
  }();
  return *r;
}

bool IsMatmul(const KernelStats& k) { return k.info.kind == "matmul"; }

// "matmul 61.2%, fused 30.1%, host 8.7%" of `run_seconds`.
std::string Split(double matmul, double fused, double run_seconds) {
  const double host = std::max(0.0, run_seconds - matmul - fused);
  const double scale = run_seconds > 0 ? 100.0 / run_seconds : 0.0;
  return absl::StrFormat("matmul %.1f%%, fused %.1f%%, host %.1f%%", matmul * scale, fused * scale,
                         host * scale);
}

std::string Rate(double amount, double seconds, double unit) {
  if (amount <= 0 || seconds <= 0) return "-";
  return absl::StrFormat("%.2f", amount / seconds / unit);
}

}  // namespace

GraphProfile::GraphProfile(std::string graph, std::vector<KernelProfileInfo> kernels) {
  stats_.graph = std::move(graph);
  for (KernelProfileInfo& info : kernels) stats_.kernels.push_back({std::move(info), 0, 0});
  first_ = stats_;
}

void GraphProfile::RecordRun(absl::Span<const double> kernel_seconds, double run_seconds) {
  std::lock_guard<std::mutex> lock(mu_);
  GraphStats& into = first_.runs == 0 ? first_ : stats_;
  ++into.runs;
  into.run_seconds += run_seconds;
  const size_t n = std::min(kernel_seconds.size(), into.kernels.size());
  for (size_t k = 0; k < n; ++k) {
    ++into.kernels[k].calls;
    into.kernels[k].seconds += kernel_seconds[k];
  }
}

GraphStats GraphProfile::Snapshot() const {
  std::lock_guard<std::mutex> lock(mu_);
  GraphStats stats = stats_.runs > 0 ? stats_ : first_;
  stats.first_run_seconds = first_.run_seconds;
  stats.first_run_counted = stats_.runs == 0;
  return stats;
}

std::shared_ptr<GraphProfile> RegisterGraphProfile(const std::string& graph,
                                                   std::vector<KernelProfileInfo> kernels) {
  Registry& r = registry();
  std::lock_guard<std::mutex> lock(r.mu);
  for (size_t i = 0; i < r.graphs.size(); ++i) {
    // The same graph compiles to the same plan; a kernel count mismatch (a changed
    // planner within one process is impossible, but be safe) gets its own entry.
    if (r.hashes[i] == graph && r.graphs[i]->Snapshot().kernels.size() == kernels.size()) {
      return r.graphs[i];
    }
  }
  r.graphs.push_back(std::make_shared<GraphProfile>(graph, std::move(kernels)));
  r.hashes.push_back(graph);
  return r.graphs.back();
}

std::vector<GraphStats> ProfileSnapshot() {
  std::vector<std::shared_ptr<GraphProfile>> graphs;
  {
    Registry& r = registry();
    std::lock_guard<std::mutex> lock(r.mu);
    graphs = r.graphs;
  }
  std::vector<GraphStats> stats;
  for (const auto& g : graphs) stats.push_back(g->Snapshot());
  std::stable_sort(stats.begin(), stats.end(), [](const GraphStats& a, const GraphStats& b) {
    return a.run_seconds > b.run_seconds;
  });
  return stats;
}

std::string ProfileReport() {
  std::vector<GraphStats> graphs = ProfileSnapshot();
  graphs.erase(
      std::remove_if(graphs.begin(), graphs.end(), [](const GraphStats& g) { return g.runs == 0; }),
      graphs.end());
  if (graphs.empty()) return "";
  int64_t runs = 0;
  double run_seconds = 0, matmul = 0, fused = 0;
  size_t name_width = 6;
  for (const GraphStats& g : graphs) {
    runs += g.runs;
    run_seconds += g.run_seconds;
    for (const KernelStats& k : g.kernels) {
      (IsMatmul(k) ? matmul : fused) += k.seconds;
      name_width = std::max(name_width, k.info.name.size());
    }
  }
  const int w = static_cast<int>(name_width);
  std::string out = absl::StrFormat(
      "kiln profile (cpu): %d graphs, %d runs after their first, %.3f ms in Run: %s\n",
      graphs.size(), runs, run_seconds * 1e3, Split(matmul, fused, run_seconds));
  for (const GraphStats& g : graphs) {
    double g_matmul = 0, g_fused = 0;
    for (const KernelStats& k : g.kernels) (IsMatmul(k) ? g_matmul : g_fused) += k.seconds;
    const std::string first =
        g.first_run_counted
            ? "the first, with its warm-up"
            : absl::StrFormat("first run %.3f ms, not counted", g.first_run_seconds * 1e3);
    absl::StrAppendFormat(&out, "graph %s (%d kernels): %d runs, %.3f ms per run (%s): %s\n",
                          g.graph, g.kernels.size(), g.runs, g.run_seconds * 1e3 / g.runs, first,
                          Split(g_matmul, g_fused, g.run_seconds));
    absl::StrAppendFormat(&out, "  %-*s %-12s %7s %10s %10s %6s %8s %8s\n", w, "kernel", "kind",
                          "calls", "total ms", "mean us", "%run", "GB/s", "GFLOP/s");
    for (const KernelStats& k : g.kernels) {
      const double mean = k.calls > 0 ? k.seconds / k.calls : 0;
      const double share = g.run_seconds > 0 ? 100 * k.seconds / g.run_seconds : 0;
      absl::StrAppendFormat(&out, "  %-*s %-12s %7d %10.3f %10.3f %6.1f %8s %8s\n", w, k.info.name,
                            k.info.kind, k.calls, k.seconds * 1e3, mean * 1e6, share,
                            Rate(double(k.info.bytes) * k.calls, k.seconds, 1e9),
                            Rate(k.info.flops * k.calls, k.seconds, 1e9));
    }
  }
  return out;
}

void ClearProfilesForTesting() {
  Registry& r = registry();
  std::lock_guard<std::mutex> lock(r.mu);
  r.graphs.clear();
  r.hashes.clear();
}

}  // namespace kiln::cpu
