// Quickstart: fit a linear model by gradient descent, written against the lazy API.
//
// Every step traces the same graph (forward, hand-written gradient, update) and ends
// with kiln::mark_step(). The first step compiles; the other steps hit the compile
// cache, even though the learning rate changes every step (it is a runtime scalar).
#include <cmath>
#include <cstdio>
#include <vector>

#include "lazy/kiln.h"

int main() {
  constexpr int64_t kSamples = 256, kFeatures = 8, kSteps = 50;
  kiln::Generator gen(0);

  // Data: y = x . w_true + 0.5 + noise.
  kiln::Tensor x = kiln::randn({kSamples, kFeatures}, gen);
  kiln::Tensor w_true = kiln::randn({kFeatures, 1}, gen);
  kiln::Tensor y = kiln::matmul(x, w_true) + 0.5 + kiln::randn({kSamples, 1}, gen) * 0.01;

  kiln::Tensor w = kiln::zeros({kFeatures, 1});
  kiln::Tensor b = kiln::zeros({1});
  kiln::mark_step();

  for (int64_t step = 0; step < kSteps; ++step) {
    // Cosine-decayed learning rate: a new value every step, never a recompile.
    const double lr = 0.05 + 0.05 * std::cos(M_PI * static_cast<double>(step) / kSteps);
    kiln::Tensor err = kiln::matmul(x, w) + b - y;  // [N, 1]
    kiln::Tensor loss = (err * err).mean();
    kiln::Tensor grad_w = kiln::matmul(x.transpose(0, 1), err) * (2.0 / kSamples);
    kiln::Tensor grad_b = err.sum({0}) * (2.0 / kSamples);
    w.assign_(w - grad_w * lr);
    b.assign_(b - grad_b * lr);
    kiln::mark_step();  // loss, w and b are computed here
    if (step % 10 == 0 || step == kSteps - 1) {
      std::printf("step %2lld  loss %.6f\n", static_cast<long long>(step), loss.item());
    }
  }

  const std::vector<float> learned = w.to_vector<float>();
  const std::vector<float> truth = w_true.to_vector<float>();
  double max_error = 0;
  for (size_t i = 0; i < learned.size(); ++i) {
    max_error = std::fmax(max_error, std::fabs(learned[i] - truth[i]));
  }
  std::printf("bias %.4f (true 0.5), max weight error %.4f\n", b.item(), max_error);
  std::printf("compiles %lld, cache hits %lld\n\n%s",
              static_cast<long long>(kiln::metrics::counter("UncachedCompile")),
              static_cast<long long>(kiln::metrics::counter("CachedCompile")),
              kiln::metrics::report().c_str());
  return max_error < 0.05 ? 0 : 1;
}
