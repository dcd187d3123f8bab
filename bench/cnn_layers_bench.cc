// Pooling and normalisation layers (max_pool2d, avg_pool2d, adaptive_avg_pool2d,
// batch_norm in training, group_norm) forward and backward on the cpu backend, against
// relu forward and backward on the same input (the baseline, measured in the same run):
// one elementwise pass each way over the same data, so the ratio is what the layer's
// windows, statistics and scattered gradients cost on top of streaming its input. Rounds
// alternate the two, so that a noisy neighbour hits both alike; each round compiles (not
// timed), then times `--steps` steps.
//
//   build/bench/cnn_layers_bench [--rounds=N] [--steps=N]
//
// Prints per layer the median step time of each and their ratio, then one JSON line.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <functional>
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
  std::vector<int64_t> input;
  std::function<Tensor(const Tensor&)> forward;
};

// One step: the layer's output squared and summed, backward into x.
double Step(Tensor& x, const std::function<Tensor(const Tensor&)>& forward) {
  const auto start = std::chrono::steady_clock::now();
  x.zero_grad();
  Tensor y = forward(x);
  (y * y).sum().backward();
  kiln::mark_step();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

int main(int argc, char** argv) {
  namespace nn = kiln::nn;
  const int rounds = std::max(1, IntFlag(argc, argv, "--rounds", 5));
  const int steps = std::max(1, IntFlag(argc, argv, "--steps", 5));
  kiln::set_device("cpu");
  const std::vector<int64_t> stem = {8, 64, 56, 56};  // after a ResNet's first conv
  const std::vector<Layer> layers = {
      {"max_pool2d 3x3/2 pad 1", stem,
       [](const Tensor& x) {
         return nn::max_pool2d(x, {3, 3}, {.stride = {{2, 2}}, .padding = {1, 1}});
       }},
      {"max_pool2d 2x2", stem,
       [](const Tensor& x) {
         return nn::max_pool2d(x, {2, 2});
       }},
      {"avg_pool2d 2x2", stem,
       [](const Tensor& x) {
         return nn::avg_pool2d(x, {2, 2});
       }},
      {"adaptive_avg_pool2d 1x1",
       {8, 512, 7, 7},
       [](const Tensor& x) {
         return nn::adaptive_avg_pool2d(x, {1, 1});
       }},
      {"batch_norm (training)", stem,
       [](const Tensor& x) {
         return nn::batch_norm(x, Tensor(), Tensor(), Tensor(), Tensor(), true);
       }},
      {"group_norm 32 groups", stem, [](const Tensor& x) { return nn::group_norm(x, 32); }},
  };
  const auto relu = [](const Tensor& x) { return kiln::relu(x); };
  std::printf(
      "fwd+bwd (f32) against relu fwd+bwd on the same input: medians over %d rounds x %d "
      "steps\n",
      rounds, steps);
  std::printf("%-26s %-16s %10s %10s %8s\n", "layer", "input", "layer ms", "relu ms", "ratio");
  std::string json = "{";
  for (const Layer& l : layers) {
    kiln::Generator gen(3);
    Tensor x = kiln::randn(l.input, gen).requires_grad_();
    kiln::mark_step();
    std::vector<double> layer, baseline;
    for (int round = 0; round < rounds; ++round) {
      kiln::clear_compile_cache();
      Step(x, l.forward);  // compiles
      for (int i = 0; i < steps; ++i) layer.push_back(Step(x, l.forward));
      Step(x, relu);
      for (int i = 0; i < steps; ++i) baseline.push_back(Step(x, relu));
    }
    const double layer_ms = Median(layer) * 1e3, relu_ms = Median(baseline) * 1e3;
    std::string input;
    for (int64_t size : l.input) input += (input.empty() ? "" : "x") + std::to_string(size);
    std::printf("%-26s %-16s %10.2f %10.2f %8.2f\n", l.name, input.c_str(), layer_ms, relu_ms,
                layer_ms / relu_ms);
    char entry[200];
    std::snprintf(entry, sizeof(entry), "%s\"%s\":{\"layer_ms\":%.3f,\"relu_ms\":%.3f}",
                  json.size() > 1 ? "," : "", l.name, layer_ms, relu_ms);
    json += entry;
  }
  std::printf("%s}\n", json.c_str());
  return 0;
}
