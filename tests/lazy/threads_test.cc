// Several threads using kiln at once, as the README's "Threads" describes: each traces its
// own tensors concurrently, and mark_step may be called from every thread at once (the
// barriers run one after another; the first materialises every thread's pending work).
#include <barrier>
#include <cmath>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lazy/kiln.h"

namespace kiln {
namespace {

TEST(ThreadsTest, ThreadsTraceTheirOwnTensorsAndMarkStepAtOnce) {
  constexpr int kThreads = 4;
  constexpr int kSteps = 3;
  constexpr int kOps = 40;
  std::barrier sync(kThreads);
  std::vector<std::vector<float>> got(kThreads);
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      const Tensor x = Tensor::from_vector<float>({1.0f + i, 2.0f + i, 3.0f + i}, {3});
      Tensor t = x;
      for (int step = 0; step < kSteps; ++step) {
        for (int op = 0; op < kOps; ++op) t = op % 2 == 0 ? t * 0.5 : t + x;
        // Every thread has stopped tracing before any barrier starts, and none traces
        // again until every barrier has returned: a barrier reads and updates the pending
        // tensors of every thread.
        sync.arrive_and_wait();
        mark_step();
        EXPECT_FALSE(t.is_pending());
        sync.arrive_and_wait();
      }
      got[i] = t.to_vector<float>();
    });
  }
  for (std::thread& t : threads) t.join();
  for (int i = 0; i < kThreads; ++i) {
    for (int e = 0; e < 3; ++e) {
      double want = 1.0 + i + e;
      for (int op = 0; op < kSteps * kOps; ++op)
        want = op % 2 == 0 ? want * 0.5 : want + 1.0 + i + e;
      ASSERT_EQ(got[i].size(), 3u);
      EXPECT_NEAR(got[i][e], want, 1e-4 * std::fabs(want)) << "thread " << i << " element " << e;
    }
  }
}

}  // namespace
}  // namespace kiln
