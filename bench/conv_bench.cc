// nn::conv2d forward and backward on the cpu backend against one matrix product of the
// same arithmetic (the baseline, measured in the same run): [N Ho Wo, C kh kw] x
// [C kh kw, O] with both operands given and both gradients taken. The ratio is what
// slicing the input per kernel tap, the smaller products and summing them, and scattering
// the gradient back cost on top of the arithmetic. Rounds alternate the two, so that a
// noisy neighbour hits both alike; each round compiles (not timed), then times `--steps`
// steps.
//
//   build/bench/conv_bench [--rounds=N] [--steps=N]
//
// Prints per layer the median step time of each and their ratio, then one JSON line.
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

namespace {

using kiln::Tensor;
using kiln::bench::IntFlag;
using kiln::bench::Median;

struct Layer {
  const char* name;
  int64_t n, c, hw, out, k;
  kiln::nn::Conv2dOptions options;
};

double Seconds(const std::chrono::steady_clock::time_point& start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// One layer's two steps, each the sum of its output's squares, backward into both inputs.
struct Steps {
  Tensor x, weight, cols, w2d;

  explicit Steps(const Layer& l) {
    kiln::Generator gen(3);
    const auto [sh, sw] = l.options.stride;
    const auto [ph, pw] = l.options.padding;
    const int64_t ho = (l.hw + 2 * ph - l.k) / sh + 1, wo = (l.hw + 2 * pw - l.k) / sw + 1;
    x = kiln::randn({l.n, l.c, l.hw, l.hw}, gen);
    weight = kiln::randn({l.out, l.c, l.k, l.k}, gen);
    cols = kiln::randn({l.n * ho * wo, l.c * l.k * l.k}, gen);
    w2d = kiln::randn({l.c * l.k * l.k, l.out}, gen);
    for (Tensor* t : {&x, &weight, &cols, &w2d}) t->requires_grad_();
    kiln::mark_step();
  }

  double Conv(const Layer& l) {
    const auto start = std::chrono::steady_clock::now();
    x.zero_grad();
    weight.zero_grad();
    Tensor y = kiln::nn::conv2d(x, weight, Tensor(), l.options);
    (y * y).sum().backward();
    kiln::mark_step();
    return Seconds(start);
  }

  double Matmul() {
    const auto start = std::chrono::steady_clock::now();
    cols.zero_grad();
    w2d.zero_grad();
    Tensor y = kiln::matmul(cols, w2d);
    (y * y).sum().backward();
    kiln::mark_step();
    return Seconds(start);
  }
};

}  // namespace

int main(int argc, char** argv) {
  const int rounds = std::max(1, IntFlag(argc, argv, "--rounds", 5));
  const int steps = std::max(1, IntFlag(argc, argv, "--steps", 5));
  kiln::set_device("cpu");
  const std::vector<Layer> layers = {
      {"3x3 64->64 32x32", 8, 64, 32, 64, 3, {.padding = {1, 1}}},
      {"3x3/2 64->128 32x32", 8, 64, 32, 128, 3, {.stride = {2, 2}, .padding = {1, 1}}},
      {"16x16/16 3->192 224x224", 8, 3, 224, 192, 16, {.stride = {16, 16}}},
  };
  std::printf("conv2d fwd+bwd (f32) against its matmul alone: medians over %d rounds x %d steps\n",
              rounds, steps);
  std::printf("%-26s %12s %12s %8s\n", "layer (batch 8)", "conv ms", "matmul ms", "ratio");
  std::string json = "{";
  for (const Layer& l : layers) {
    Steps s(l);
    std::vector<double> conv, matmul;
    for (int round = 0; round < rounds; ++round) {
      kiln::clear_compile_cache();
      s.Conv(l);  // compiles
      for (int i = 0; i < steps; ++i) conv.push_back(s.Conv(l));
      s.Matmul();
      for (int i = 0; i < steps; ++i) matmul.push_back(s.Matmul());
    }
    const double conv_ms = Median(conv) * 1e3, matmul_ms = Median(matmul) * 1e3;
    std::printf("%-26s %12.2f %12.2f %8.2f\n", l.name, conv_ms, matmul_ms, conv_ms / matmul_ms);
    char entry[200];
    std::snprintf(entry, sizeof(entry), "%s\"%s\":{\"conv_ms\":%.3f,\"matmul_ms\":%.3f}",
                  json.size() > 1 ? "," : "", l.name, conv_ms, matmul_ms);
    json += entry;
  }
  std::printf("%s}\n", json.c_str());
  return 0;
}
