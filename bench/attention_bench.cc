// The NaFlex ViT's attention block (examples/naflex_vit: 4096 tokens a batch, dim 192, 3
// heads, key padding mask), forward and backward, on the cpu backend with its batched
// kernels run one batch slice at a time (KILN_BATCH_SLICING=1, the default) against the
// same graph run kernel by kernel over the whole batch (the baseline, measured in the
// same run). Rounds alternate the two modes, so that a noisy neighbour hits both alike;
// each round compiles (not timed), then times `--steps` runs of the step.
//
//   build/bench/attention_bench [--rounds=N] [--steps=N]
//   (KILN_NUM_THREADS sets the threads, as for the backend)
//
// Prints per bucket the median step time of each mode and their ratio, then one JSON line.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "bench/bench_stats.h"
#include "lazy/kiln.h"
#include "util/config.h"

namespace {

using kiln::Tensor;
using kiln::bench::IntFlag;
using kiln::bench::Median;

constexpr int64_t kTokens = 4096;
constexpr int64_t kDim = 192;
constexpr int64_t kHeads = 3;

// One bucket's step: the block's output against a fixed random target, backward into
// the block's parameters and the input.
struct Block {
  int64_t length;
  kiln::Generator gen{7};
  kiln::nn::MultiheadSelfAttention attention{kDim, kHeads, gen};
  Tensor x, target, mask;

  explicit Block(int64_t len) : length(len) {
    const int64_t batch = kTokens / len;
    x = kiln::randn({batch, len, kDim}, gen);
    target = kiln::randn({batch, len, kDim}, gen);
    // Each sample keeps a different number of its tokens (at least one).
    std::vector<float> valid(static_cast<size_t>(batch * len));
    for (int64_t b = 0; b < batch; ++b) {
      const int64_t keep = len - (b * 37) % (len / 2);
      for (int64_t t = 0; t < len; ++t) valid[b * len + t] = t < keep;
    }
    mask = Tensor::from_vector<float>(valid, {batch, len}).to(kiln::DType::kBool);
    x.requires_grad_();
    kiln::mark_step();
  }

  // Seconds for one step (trace, compile if new, run).
  double Step() {
    const auto start = std::chrono::steady_clock::now();
    attention.zero_grad();
    x.zero_grad();
    Tensor diff = attention.forward(x, mask) - target;
    (diff * diff).mean().backward();
    kiln::mark_step();
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  }
};

}  // namespace

int main(int argc, char** argv) {
  const int rounds = std::max(1, IntFlag(argc, argv, "--rounds", 5));
  const int steps = std::max(1, IntFlag(argc, argv, "--steps", 5));
  kiln::set_device("cpu");
  std::string json = "{";
  std::printf(
      "attention block fwd+bwd, %lld tokens, dim %lld, %lld heads: medians over %d rounds x %d "
      "steps\n",
      static_cast<long long>(kTokens), static_cast<long long>(kDim), static_cast<long long>(kHeads),
      rounds, steps);
  std::printf("%8s %14s %14s %8s\n", "bucket", "sliced ms", "whole ms", "ratio");
  for (int64_t length : {64, 128, 256}) {
    Block block(length);
    std::vector<double> times[2];
    for (int round = 0; round < rounds; ++round) {
      for (int sliced = 1; sliced >= 0; --sliced) {
        kiln::ScopedConfigOverride cfg;
        cfg->batch_slicing = sliced == 1;
        kiln::clear_compile_cache();
        block.Step();  // compiles
        for (int s = 0; s < steps; ++s) times[sliced].push_back(block.Step());
      }
    }
    const double sliced_ms = Median(times[1]) * 1e3;
    const double whole_ms = Median(times[0]) * 1e3;
    std::printf("%8lld %14.2f %14.2f %8.3f\n", static_cast<long long>(length), sliced_ms, whole_ms,
                whole_ms / sliced_ms);
    char entry[160];
    std::snprintf(entry, sizeof(entry), "%s\"L%lld\":{\"sliced_ms\":%.3f,\"whole_ms\":%.3f}",
                  json.size() > 1 ? "," : "", static_cast<long long>(length), sliced_ms, whole_ms);
    json += entry;
  }
  std::printf("%s}\n", json.c_str());
  return 0;
}
