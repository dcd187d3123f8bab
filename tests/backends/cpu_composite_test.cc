// Composite graphs through the lazy API on the cpu backend against interp: softmax,
// layer_norm, masked attention, an MLP, a transformer block forward and backward, and a
// full AdamW step. Each runs once per device from the same seed; the results must agree
// within the stated tolerance (f32 math, f32 accumulation vs interp's f64 accumulation).
#include <dlfcn.h>

#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "backends/cpu/cpu_backend.h"
#include "gtest/gtest.h"
#include "lazy/composite_ops.h"
#include "lazy/creation.h"
#include "lazy/device.h"
#include "lazy/graph_executor.h"
#include "lazy/nn_attention.h"
#include "lazy/nn_functional.h"
#include "lazy/nn_mlp.h"
#include "lazy/nn_transformer.h"
#include "lazy/ops.h"
#include "lazy/optim_adamw.h"
#include "lazy/tensor.h"
#include "tests/backends/cpu_parity_util.h"
#include "util/config.h"

namespace kiln {
namespace {

using CpuCompositeTest = ::kiln::testing::PoisonedCpuTest;

// The composites' inputs come from their own seed.
void ExpectSameOnBoth(const std::function<std::vector<Tensor>(Generator&)>& fn, double tol,
                      const std::string& name) {
  ::kiln::testing::ExpectCpuMatchesInterp(fn, tol, name, /*seed=*/1234);
}

TEST_F(CpuCompositeTest, SoftmaxAndLayerNorm) {
  ExpectSameOnBoth(
      [](Generator& gen) {
        Tensor x = randn({16, 300}, gen);
        Tensor w = randn({300}, gen);
        Tensor b = randn({300}, gen);
        return std::vector<Tensor>{softmax(x, 1), softmax(x, 0), log_softmax(x, 1),
                                   layer_norm(x, w, b, 1e-5)};
      },
      1e-5, "softmax/layer_norm");
}

TEST_F(CpuCompositeTest, AttentionWithPaddingMask) {
  ExpectSameOnBoth(
      [](Generator& gen) {
        nn::MultiheadSelfAttention attn(32, 4, gen);
        Tensor x = randn({3, 7, 32}, gen);
        std::vector<bool> keep(3 * 7);
        for (int i = 0; i < 21; ++i) keep[i] = (i % 7) < 7 - (i / 7) * 2;
        Tensor mask = Tensor::from_vector<bool>(keep, {3, 7});
        return std::vector<Tensor>{attn.forward(x, mask)};
      },
      1e-4, "attention");
}

TEST_F(CpuCompositeTest, MlpForward) {
  ExpectSameOnBoth(
      [](Generator& gen) {
        nn::MLP mlp(24, 64, 24, gen);
        return std::vector<Tensor>{mlp.forward(randn({5, 9, 24}, gen))};
      },
      1e-4, "mlp");
}

TEST_F(CpuCompositeTest, TransformerBlockForwardAndBackward) {
  ExpectSameOnBoth(
      [](Generator& gen) {
        nn::TransformerBlock block(32, 4, 64, gen);
        Tensor x = randn({2, 6, 32}, gen);
        x.requires_grad_();
        Tensor y = block.forward(x);
        Tensor loss = (y * y).mean();
        loss.backward();
        std::vector<Tensor> out = {y, loss, x.grad()};
        for (const Tensor& p : block.parameters()) out.push_back(p.grad());
        return out;
      },
      2e-4, "transformer block");
}

TEST_F(CpuCompositeTest, AdamWStepOfASmallModel) {
  ExpectSameOnBoth(
      [](Generator& gen) {
        nn::MLP mlp(16, 32, 4, gen);
        optim::AdamW opt(mlp.parameters(), optim::AdamWOptions{.lr = 1e-2});
        for (int step = 0; step < 2; ++step) {
          opt.zero_grad();
          Tensor loss = mlp.forward(randn({8, 16}, gen)).pow(2).mean();
          loss.backward();
          opt.step();
          mark_step();
        }
        return mlp.parameters();
      },
      1e-4, "adamw");
}

TEST_F(CpuCompositeTest, DeviceFromConfig) {
  ScopedConfigOverride cfg;
  cfg->device = "cpu";
  set_device("cpu");
  EXPECT_STREQ(current_backend().name(), "cpu");
  Tensor x = Tensor::from_vector<float>({1, 2, 3, 4}, {2, 2});
  EXPECT_EQ((x * 2).sum().item(), 20.0);
}

// Evicting every executable releases every generated library; the OpenMP runtime they
// brought in must stay loaded, or the next parallel kernel runs into unmapped code.
TEST_F(CpuCompositeTest, RunsAfterTheCompileCacheIsCleared) {
  set_device("cpu");
  Generator gen(3);
  Tensor x = randn({512, 256}, gen);  // above the kernels' threshold for going parallel
  const double first = softmax(x, 1).sum().item();
  // The g++ default links generated code against libgomp; nothing else here loads it.
  const auto gomp_loaded = [] {
    void* handle = dlopen("libgomp.so.1", RTLD_NOW | RTLD_NOLOAD);
    if (handle != nullptr) dlclose(handle);
    return handle != nullptr;
  };
  const bool loaded_before = gomp_loaded();
  clear_compile_cache();
  EXPECT_EQ(gomp_loaded(), loaded_before);
  EXPECT_NEAR((softmax(x, 1) * 2).sum().item(), 2 * first, 1e-3);
  EXPECT_NEAR(first, 512.0, 1e-2);  // every row sums to 1
}

}  // namespace
}  // namespace kiln
