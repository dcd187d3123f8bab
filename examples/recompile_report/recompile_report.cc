// Why does my training recompile? Run with KILN_DEBUG=1 to see kiln explain it:
//
//   KILN_DEBUG=1 build/examples/recompile_report/recompile_report
//
// The loop below feeds a new sequence length every step (what a naive NaFlex data
// loader does) and changes the model code in the last step. Each compile is explained
// ("same graph structure; input 1 shape f32[4,16] -> f32[5,16]", "new graph structure;
// first divergence ... traced at recompile_report.cc:NN"), the storm of shape-driven
// recompiles is reported with its top cause, and a summary is printed at exit.
#include <cstdio>

#include "lazy/kiln.h"

namespace {

kiln::Tensor Loss(const kiln::Tensor& x, const kiln::Tensor& w, bool with_relu) {
  kiln::Tensor h = kiln::matmul(x, w);
  if (with_relu) h = kiln::relu(h);
  return kiln::softmax(h, -1).max({1}).mean();
}

}  // namespace

int main() {
  kiln::Generator gen(1);
  kiln::Tensor w = kiln::randn({16, 8}, gen);
  kiln::mark_step();
  constexpr int kSteps = 14;
  for (int step = 0; step < kSteps; ++step) {
    const int64_t tokens = 4 + step;  // a new sequence length every step
    kiln::Tensor x = kiln::randn({tokens, 16}, gen);
    kiln::Tensor loss = Loss(x, w, /*with_relu=*/step == kSteps - 1);
    kiln::mark_step();
    std::printf("step %2d: %lld tokens, loss %.4f\n", step, static_cast<long long>(tokens),
                loss.item());
  }
  std::printf("\ncompiles %lld, cache hits %lld\n",
              static_cast<long long>(kiln::metrics::counter("UncachedCompile")),
              static_cast<long long>(kiln::metrics::counter("CachedCompile")));
  return 0;
}
