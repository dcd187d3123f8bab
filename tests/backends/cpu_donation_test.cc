// Input/output aliasing on the cpu backend: the executor donates a parameter's buffer
// when nothing reads it after the barrier (lazy/graph_executor.cc), the executable writes
// the parameter's update over it (backends/cpu/cpu_executable.h), and the results are
// the same as without. Anything that can still read the old value blocks the donation.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <vector>

#include "backends/cpu/host_allocator.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lazy/composite_ops.h"
#include "lazy/creation.h"
#include "lazy/device.h"
#include "lazy/grad_mode.h"
#include "lazy/graph_executor.h"
#include "lazy/nn_mlp.h"
#include "lazy/ops.h"
#include "lazy/optim_adamw.h"
#include "lazy/tensor.h"
#include "lazy/tensor_impl.h"
#include "util/config.h"
#include "util/error.h"
#include "util/metrics.h"

namespace kiln {
namespace {

using ::testing::ElementsAre;
using ::testing::FloatNear;
using ::testing::HasSubstr;
using ::testing::Pointwise;

int64_t Donated() { return metrics::counter("DonatedBuffers"); }

const Buffer* BufferOf(const Tensor& t) { return t.impl()->buffer().get(); }

class CpuDonationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    set_device("cpu");
    metrics::reset();
  }
  void TearDown() override { set_device("interp"); }
};

TEST_F(CpuDonationTest, ParameterUpdateIsWrittenInPlace) {
  Tensor w = Tensor::from_vector<float>({1, 2, 3, 4}, {4});
  const Tensor g = Tensor::from_vector<float>({2, 2, 2, 2}, {4});
  const Buffer* before = BufferOf(w);
  w.assign_(w - g * 0.5);
  mark_step();
  EXPECT_EQ(Donated(), 1);
  EXPECT_EQ(BufferOf(w), before);  // the same memory, now holding the new value
  EXPECT_THAT(w.to_vector<float>(), ElementsAre(0, 1, 2, 3));
  // Again from the cache: the run decides, the compiled code is the same.
  w.assign_(w - g * 0.5);
  mark_step();
  EXPECT_EQ(Donated(), 2);
  EXPECT_EQ(metrics::counter("UncachedCompile"), 1);
  EXPECT_THAT(w.to_vector<float>(), ElementsAre(-1, 0, 1, 2));
}

TEST_F(CpuDonationTest, ReaderOfTheSameElementInTheSameKernel) {
  Tensor w = Tensor::from_vector<float>({1, 2, 3, 4}, {4});
  Tensor doubled = w * 2.0;  // fused with the update: reads each element before it is written
  w.assign_(w + 10.0);
  mark_step();
  EXPECT_EQ(Donated(), 1);
  EXPECT_THAT(w.to_vector<float>(), ElementsAre(11, 12, 13, 14));
  EXPECT_THAT(doubled.to_vector<float>(), ElementsAre(2, 4, 6, 8));
}

TEST_F(CpuDonationTest, OtherReadersInTheSameGraphSeeTheOldValue) {
  // Readers of other elements, or of all of them, whichever kernel they land in; the
  // update is donated only if they all run first.
  Tensor w = Tensor::from_vector<float>({1, 2, 3, 4}, {4});
  Tensor total = w.sum();
  Tensor shifted = w.slice(0, 1, 4) + w.slice(0, 0, 3);
  Tensor flipped = w.reshape({2, 2}).transpose(0, 1) * 1.0;
  w.assign_(w + 10.0);
  mark_step();
  EXPECT_THAT(w.to_vector<float>(), ElementsAre(11, 12, 13, 14));
  EXPECT_THAT(total.to_vector<float>(), ElementsAre(10));
  EXPECT_THAT(shifted.to_vector<float>(), ElementsAre(3, 5, 7));
  EXPECT_THAT(flipped.to_vector<float>(), ElementsAre(1, 3, 2, 4));
}

TEST_F(CpuDonationTest, UpdateAfterAnEarlierKernelsLastRead) {
  // The update's kernel (elementwise) runs after the matmul, w's other reader.
  Tensor w = Tensor::from_vector<float>({1, 2, 3, 4}, {2, 2});
  const Tensor x = Tensor::from_vector<float>({1, 1}, {1, 2});
  w.assign_(w - x.matmul(w).expand({2, 2}) * 0.5);
  mark_step();
  EXPECT_EQ(Donated(), 1);
  EXPECT_THAT(w.to_vector<float>(), ElementsAre(-1, -1, 1, 1));
}

TEST_F(CpuDonationTest, DetachedAliasKeepsTheOldValue) {
  Tensor w = Tensor::from_vector<float>({1, 2, 3}, {3});
  const Tensor old = w.detach();  // shares w's buffer
  w.assign_(w * 3.0);
  mark_step();
  EXPECT_EQ(Donated(), 0);
  EXPECT_THAT(w.to_vector<float>(), ElementsAre(3, 6, 9));
  EXPECT_THAT(old.to_vector<float>(), ElementsAre(1, 2, 3));
}

TEST_F(CpuDonationTest, PendingReaderOutsideTheBarrierKeepsTheOldValue) {
  Tensor w = Tensor::from_vector<float>({1, 2, 3}, {3});
  const Tensor later = w * 5.0;  // pending, not part of the barrier below
  w.assign_(w + 1.0);
  SyncTensors({w}, /*implicit=*/false, {});
  EXPECT_EQ(Donated(), 0);
  EXPECT_TRUE(later.is_pending());
  EXPECT_THAT(w.to_vector<float>(), ElementsAre(2, 3, 4));
  EXPECT_THAT(later.to_vector<float>(), ElementsAre(5, 10, 15));
}

TEST_F(CpuDonationTest, CachedDataLeafOfAnotherTensorBlocksDonation) {
  Tensor w = Tensor::from_vector<float>({1, 2, 3}, {3});
  Tensor copy = Tensor::from_vector<float>({0, 0, 0}, {3});
  copy.assign_(w);  // both hold w's buffer
  w.assign_(w + 1.0);
  mark_step();
  EXPECT_EQ(Donated(), 0);
  EXPECT_THAT(w.to_vector<float>(), ElementsAre(2, 3, 4));
  EXPECT_THAT(copy.to_vector<float>(), ElementsAre(1, 2, 3));
}

TEST_F(CpuDonationTest, FailedCheckInTheSameGraphLeavesParametersUnchanged) {
  Tensor w = Tensor::from_vector<float>({1, 2, 3}, {3});
  Tensor m = Tensor::from_vector<float>({4, 5, 6}, {3});
  const Tensor x = Tensor::from_vector<float>({7, 8, 9}, {3});
  w.assign_(w - 1.0);
  m.assign_(m * 2.0);
  // Same shape as the updates, so it may share their kernel; and a second, later one.
  Tensor bad = x.gather(0, Tensor::from_vector<int64_t>({0, 7, 1}, {3}));
  Tensor bad_later = (w + m).gather(0, Tensor::from_vector<int64_t>({9}, {1}));
  EXPECT_THROW(mark_step(), Error);
  EXPECT_TRUE(w.is_pending());
  EXPECT_TRUE(m.is_pending());
  bad = Tensor();
  bad_later = Tensor();
  mark_step();
  EXPECT_THAT(w.to_vector<float>(), ElementsAre(0, 1, 2));
  EXPECT_THAT(m.to_vector<float>(), ElementsAre(8, 10, 12));
}

// An MLP trained with AdamW for a few steps, the usual loop, and the parameters after it.
std::vector<std::vector<float>> TrainMlp(const char* device, bool block_donation,
                                         int64_t* donated) {
  set_device(device);
  Generator gen(7);
  nn::MLP mlp(12, 24, 3, gen);
  optim::AdamW opt(mlp.parameters(), optim::AdamWOptions{.lr = 1e-2, .weight_decay = 0.1});
  const Tensor x = randn({6, 12}, gen);
  const int64_t start = Donated();
  for (int step = 0; step < 3; ++step) {
    std::vector<Tensor> held;  // detached aliases of every parameter and state tensor
    if (block_donation) {
      for (size_t i = 0; i < mlp.parameters().size(); ++i) {
        held.push_back(mlp.parameters()[i].detach());
        held.push_back(opt.state(0, i).exp_avg.detach());
        held.push_back(opt.state(0, i).exp_avg_sq.detach());
      }
    }
    opt.zero_grad();
    Tensor loss = mlp.forward(x).pow(2).mean();
    loss.backward();
    opt.step();
    mark_step();
    EXPECT_TRUE(std::isfinite(loss.item()));
  }
  *donated = Donated() - start;
  std::vector<std::vector<float>> values;
  for (const Tensor& p : mlp.parameters()) values.push_back(p.to_vector<float>());
  return values;
}

TEST_F(CpuDonationTest, AdamWStepDonatesParametersAndStateAndMatches) {
  int64_t donated_cpu = 0, donated_blocked = 0, donated_interp = 0;
  const auto cpu = TrainMlp("cpu", false, &donated_cpu);
  const auto blocked = TrainMlp("cpu", true, &donated_blocked);
  const auto reference = TrainMlp("interp", false, &donated_interp);
  set_device("cpu");
  // Parameter, exp_avg and exp_avg_sq of each of the 4 parameters, every step, but for
  // the last Linear's bias b: the loss kernel, which runs after the update, reads the old
  // b to recompute the output h + b (fusion_plan.h: a result plus a broadcast parameter
  // is recomputed, not stored), so the new b gets a buffer of its own.
  EXPECT_EQ(donated_cpu, 3 * (4 * 3 - 1));
  EXPECT_EQ(donated_blocked, 0);
  ASSERT_EQ(cpu.size(), reference.size());
  for (size_t i = 0; i < cpu.size(); ++i) {
    EXPECT_EQ(cpu[i], blocked[i]) << "parameter " << i;  // the same kernels, bit for bit
    EXPECT_THAT(cpu[i], Pointwise(FloatNear(1e-5), reference[i])) << "parameter " << i;
  }
}

// One SGD step of tanh(x @ w)^2 with the loss read after the barrier: the loss and the
// new w, and how many buffers were donated.
struct SgdStep {
  float loss = 0;
  std::vector<float> w;
  int64_t donated = 0;
};

SgdStep RunSgdStep(const char* device, bool retain_graph) {
  set_device(device);
  const int64_t start = Donated();
  Tensor w = Tensor::from_vector<float>({0.1f, 0.2f, 0.3f, 0.4f, 0.5f, 0.6f}, {3, 2});
  w.requires_grad_();
  const Tensor x = Tensor::from_vector<float>({1, 1, 1}, {1, 3});
  Tensor loss = x.matmul(w).tanh().pow(2).sum();
  loss.backward({}, retain_graph);
  {
    NoGradGuard no_grad;
    w.assign_(w - w.grad() * 0.25);
  }
  w.zero_grad();
  mark_step();
  SgdStep result{static_cast<float>(loss.item()), w.to_vector<float>(), Donated() - start};
  if (retain_graph) {
    // The retained graph still differentiates the old value.
    loss.backward();
    const double t0 = std::tanh(0.9), t1 = std::tanh(1.2);
    const float g0 = static_cast<float>(2 * t0 * (1 - t0 * t0));
    const float g1 = static_cast<float>(2 * t1 * (1 - t1 * t1));
    EXPECT_THAT(w.grad().to_vector<float>(),
                Pointwise(FloatNear(1e-5), std::vector<float>{g0, g1, g0, g1, g0, g1}));
  }
  return result;
}

TEST_F(CpuDonationTest, FreedGraphLetsTheLossOutliveTheStep) {
  const SgdStep cpu = RunSgdStep("cpu", false);
  const SgdStep interp = RunSgdStep("interp", false);
  EXPECT_EQ(cpu.donated, 1);
  const double t0 = std::tanh(0.9), t1 = std::tanh(1.2);
  EXPECT_NEAR(cpu.loss, t0 * t0 + t1 * t1, 1e-6);
  EXPECT_THAT(cpu.w, Pointwise(FloatNear(1e-6), interp.w));
  EXPECT_NE(cpu.w[0], 0.1f);
}

TEST_F(CpuDonationTest, ClassifierStepWithIndexChecksDonates) {
  // cross_entropy gathers by label (a check that can fail); the update kernels still
  // take the donated buffers, since they run after every kernel that can fail.
  Generator gen(5);
  nn::MLP mlp(4, 16, 3, gen);
  optim::AdamW opt(mlp.parameters(), optim::AdamWOptions{.lr = 1e-2});
  const Tensor x = randn({8, 4}, gen);
  const Tensor labels = Tensor::from_vector<int64_t>({0, 1, 2, 0, 1, 2, 0, 1}, {8});
  for (int step = 0; step < 2; ++step) {
    opt.zero_grad();
    Tensor loss = cross_entropy(mlp.forward(x), labels);
    loss.backward();
    opt.step();
    mark_step();
    EXPECT_TRUE(std::isfinite(loss.item()));
  }
  EXPECT_EQ(Donated(), 2 * 3 * 4);
}

TEST_F(CpuDonationTest, RetainedGraphBlocksDonationOfWhatItReads) {
  const SgdStep cpu = RunSgdStep("cpu", true);
  const SgdStep interp = RunSgdStep("interp", true);
  EXPECT_EQ(cpu.donated, 0);  // the retained graph still holds w's old value
  EXPECT_NEAR(cpu.loss, interp.loss, 1e-6);
  EXPECT_THAT(cpu.w, Pointwise(FloatNear(1e-6), interp.w));
}

// A model whose parameters and AdamW state dominate memory: one step's peak host memory
// beyond what is live before it. With donation it is the gradients plus small
// activations; without, a second copy of parameters and state on top.
int64_t StepPeakBytes(bool block_donation, int64_t* state_bytes) {
  constexpr int64_t kWidth = 512, kLayers = 4;
  Generator gen(3);
  std::vector<Tensor> weights;
  for (int64_t i = 0; i < kLayers; ++i) {
    weights.push_back(randn({kWidth, kWidth}, gen) * (1.0 / std::sqrt(double(kWidth))));
    weights.back().requires_grad_();
  }
  mark_step();
  optim::AdamW opt(weights, optim::AdamWOptions{.lr = 1e-3});
  const Tensor x = randn({2, kWidth}, gen);
  mark_step();
  *state_bytes = 3 * kLayers * kWidth * kWidth * 4;  // weights, exp_avg, exp_avg_sq
  int64_t peak = 0;
  for (int step = 0; step < 2; ++step) {  // the second step is measured (a cache hit)
    std::vector<Tensor> held;
    if (block_donation) {
      for (size_t i = 0; i < weights.size(); ++i) {
        held.push_back(weights[i].detach());
        held.push_back(opt.state(0, i).exp_avg.detach());
        held.push_back(opt.state(0, i).exp_avg_sq.detach());
      }
    }
    opt.zero_grad();
    Tensor h = x;
    for (const Tensor& w : weights) h = h.matmul(w).tanh();
    Tensor loss = h.pow(2).mean();
    loss.backward();
    opt.step();
    h = Tensor();
    metrics::reset();  // the peak restarts from what is live now
    const int64_t before = metrics::gauge("HostBytesInUse");
    mark_step();
    peak = metrics::gauge_peak("HostBytesInUse") - before;
    loss.item();
  }
  return peak;
}

TEST_F(CpuDonationTest, PeakBytesOfAnAdamWStep) {
  int64_t state = 0;
  const int64_t donated = StepPeakBytes(false, &state);
  const int64_t blocked = StepPeakBytes(true, &state);
  std::printf(
      "AdamW step, state %lld bytes: peak beyond live %lld bytes with donation, %lld "
      "without\n",
      static_cast<long long>(state), static_cast<long long>(donated),
      static_cast<long long>(blocked));
  // The gradients (a third of the state) are new outputs either way; the updated state
  // only without donation.
  EXPECT_LT(donated, state / 2);
  EXPECT_GE(blocked, state);
}

}  // namespace
}  // namespace kiln
