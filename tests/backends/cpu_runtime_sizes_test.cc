// Runtime sizes on the cpu backend: graphs that differ only in batch or sequence size
// share compiled kernels (a new shape bucket runs no compiler), and the shared kernels
// compute the right thing at every size, against interp with fresh random inputs.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "gtest/gtest.h"
#include "lazy/composite_ops.h"
#include "lazy/creation.h"
#include "lazy/device.h"
#include "lazy/graph_executor.h"
#include "lazy/nn_attention.h"
#include "lazy/nn_functional.h"
#include "lazy/nn_transformer.h"
#include "lazy/ops.h"
#include "lazy/optim_adamw.h"
#include "lazy/tensor.h"
#include "util/metrics.h"

namespace kiln {
namespace {

using Shapes = std::vector<std::pair<int64_t, int64_t>>;  // (batch, length) per step

// What one device computed for a sequence of steps: the values, and per step how many
// libraries were not already loaded in this process (compiled by the host compiler, or
// looked up in the disk cache). Zero means every kernel's source was one already built.
struct Results {
  std::vector<std::vector<float>> values;
  std::vector<int64_t> compiles;
};

int64_t LibraryMisses() {
  return metrics::counter("HostCompile") + metrics::counter("DiskCacheHit") +
         metrics::counter("DiskCacheMiss");
}

void ExpectClose(const Results& want, const Results& got, double tol, const std::string& name) {
  ASSERT_EQ(want.values.size(), got.values.size()) << name;
  for (size_t o = 0; o < want.values.size(); ++o) {
    ASSERT_EQ(want.values[o].size(), got.values[o].size()) << name << " value " << o;
    int bad = 0;
    for (size_t i = 0; i < want.values[o].size() && bad < 5; ++i) {
      const double w = want.values[o][i], g = got.values[o][i];
      if (!(std::fabs(w - g) <= tol * std::max(1.0, std::fabs(w)))) {
        ++bad;
        ADD_FAILURE() << name << " value " << o << " element " << i << ": cpu " << g
                      << " vs interp " << w;
      }
    }
  }
}

// A key padding mask: sample b keeps its first max(1, length - 2 b) tokens.
Tensor PaddingMask(int64_t batch, int64_t length) {
  std::vector<bool> keep;
  for (int64_t b = 0; b < batch; ++b) {
    for (int64_t t = 0; t < length; ++t) keep.push_back(t < std::max<int64_t>(1, length - 2 * b));
  }
  return Tensor::from_vector<bool>(keep, {batch, length});
}

// Training steps of one transformer block (forward with a padding mask, mean-square
// loss, backward, AdamW), one per entry of `shapes`, each on fresh random inputs. Returns
// the loss and every parameter after each step.
Results TrainingSteps(const char* device, const Shapes& shapes) {
  set_device(device);
  Generator gen(77);
  nn::TransformerBlock block(32, 4, 64, gen);
  optim::AdamW opt(block.parameters(), optim::AdamWOptions{.lr = 1e-2});
  Results run;
  for (const auto& [batch, length] : shapes) {
    const int64_t before = LibraryMisses();
    opt.zero_grad();
    Tensor x = randn({batch, length, 32}, gen);
    Tensor y = block.forward(x, PaddingMask(batch, length));
    Tensor loss = (y * y).mean();
    loss.backward();
    opt.step();
    mark_step();
    run.compiles.push_back(LibraryMisses() - before);
    run.values.push_back(loss.to_vector<float>());
    for (const Tensor& p : block.parameters()) run.values.push_back(p.to_vector<float>());
  }
  set_device("interp");
  return run;
}

TEST(CpuRuntimeSizesTest, NewSequenceAndBatchSizesRunNoCompiler) {
  // Two steps at the first bucket (the first also creates the optimizer state), then new
  // buckets: a longer sequence (the first equals the head size, 8), another batch size,
  // and both.
  const Shapes shapes = {{2, 8}, {2, 8}, {2, 16}, {3, 16}, {4, 13}};
  const Results cpu = TrainingSteps("cpu", shapes);
  const Results interp = TrainingSteps("interp", shapes);
  for (size_t s = 2; s < shapes.size(); ++s) {
    EXPECT_EQ(cpu.compiles[s], 0) << "step " << s << " at batch " << shapes[s].first << ", length "
                                  << shapes[s].second;
  }
  ExpectClose(interp, cpu, 2e-4, "training steps");
}

// Softmax over either dimension, layer_norm and masked attention on x [2, length, 16].
Results Composite(const char* device, const std::vector<int64_t>& lengths) {
  set_device(device);
  Generator gen(5);
  nn::MultiheadSelfAttention attn(16, 2, gen);
  Tensor w = randn({16}, gen);
  Tensor b = randn({16}, gen);
  Results run;
  for (int64_t length : lengths) {
    const int64_t before = LibraryMisses();
    Tensor x = randn({2, length, 16}, gen);
    const std::vector<Tensor> outs = {softmax(x, 2), softmax(x, 1), log_softmax(x, 2),
                                      layer_norm(x, w, b, 1e-5),
                                      attn.forward(x, PaddingMask(2, length))};
    for (const Tensor& t : outs) run.values.push_back(t.to_vector<float>());
    run.compiles.push_back(LibraryMisses() - before);
  }
  set_device("interp");
  return run;
}

TEST(CpuRuntimeSizesTest, SoftmaxLayerNormAttentionAtManySizes) {
  const std::vector<int64_t> lengths = {1, 3, 17, 130, 2};
  const Results cpu = Composite("cpu", lengths);
  ExpectClose(Composite("interp", lengths), cpu, 1e-4, "softmax/layer_norm/attention");
  // Lengths 17, 130 and 2 reuse what length 3 compiled (1 specialises size-1 dimensions).
  for (size_t i = 2; i < lengths.size(); ++i) {
    EXPECT_EQ(cpu.compiles[i], 0) << "length " << lengths[i];
  }
}

// Softmax and masked softmax over rows of `lengths` elements, x [3, length].
Results LongRows(const char* device, const std::vector<int64_t>& lengths) {
  set_device(device);
  Generator gen(11);
  Results run;
  for (int64_t length : lengths) {
    const int64_t before = LibraryMisses();
    Tensor x = randn({3, length}, gen);
    const Tensor mask = PaddingMask(3, length);
    const std::vector<Tensor> outs = {softmax(x, 1), nn::masked_softmax(x * 4.0, mask, 1)};
    for (const Tensor& t : outs) run.values.push_back(t.to_vector<float>());
    run.compiles.push_back(LibraryMisses() - before);
  }
  set_device("interp");
  return run;
}

TEST(CpuRuntimeSizesTest, SoftmaxRowsOfOneBlockAndOfSeveral) {
  // A row of up to 1024 elements reads its exponentials back from the row sum's block;
  // a longer one computes them again (cpp_kernel_emitter.h: SummandBlock). Both run the
  // kernels the first length compiled.
  const std::vector<int64_t> lengths = {1000, 1024, 1025, 2500, 7};
  const Results cpu = LongRows("cpu", lengths);
  ExpectClose(LongRows("interp", lengths), cpu, 1e-5, "softmax rows");
  for (size_t i = 1; i < lengths.size(); ++i) {
    EXPECT_EQ(cpu.compiles[i], 0) << "length " << lengths[i];
  }
}

}  // namespace
}  // namespace kiln
