// Fused kernels against memory bandwidth: the cpu backend's generated code for an
// elementwise chain, layer_norm and softmax, timed by execution only, next to a copy of
// the same number of bytes (the baseline, measured in the same run: the faster of glibc's
// memcpy and a vectorised copy loop) and the same graphs on the unfused `interp` backend.
//
// Bytes processed = the minimum traffic of the op (every input read once, the output
// written once), so the "bytes_per_second" column is comparable with memcpy's (which
// reads and writes its buffer: 2 x size). Each timed iteration re-traces the same ops
// (paused, reported as the trace_us counter) and times only kiln::mark_step(), which
// hits the compile cache and runs the compiled graph (allocating its output included).
// A run that recompiles inside the timed loop is an error.
//
// At the end a summary prints the medians over the repetitions: each kernel's bandwidth
// as a fraction of the copy baseline's, and cpu/interp speedups. Dropout is timed with
// its tracing (the host-drawn baseline draws its mask there) and runs on the chain's input.
//
//   KILN_CACHE_DIR=$(mktemp -d) build/bench/fusion_bench
//   (defaults to --benchmark_repetitions=5 --benchmark_enable_random_interleaving=true;
//   KILN_NUM_THREADS sets the kernel threads, and the copy baseline uses as many)
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "backends/cpu/cpu_backend.h"
#include "bench/bench_data.h"
#include "benchmark/benchmark.h"
#include "lazy/kiln.h"

namespace {

using kiln::Tensor;

constexpr int64_t kChainElements = int64_t{1} << 24;  // 16M f32 = 64 MiB
constexpr int64_t kRows = 8192;
constexpr int64_t kCols = 2048;  // [8192, 2048] f32 = 64 MiB

using kiln::bench::HostData;

// The inputs of every benchmark on one device, made once (uploading 64 MiB per
// repetition would dominate a short run).
struct Inputs {
  Tensor chain_x;  // [16M]
  Tensor x;        // [8192, 2048]
  Tensor weight;   // [2048]
  Tensor bias;     // [2048]
};

const Inputs& InputsOn(const std::string& device) {
  static std::map<std::string, Inputs>* all = new std::map<std::string, Inputs>();
  auto it = all->find(device);
  if (it != all->end()) return it->second;
  kiln::set_device(device);
  Inputs in;
  in.chain_x = Tensor::from_vector<float>(HostData(kChainElements, 1), {kChainElements});
  in.x = Tensor::from_vector<float>(HostData(kRows * kCols, 2), {kRows, kCols});
  std::vector<float> w = HostData(kCols, 3), b = HostData(kCols, 4);
  for (auto& v : w) v = 1.0f + 0.25f * v;
  in.weight = Tensor::from_vector<float>(w, {kCols});
  in.bias = Tensor::from_vector<float>(b, {kCols});
  return all->emplace(device, std::move(in)).first->second;
}

// 8 elementwise ops, one transcendental: |(tanh(x * 1.5 + 0.25) * 0.5 + x) * x - 0.125|.
Tensor Chain(const Inputs& in) {
  const Tensor& x = in.chain_x;
  Tensor t = kiln::tanh(x * 1.5 + 0.25);
  t = t * 0.5 + x;
  return kiln::abs(t * x - 0.125);
}

// The same chain with relu in place of tanh: arithmetic only, so a memory-bound kernel
// shows here whatever tanh costs above.
Tensor ChainArith(const Inputs& in) {
  const Tensor& x = in.chain_x;
  Tensor t = kiln::relu(x * 1.5 + 0.25);
  t = t * 0.5 + x;
  return kiln::abs(t * x - 0.125);
}

Tensor LayerNorm(const Inputs& in) { return kiln::layer_norm(in.x, in.weight, in.bias, 1e-5); }

// Dropout with p = 0.1 on the chain's input, its mask drawn inside the graph (Philox in
// the kernel, nn::dropout) or, as the baseline, drawn on the host and uploaded (rand) as
// every step did before; both are timed with their tracing, where the host draw happens.
kiln::Generator& DropoutGenerator() {
  static kiln::Generator* gen = new kiln::Generator(5);
  return *gen;
}
Tensor Dropout(const Inputs& in) { return kiln::nn::dropout(in.chain_x, 0.1, DropoutGenerator()); }
Tensor DropoutHostMask(const Inputs& in) {
  const Tensor keep = kiln::rand({kChainElements}, DropoutGenerator()) < 0.9;
  return in.chain_x * (kiln::cast(keep, kiln::DType::kF32) * (1 / 0.9));
}

Tensor Softmax(const Inputs& in) { return kiln::softmax(in.x, 1); }

constexpr int64_t kChainBytes = 2 * kChainElements * 4;                 // x in, y out
constexpr int64_t kRowBytes = 2 * kRows * kCols * 4 + 2 * kCols * 4;   // x, w, b in, y out
constexpr int64_t kSoftmaxBytes = 2 * kRows * kCols * 4;                // x in, y out

// Warms the graph up (compiles on the first call), then times mark_step only, or the
// tracing too when `time_trace`.
void RunStep(benchmark::State& state, const char* device, Tensor (*trace)(const Inputs&),
             int64_t bytes, bool time_trace = false) {
  const Inputs& in = InputsOn(device);
  kiln::set_device(device);
  for (int i = 0; i < 2; ++i) {
    Tensor warm = trace(in);
    kiln::mark_step();
  }
  const int64_t compiles = kiln::metrics::counter("UncachedCompile");
  double trace_seconds = 0;
  for (auto _ : state) {
    if (!time_trace) state.PauseTiming();
    const auto t0 = std::chrono::steady_clock::now();
    Tensor out = trace(in);
    trace_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (!time_trace) state.ResumeTiming();
    kiln::mark_step();
    state.PauseTiming();
    out = Tensor();  // freeing the output is not the kernel's work
    state.ResumeTiming();
  }
  if (kiln::metrics::counter("UncachedCompile") != compiles) {
    state.SkipWithError("the step recompiled inside the timed loop");
  }
  state.SetBytesProcessed(state.iterations() * bytes);
  state.counters["trace_us"] =
      benchmark::Counter(trace_seconds * 1e6, benchmark::Counter::kAvgIterations);
  if (std::string(device) == "cpu") state.counters["threads"] = kiln::cpu::NumThreads();
}

void BM_CpuChain(benchmark::State& s) { RunStep(s, "cpu", Chain, kChainBytes); }
void BM_CpuChainArith(benchmark::State& s) { RunStep(s, "cpu", ChainArith, kChainBytes); }
void BM_CpuLayerNorm(benchmark::State& s) { RunStep(s, "cpu", LayerNorm, kRowBytes); }
void BM_CpuSoftmax(benchmark::State& s) { RunStep(s, "cpu", Softmax, kSoftmaxBytes); }
void BM_CpuDropout(benchmark::State& s) { RunStep(s, "cpu", Dropout, kChainBytes, true); }
void BM_CpuDropoutHostMask(benchmark::State& s) {
  RunStep(s, "cpu", DropoutHostMask, kChainBytes, true);
}
void BM_InterpChain(benchmark::State& s) { RunStep(s, "interp", Chain, kChainBytes); }
void BM_InterpLayerNorm(benchmark::State& s) { RunStep(s, "interp", LayerNorm, kRowBytes); }
void BM_InterpSoftmax(benchmark::State& s) { RunStep(s, "interp", Softmax, kSoftmaxBytes); }

BENCHMARK(BM_CpuChain)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_CpuChainArith)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_CpuLayerNorm)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_CpuSoftmax)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_CpuDropout)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_CpuDropoutHostMask)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_InterpChain)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_InterpLayerNorm)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_InterpSoftmax)->UseRealTime()->Unit(benchmark::kMillisecond);

// The simplest kernel a code generator could write for a copy: a loop the compiler
// vectorises (this file is built with -march=native and without GCC's rewriting of copy
// loops into memcpy calls). Where glibc's memcpy takes a slower path for large sizes
// (non-temporal stores, `rep movsb`), this loop is the higher baseline.
void VectorCopy(char* dst, const char* src, size_t size) {
  float* __restrict d = reinterpret_cast<float*>(dst);
  const float* __restrict s = reinterpret_cast<const float*>(src);
  for (size_t i = 0; i < size / sizeof(float); ++i) d[i] = s[i];
}

void LibcCopy(char* dst, const char* src, size_t size) { std::memcpy(dst, src, size); }

using CopyFn = void (*)(char*, const char*, size_t);

// copy(dst, src, size) split over `threads` threads, the calling one included.
void ParallelCopy(CopyFn copy, char* dst, const char* src, size_t size, int threads) {
  std::vector<std::thread> pool;
  const size_t chunk = (size / threads + 63) / 64 * 64;
  for (int t = 1; t < threads; ++t) {
    const size_t lo = std::min(size, t * chunk), hi = std::min(size, lo + chunk);
    pool.emplace_back([=] { copy(dst + lo, src + lo, hi - lo); });
  }
  copy(dst, src, std::min(size, chunk));
  for (auto& th : pool) th.join();
}

// The baselines: a copy of `kChainBytes` / 2 (so `kChainBytes` of traffic) into a buffer
// that is already mapped, by memcpy and by a vectorised loop. range(0) = threads (0: as
// many as the cpu backend uses).
void RunCopy(benchmark::State& state, CopyFn copy) {
  const int threads =
      state.range(0) > 0 ? static_cast<int>(state.range(0)) : kiln::cpu::NumThreads();
  const size_t size = kChainBytes / 2;
  std::vector<char> src(size, 1), dst(size, 0);
  ParallelCopy(copy, dst.data(), src.data(), size, threads);
  for (auto _ : state) {
    ParallelCopy(copy, dst.data(), src.data(), size, threads);
    benchmark::DoNotOptimize(dst.data());
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(state.iterations() * kChainBytes);
  state.counters["threads"] = threads;
}
void BM_Memcpy(benchmark::State& state) { RunCopy(state, LibcCopy); }
void BM_CopyLoop(benchmark::State& state) { RunCopy(state, VectorCopy); }
BENCHMARK(BM_Memcpy)->Arg(1)->Arg(0)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_CopyLoop)->Arg(1)->Arg(0)->UseRealTime()->Unit(benchmark::kMillisecond);

// memcpy into a freshly allocated destination each iteration, as a kiln step writes its
// output to a new buffer: the difference to BM_Memcpy is the cost of mapping (page
// faults and zeroing) 64 MiB of fresh memory.
void BM_MemcpyFreshDestination(benchmark::State& state) {
  const int threads = kiln::cpu::NumThreads();
  const size_t size = kChainBytes / 2;
  std::vector<char> src(size, 1);
  for (auto _ : state) {
    char* dst = static_cast<char*>(std::aligned_alloc(64, size));
    ParallelCopy(LibcCopy, dst, src.data(), size, threads);
    benchmark::DoNotOptimize(dst);
    benchmark::ClobberMemory();
    state.PauseTiming();
    std::free(dst);
    state.ResumeTiming();
  }
  state.SetBytesProcessed(state.iterations() * kChainBytes);
  state.counters["threads"] = threads;
}
BENCHMARK(BM_MemcpyFreshDestination)->UseRealTime()->Unit(benchmark::kMillisecond);

// Prints as the console reporter does and keeps every repetition's bytes/s by name.
class CollectingReporter : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    // The repetitions themselves, or (under --benchmark_report_aggregates_only) their
    // median aggregate.
    for (const Run& run : runs) {
      if (run.error_occurred) continue;
      auto it = run.counters.find("bytes_per_second");
      if (it == run.counters.end()) continue;
      const std::string name = run.run_name.function_name + ArgSuffix(run);
      if (run.run_type == Run::RT_Iteration) {
        rates_[name].push_back(it->second.value);
      } else if (run.aggregate_name == "median") {
        medians_[name] = it->second.value;
      }
    }
    ConsoleReporter::ReportRuns(runs);
  }

  // Median bytes/s of benchmark `name`, 0 when it did not run.
  double Median(const std::string& name) const {
    auto it = rates_.find(name);
    if (it == rates_.end() || it->second.empty()) {
      auto m = medians_.find(name);
      return m == medians_.end() ? 0 : m->second;
    }
    std::vector<double> v = it->second;
    std::sort(v.begin(), v.end());
    const size_t n = v.size();
    return n % 2 == 1 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
  }

 private:
  static std::string ArgSuffix(const Run& run) {
    return run.run_name.args.empty() ? "" : "/" + run.run_name.args;
  }
  std::map<std::string, std::vector<double>> rates_;
  std::map<std::string, double> medians_;
};

bool HasFlag(int argc, char** argv, const char* prefix) {
  for (int i = 1; i < argc; ++i) {
    if (std::strncmp(argv[i], prefix, std::strlen(prefix)) == 0) return true;
  }
  return false;
}

void PrintSummary(const CollectingReporter& r) {
  const double memcpy1 = r.Median("BM_Memcpy/1");
  const double memcpy_n = r.Median("BM_Memcpy/0");
  const double loop1 = r.Median("BM_CopyLoop/1");
  const double loop_n = r.Median("BM_CopyLoop/0");
  const double baseline = std::max({memcpy1, memcpy_n, loop1, loop_n});
  const int threads = kiln::cpu::NumThreads();
  auto gbs = [](double rate) { return rate / 1e9; };
  std::printf("\nSummary (medians over the repetitions; GB/s = 1e9 bytes/s, the table above "
              "uses 2^30; %d kernel threads)\n",
              threads);
  std::printf("  copy baseline              %7.2f GB/s  (the fastest of: memcpy 1 thread %.2f, %d "
              "threads %.2f; vector copy loop 1 thread %.2f, %d threads %.2f)\n",
              gbs(baseline), gbs(memcpy1), threads, gbs(memcpy_n), gbs(loop1), threads,
              gbs(loop_n));
  std::printf("  memcpy into a fresh buffer %7.2f GB/s\n", gbs(r.Median("BM_MemcpyFreshDestination")));
  struct Row {
    const char* label;
    const char* cpu;
    const char* interp;
    const char* target;
  };
  const Row rows[] = {
      {"chain (tanh, 8 ops)", "BM_CpuChain", "BM_InterpChain", ">= 0.70"},
      {"chain (relu, 8 ops)", "BM_CpuChainArith", nullptr, ""},
      {"layer_norm [8192,2048]", "BM_CpuLayerNorm", "BM_InterpLayerNorm", ">= 0.60"},
      {"softmax [8192,2048]", "BM_CpuSoftmax", "BM_InterpSoftmax", ""},
      {"dropout, mask in graph", "BM_CpuDropout", nullptr, ""},
      {"dropout, mask from host", "BM_CpuDropoutHostMask", nullptr, ""},
  };
  for (const Row& row : rows) {
    const double cpu = r.Median(row.cpu);
    const std::string target = row.target[0] ? std::string("(target ") + row.target + ")" : "";
    std::printf("  %-24s cpu %7.2f GB/s = %.2f of copy %-16s", row.label, gbs(cpu),
                baseline > 0 ? cpu / baseline : 0.0, target.c_str());
    if (row.interp != nullptr) {
      const double interp = r.Median(row.interp);
      std::printf("  interp %6.2f GB/s, cpu/interp %.1fx", gbs(interp),
                  interp > 0 ? cpu / interp : 0.0);
    }
    std::printf("\n");
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<char*> args(argv, argv + argc);
  std::string reps = "--benchmark_repetitions=5";
  std::string interleave = "--benchmark_enable_random_interleaving=true";
  if (!HasFlag(argc, argv, "--benchmark_repetitions")) args.push_back(reps.data());
  if (!HasFlag(argc, argv, "--benchmark_enable_random_interleaving")) {
    args.push_back(interleave.data());
  }
  int n = static_cast<int>(args.size());
  args.push_back(nullptr);
  benchmark::Initialize(&n, args.data());
  if (benchmark::ReportUnrecognizedArguments(n, args.data())) return 1;
  CollectingReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  PrintSummary(reporter);
  benchmark::Shutdown();
  return 0;
}
