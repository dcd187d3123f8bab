// Compile time of a training step on the cpu backend: one ViT-Tiny transformer block
// (dim 192, 3 heads, MLP 768, tanh GELU) on x [B, L, 192] with a key padding mask, loss =
// mean(block(x)^2), backward and an AdamW update, all in one graph. Per repetition:
//
//   cold    the first step at L = 64 with every cache empty (an empty disk cache
//           directory, no compiled graph, no loaded library): plan, emit, run the host
//           compiler, load, run;
//   bucket  then the first step at L = 128 (a second shape bucket of the same model): a
//           new graph, but with the outer sizes as runtime arguments the generated source
//           can be the same, and then no compiler runs (see HostCompile);
//   disk    then, after dropping the in-memory graph and library caches, the step at
//           L = 64 again: the library comes from the disk cache;
//   cached  and the step once more: a compile-cache hit (trace + execute, for scale).
//
// Times are wall-clock: trace = recording forward, backward and the update; step =
// mark_step (compile + execute); compile = the CompileTime timer inside it; host cc = the
// HostCompileTime timer; graphs = UncachedCompile, hostcc = HostCompile, dhit/dmiss =
// DiskCacheHit/DiskCacheMiss. Medians over the repetitions; the first cold repetition also
// queries the compiler's identity (once per process), so it is listed on its own too.
//
// The program makes its own temporary cache directory (KILN_CACHE_DIR is overridden, as
// the cold runs empty it) and removes it at exit.
//
//   build/bench/compile_time_bench [repetitions=3] [batch=8]
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "backends/cpu/cpu_backend.h"
#include "backends/cpu/host_compiler.h"
#include "bench/bench_stats.h"
#include "lazy/kiln.h"

namespace {

using kiln::Tensor;
using kiln::bench::Median;
namespace fs = std::filesystem;

constexpr int64_t kDim = 192, kHeads = 3, kHidden = 768;

double Seconds(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// One measured step: wall times and what the caches did.
struct Sample {
  double trace = 0, step = 0, compile = 0, host_compile = 0, execute = 0;
  int64_t host_compiles = 0, disk_hits = 0, disk_misses = 0, uncached = 0;
};

struct Snapshot {
  double compile, host_compile, execute;
  int64_t host_compiles, disk_hits, disk_misses, uncached;
  static Snapshot Take() {
    using kiln::metrics::counter;
    using kiln::metrics::GetTimer;
    return {GetTimer("CompileTime")->total_seconds(), GetTimer("HostCompileTime")->total_seconds(),
            GetTimer("ExecuteTime")->total_seconds(),  counter("HostCompile"),
            counter("DiskCacheHit"),                   counter("DiskCacheMiss"),
            counter("UncachedCompile")};
  }
};

class Model {
 public:
  explicit Model(int64_t batch)
      : gen_(0),
        block_(kDim, kHeads, kHidden, gen_, 1e-6, kiln::GeluApproximation::kTanh),
        opt_(block_.parameters()),
        batch_(batch) {}

  // Traces and runs one training step at sequence length `len`.
  Sample Step(int64_t len) {
    Input& in = InputFor(len);
    const Snapshot before = Snapshot::Take();
    Sample s;
    auto t0 = std::chrono::steady_clock::now();
    opt_.zero_grad();
    Tensor y = block_.forward(in.x, in.mask);
    Tensor loss = (y * y).mean();
    loss.backward();
    opt_.step();
    s.trace = Seconds(t0);
    t0 = std::chrono::steady_clock::now();
    kiln::mark_step();
    s.step = Seconds(t0);
    const Snapshot after = Snapshot::Take();
    s.compile = after.compile - before.compile;
    s.host_compile = after.host_compile - before.host_compile;
    s.execute = after.execute - before.execute;
    s.host_compiles = after.host_compiles - before.host_compiles;
    s.disk_hits = after.disk_hits - before.disk_hits;
    s.disk_misses = after.disk_misses - before.disk_misses;
    s.uncached = after.uncached - before.uncached;
    return s;
  }

 private:
  struct Input {
    int64_t len;
    Tensor x, mask;
  };

  // x and the mask for `len`, made once (sample b keeps its first len - 4 b tokens).
  Input& InputFor(int64_t len) {
    for (Input& in : inputs_) {
      if (in.len == len) return in;
    }
    Input in{len, kiln::randn({batch_, len, kDim}, gen_), Tensor()};
    std::vector<bool> valid;
    for (int64_t b = 0; b < batch_; ++b) {
      for (int64_t t = 0; t < len; ++t) valid.push_back(t < std::max<int64_t>(1, len - 4 * b));
    }
    in.mask = Tensor::from_vector<bool>(valid, {batch_, len});
    inputs_.push_back(std::move(in));
    return inputs_.back();
  }

  kiln::Generator gen_;
  kiln::nn::TransformerBlock block_;
  kiln::optim::AdamW opt_;
  int64_t batch_;
  std::vector<Input> inputs_;
};

void EmptyDirectory(const std::string& dir) {
  for (const auto& entry : fs::directory_iterator(dir)) fs::remove_all(entry.path());
}

void DropMemoryCaches() {
  kiln::clear_compile_cache();
  kiln::cpu::ClearMemoryCacheForTesting();
}

void PrintRow(const char* name, const std::vector<Sample>& samples) {
  auto med = [&](auto field) {
    std::vector<double> v;
    for (const Sample& s : samples) v.push_back(static_cast<double>(s.*field));
    return Median(v);
  };
  std::printf("%-14s %9.1f %9.1f %9.1f %9.1f %9.1f %6.0f %6.0f %6.0f %6.0f\n", name,
              1e3 * med(&Sample::trace), 1e3 * med(&Sample::step), 1e3 * med(&Sample::compile),
              1e3 * med(&Sample::host_compile), 1e3 * med(&Sample::execute), med(&Sample::uncached),
              med(&Sample::host_compiles), med(&Sample::disk_hits), med(&Sample::disk_misses));
}

}  // namespace

int main(int argc, char** argv) {
  const int reps = argc > 1 ? std::max(1, std::atoi(argv[1])) : 3;
  const int64_t batch = argc > 2 ? std::max(1, std::atoi(argv[2])) : 8;
  const fs::path base = std::getenv("TMPDIR") != nullptr ? std::getenv("TMPDIR") : "/tmp";
  std::string dir_template = (base / "kiln_compile_bench_XXXXXX").string();
  if (mkdtemp(dir_template.data()) == nullptr) {
    std::perror("mkdtemp");
    return 1;
  }
  const std::string cache_dir = dir_template;
  setenv("KILN_CACHE_DIR", cache_dir.c_str(), 1);  // before kiln reads its configuration
  kiln::set_device("cpu");

  Model model(batch);
  std::vector<Sample> cold, bucket, disk, cached;
  for (int r = 0; r < reps; ++r) {
    EmptyDirectory(cache_dir);
    DropMemoryCaches();
    cold.push_back(model.Step(64));
    bucket.push_back(model.Step(128));
    DropMemoryCaches();
    disk.push_back(model.Step(64));
    cached.push_back(model.Step(64));
    std::fprintf(stderr, "repetition %d: cold %.2f s, bucket %.2f s, disk %.2f s, cached %.3f s\n",
                 r + 1, cold.back().step, bucket.back().step, disk.back().step,
                 cached.back().step);
  }
  size_t entries = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(cache_dir)) ++entries;

  std::printf("TransformerBlock(192, 3 heads, MLP 768, gelu tanh) training step, x [%lld, L, 192]"
              " + padding mask, AdamW; cpu, %d threads\n",
              static_cast<long long>(batch), kiln::cpu::NumThreads());
  std::printf("medians over %d repetitions; milliseconds; counts are per step\n", reps);
  std::printf("%-14s %9s %9s %9s %9s %9s %6s %6s %6s %6s\n", "", "trace", "step", "compile",
              "host cc", "execute", "graphs", "hostcc", "dhit", "dmiss");
  PrintRow("cold L=64", cold);
  PrintRow("bucket L=128", bucket);
  PrintRow("disk L=64", disk);
  PrintRow("cached L=64", cached);
  std::printf("first cold step (with the one-time compiler identity query): %.1f ms\n",
              1e3 * cold.front().step);
  std::printf("disk cache entries after the last repetition: %zu\n", entries);
  fs::remove_all(cache_dir);
  return 0;
}
