// Several threads using kiln at once, as the README's "Threads" describes: each traces its
// own tensors and calls mark_step when it likes; a barrier materialises the tensors of
// its own thread, and a tensor handed to another thread moves with it.
#include <cmath>
#include <future>
#include <latch>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lazy/kiln.h"
#include "util/metrics.h"

namespace kiln {
namespace {

// The value of an element x after `ops` alternating `t * 0.5` and `t + x`, from t = x.
double Expected(double x, int ops) {
  double want = x;
  for (int op = 0; op < ops; ++op) want = op % 2 == 0 ? want * 0.5 : want + x;
  return want;
}

void ExpectChainValues(const std::vector<float>& got, const std::vector<float>& x, int ops,
                       int thread) {
  ASSERT_EQ(got.size(), x.size());
  for (size_t e = 0; e < x.size(); ++e) {
    const double want = Expected(x[e], ops);
    EXPECT_NEAR(got[e], want, 1e-4 * std::fabs(want)) << "thread " << thread << " element " << e;
  }
}

// No synchronisation at all: every thread traces and calls mark_step at its own pace, so
// barriers of some threads run while others trace. Each thread's barriers cut its steps
// where it put them, so every thread traces the same two graphs (the first step reads x
// alone, later ones the previous step's result too): two compiles in all.
TEST(ThreadsTest, ThreadsTraceAndMarkStepIndependently) {
  constexpr int kThreads = 4;
  constexpr int kSteps = 6;
  constexpr int kOps = 30;
  clear_compile_cache();
  const int64_t compiles_before = metrics::counter("UncachedCompile");
  const int64_t hits_before = metrics::counter("CachedCompile");
  std::vector<std::vector<float>> inputs(kThreads);
  std::vector<std::vector<float>> got(kThreads);
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    inputs[i] = {0.5f + i, -1.0f - i, 2.0f, 3.5f, -0.25f * i, 1.0f, 7.0f};
    threads.emplace_back([&, i] {
      const Tensor x = Tensor::from_vector<float>(inputs[i], {7});
      Tensor t = x;
      for (int step = 0; step < kSteps; ++step) {
        for (int op = 0; op < kOps; ++op) t = op % 2 == 0 ? t * 0.5 : t + x;
        mark_step();
        EXPECT_FALSE(t.is_pending()) << "thread " << i << " step " << step;
      }
      got[i] = t.to_vector<float>();
    });
  }
  for (std::thread& t : threads) t.join();
  for (int i = 0; i < kThreads; ++i) ExpectChainValues(got[i], inputs[i], kSteps * kOps, i);
  EXPECT_EQ(metrics::counter("UncachedCompile") - compiles_before, 2);
  EXPECT_EQ(metrics::counter("CachedCompile") - hits_before, kThreads * kSteps - 2);
}

// One thread's mark_step leaves the pending tensors of another thread alone.
TEST(ThreadsTest, MarkStepMaterialisesOnlyTheCallingThreadsTensors) {
  std::latch traced(1);
  std::latch stepped(1);
  bool still_pending = false;
  std::thread other([&] {
    const Tensor x = Tensor::from_vector<float>({1, 2, 3}, {3});
    const Tensor y = x * 2.0 + 1.0;
    traced.count_down();
    stepped.wait();
    still_pending = y.is_pending();
    EXPECT_THAT(y.to_vector<float>(), ::testing::ElementsAre(3, 5, 7));
  });
  traced.wait();
  const Tensor mine = Tensor::from_vector<float>({4}, {1}) * 3.0;
  mark_step();
  EXPECT_FALSE(mine.is_pending());
  stepped.count_down();
  other.join();
  EXPECT_TRUE(still_pending);
  EXPECT_EQ(mine.item(), 12.0);
}

// A pending tensor handed to another thread moves to it on first use, after any barrier
// of its first thread: here that thread keeps tracing and calling mark_step while the
// receiver computes with the tensor.
TEST(ThreadsTest, APendingTensorHandedToAnotherThreadMovesWithIt) {
  constexpr int kRounds = 20;
  std::promise<Tensor> handed;
  std::future<Tensor> received = handed.get_future();
  std::thread producer([&] {
    const Tensor x = Tensor::from_vector<float>({1, -2, 3, 0.5}, {4});
    handed.set_value(x * 3.0 - 1.0);
    Tensor t = x;
    for (int round = 0; round < kRounds; ++round) {
      t = t * 0.5 + x;
      mark_step();
    }
    EXPECT_FALSE(t.is_pending());
  });
  Tensor y = received.get();
  Tensor sum = y;
  for (int round = 0; round < kRounds; ++round) {
    sum = sum + y;
    mark_step();
    EXPECT_FALSE(sum.is_pending());
  }
  producer.join();
  EXPECT_FALSE(y.is_pending());
  EXPECT_THAT(sum.to_vector<float>(), ::testing::ElementsAre(42, -147, 168, 10.5));
}

// Pending tensors a thread leaves behind when it exits wait for a thread to use them:
// they are not part of anyone's mark_step until then.
TEST(ThreadsTest, TensorsOfAnExitedThreadWaitForTheirNextUser) {
  Tensor left;
  std::thread([&] { left = Tensor::from_vector<float>({2, 3}, {2}) * 4.0; }).join();
  mark_step();
  // is_pending() uses the tensor: it belongs to this thread from here on.
  EXPECT_TRUE(left.is_pending());
  mark_step();
  EXPECT_FALSE(left.is_pending());
  EXPECT_THAT(left.to_vector<float>(), ::testing::ElementsAre(8, 12));
}

}  // namespace
}  // namespace kiln
