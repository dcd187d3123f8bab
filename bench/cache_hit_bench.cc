// The cache-hit path of a barrier without execution: Graph::Build over the pending
// tensors, the graph hash and the compile-cache lookup (ProbeCompileCache does exactly
// what mark_step does before running). The graph is compiled once, outside the timed
// loop. Items processed = graph nodes.
//
//   build/bench/cache_hit_bench --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
#include <cstdint>
#include <vector>

#include "benchmark/benchmark.h"
#include "lazy/compile_cache.h"
#include "lazy/kiln.h"

namespace {

using kiln::Tensor;

Tensor Small(float start) {
  std::vector<float> data(16);
  for (size_t i = 0; i < data.size(); ++i) data[i] = start + 0.25f * static_cast<float>(i);
  return Tensor::from_vector<float>(data, {4, 4});
}

// A chain of `ops` elementwise ops on two leaves: ops + 2 nodes.
Tensor Chain(const Tensor& x, const Tensor& y, int64_t ops) {
  Tensor t = x;
  for (int64_t i = 0; i < ops; i += 2) {
    t = t + y;
    t = t * y;
  }
  return t;
}

void BM_CacheHitLookup(benchmark::State& state) {
  const Tensor x = Small(1);
  const Tensor y = Small(0.001f);
  {
    Tensor warm = Chain(x, y, state.range(0));
    kiln::mark_step();  // compiles once
  }
  const Tensor t = Chain(x, y, state.range(0));
  int64_t nodes = 0;
  for (auto _ : state) {
    const kiln::CacheProbe probe = kiln::ProbeCompileCache({t});
    if (!probe.hit) state.SkipWithError("expected a compile-cache hit");
    nodes = probe.num_nodes;
    benchmark::DoNotOptimize(probe);
  }
  state.counters["nodes"] = static_cast<double>(nodes);
  state.SetItemsProcessed(state.iterations() * nodes);
}
BENCHMARK(BM_CacheHitLookup)->Arg(998)->Unit(benchmark::kMicrosecond);

// Graph::Build alone (the walk and the hash), for comparison with the full lookup.
void BM_GraphBuild(benchmark::State& state) {
  const Tensor x = Small(1);
  const Tensor y = Small(0.001f);
  const Tensor t = Chain(x, y, state.range(0));
  int64_t nodes = 0;
  for (auto _ : state) {
    kiln::Graph g = kiln::Graph::Build({t.value()});
    nodes = g.num_nodes();
    benchmark::DoNotOptimize(g.hash());
  }
  state.SetItemsProcessed(state.iterations() * nodes);
}
BENCHMARK(BM_GraphBuild)->Arg(998)->Unit(benchmark::kMicrosecond);

// A whole cached mark_step on tiny tensors, execution on the reference interpreter
// included; re-tracing the step is excluded.
void BM_CachedMarkStep(benchmark::State& state) {
  const Tensor x = Small(1);
  const Tensor y = Small(0.001f);
  {
    Tensor warm = Chain(x, y, state.range(0));
    kiln::mark_step();
  }
  for (auto _ : state) {
    state.PauseTiming();
    Tensor t = Chain(x, y, state.range(0));
    state.ResumeTiming();
    kiln::mark_step();
    state.PauseTiming();
    t = Tensor();
    state.ResumeTiming();
  }
  state.SetItemsProcessed(state.iterations() * (state.range(0) + 2));
}
BENCHMARK(BM_CachedMarkStep)->Arg(998)->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
