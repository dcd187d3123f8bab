#include "lazy/live_tensors.h"

#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <thread>
#include <vector>

#include "lazy/ops.h"
#include "lazy/tensor.h"
#include "lazy/tensor_impl.h"

namespace kiln {
namespace {

TEST(LiveTensorsTest, ListsPendingTensorsOldestFirst) {
  const Tensor x = Tensor::from_vector<float>({1, 2}, {2});
  Tensor a = x + x;
  Tensor b = x * x;
  Tensor c = a - b;
  std::vector<TensorImpl*> seen;
  for (const auto& impl : live_tensors::Pending()) {
    if (impl == a.impl() || impl == b.impl() || impl == c.impl()) seen.push_back(impl.get());
  }
  EXPECT_EQ(seen, (std::vector<TensorImpl*>{a.impl().get(), b.impl().get(), c.impl().get()}));
}

// Tracing threads link and unlink tensors while another thread walks the registries;
// tensors made on one thread are dropped on another after it has exited (the last one
// out deletes its registry). The count must come back to where it was.
TEST(LiveTensorsTest, ThreadsTraceDropAndListConcurrently) {
  const size_t before = live_tensors::Count();
  const Tensor x = Tensor::from_vector<float>({1, 2, 3, 4}, {2, 2});
  constexpr int kThreads = 4;
  constexpr int kOps = 2000;
  // Walks the registry until stopped; joined before each count, since the tensors a walk
  // returns are kept alive (and counted) while it holds them.
  std::atomic<bool> done{false};
  const auto walk = [&] {
    while (!done.load()) {
      live_tensors::All();
      live_tensors::Count();
    }
  };
  std::thread walker(walk);
  std::vector<std::vector<Tensor>> made(kThreads);
  std::vector<std::thread> tracers;
  for (int i = 0; i < kThreads; ++i) {
    tracers.emplace_back([&, i] {
      // Each thread traces its own tensors: a tensor is used by one thread at a time (its
      // device-data leaf is created on first use); each thread links into its own registry.
      const Tensor own = Tensor::from_vector<float>({1, 2, 3, 4}, {2, 2});
      Tensor t = own;
      for (int op = 0; op < kOps; ++op) {
        t = op % 2 == 0 ? t + own : t * 0.5;
        if (op % 100 == 0) made[i].push_back(t);
      }
    });
  }
  for (std::thread& t : tracers) t.join();
  done = true;
  walker.join();
  EXPECT_EQ(live_tensors::Count(), before + 1 + kThreads * (kOps / 100));
  // Each thread drops the tensors another one made.
  done = false;
  walker = std::thread(walk);
  std::vector<std::thread> droppers;
  for (int i = 0; i < kThreads; ++i) {
    droppers.emplace_back([&, i] { made[(i + 1) % kThreads].clear(); });
  }
  for (std::thread& t : droppers) t.join();
  done = true;
  walker.join();
  EXPECT_EQ(live_tensors::Count(), before + 1);
}

}  // namespace
}  // namespace kiln
