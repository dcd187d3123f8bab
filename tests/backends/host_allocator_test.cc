// The cpu backend's caching host allocator: size classes, alignment, reuse, the cap,
// release, running out of memory, concurrency, poisoning of reused blocks, and reuse
// across graph runs.
#include "backends/cpu/host_allocator.h"

#include <cstdint>
#include <cstring>
#include <random>
#include <thread>
#include <utility>
#include <vector>

#include "backends/backend.h"
#include "backends/cpu/cpu_backend.h"
#include "gtest/gtest.h"
#include "lazy/device.h"
#include "lazy/graph_executor.h"
#include "lazy/ops.h"
#include "lazy/tensor.h"
#include "util/metrics.h"

namespace kiln {
namespace {

using cpu::HostAllocator;

constexpr size_t kMiB = size_t{1} << 20;

TEST(HostAllocatorTest, ClassSizeIsNeverSmallerAndFollowsTheRule) {
  EXPECT_EQ(HostAllocator::ClassSize(0), 512u);
  EXPECT_EQ(HostAllocator::ClassSize(1), 512u);
  EXPECT_EQ(HostAllocator::ClassSize(512), 512u);
  EXPECT_EQ(HostAllocator::ClassSize(513), 1024u);
  EXPECT_EQ(HostAllocator::ClassSize(kMiB), kMiB);
  EXPECT_EQ(HostAllocator::ClassSize(kMiB + 1), kMiB + kMiB / 4);
  EXPECT_EQ(HostAllocator::ClassSize(64 * kMiB), 64 * kMiB);
  EXPECT_EQ(HostAllocator::ClassSize(65 * kMiB), 80 * kMiB);
  EXPECT_EQ(HostAllocator::ClassSize(97 * kMiB), 112 * kMiB);
  for (size_t n = 0; n < 4 * kMiB; n = n * 3 / 2 + 7) {
    const size_t c = HostAllocator::ClassSize(n);
    EXPECT_GE(c, n);
    EXPECT_LE(c, std::max<size_t>(512, n + n / 4 + 511)) << n;
  }
}

TEST(HostAllocatorTest, BlocksAre64ByteAlignedAndHugeOnes2MiB) {
  HostAllocator a;
  std::vector<std::pair<void*, size_t>> blocks;
  for (size_t n : {size_t{1}, size_t{100}, size_t{4097}, kMiB + 3, 3 * kMiB}) {
    void* p = a.Allocate(n);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % 64, 0u) << n;
    if (n >= 2 * kMiB) EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % (2 * kMiB), 0u) << n;
    std::memset(p, 1, HostAllocator::ClassSize(n));  // the whole class size is usable
    blocks.emplace_back(p, n);
  }
  for (auto [p, n] : blocks) a.Free(p, n);
}

TEST(HostAllocatorTest, FreedBlockIsReusedForTheSameClass) {
  HostAllocator a;
  void* p = a.Allocate(10000);
  EXPECT_EQ(a.misses(), 1);
  a.Free(p, 10000);
  EXPECT_EQ(a.cached_bytes(), HostAllocator::ClassSize(10000));
  void* q = a.Allocate(10000);
  EXPECT_EQ(q, p);
  EXPECT_EQ(a.hits(), 1);
  EXPECT_EQ(a.cached_bytes(), 0u);
  // Another request in the same class gets the same block too.
  a.Free(q, 10000);
  void* r = a.Allocate(9800);
  EXPECT_EQ(r, p);
  a.Free(r, 9800);
}

TEST(HostAllocatorTest, ClassesDoNotMix) {
  HostAllocator a;
  void* small = a.Allocate(512);
  void* large = a.Allocate(8 * kMiB);
  a.Free(small, 512);
  a.Free(large, 8 * kMiB);
  // A bigger request never gets the small block, a smaller one never the large block.
  void* p = a.Allocate(4096);
  EXPECT_NE(p, small);
  EXPECT_NE(p, large);
  std::memset(p, 2, 4096);
  void* q = a.Allocate(9 * kMiB);
  EXPECT_NE(q, large);
  std::memset(q, 3, 9 * kMiB);
  EXPECT_EQ(a.hits(), 0);
  EXPECT_EQ(a.misses(), 4);
  a.Free(p, 4096);
  a.Free(q, 9 * kMiB);
}

TEST(HostAllocatorTest, ReleaseCachedReturnsEverythingToTheOs) {
  HostAllocator a;
  void* in_use = a.Allocate(kMiB);
  for (int i = 0; i < 4; ++i) a.Free(a.Allocate(kMiB + 4096 * (i + 1)), kMiB + 4096 * (i + 1));
  EXPECT_GT(a.cached_bytes(), 0u);
  a.ReleaseCached();
  EXPECT_EQ(a.cached_bytes(), 0u);
  EXPECT_EQ(a.reserved_bytes(), kMiB);  // only the block still in use
  EXPECT_GE(a.peak_reserved_bytes(), 2 * kMiB);
  a.Free(in_use, kMiB);
  a.ReleaseCached();
  EXPECT_EQ(a.reserved_bytes(), 0u);
}

TEST(HostAllocatorTest, OutOfMemoryIsNullAndLeavesTheAllocatorWorking) {
  HostAllocator allocator(64 * kMiB);
  void* kept = allocator.Allocate(kMiB);
  allocator.Free(kept, kMiB);
  EXPECT_EQ(allocator.Allocate(size_t{1} << 50), nullptr);  // a PiB
  EXPECT_EQ(allocator.cached_bytes(), 0u);                  // the cache went back to the OS first
  EXPECT_EQ(allocator.in_use_bytes(), 0u);
  void* p = allocator.Allocate(kMiB);
  ASSERT_NE(p, nullptr);
  std::memset(p, 1, kMiB);
  allocator.Free(p, kMiB);
}

TEST(HostAllocatorTest, CapEvictsLeastRecentlyFreed) {
  HostAllocator a(/*cap=*/3 * kMiB);
  void* b1 = a.Allocate(kMiB);
  void* b2 = a.Allocate(kMiB);
  void* b3 = a.Allocate(kMiB);
  void* b4 = a.Allocate(kMiB);
  a.Free(b1, kMiB);
  a.Free(b2, kMiB);
  a.Free(b3, kMiB);
  EXPECT_EQ(a.cached_bytes(), 3 * kMiB);
  a.Free(b4, kMiB);  // over the cap: b1, the oldest, goes
  EXPECT_EQ(a.cached_bytes(), 3 * kMiB);
  EXPECT_EQ(a.reserved_bytes(), 3 * kMiB);
  // The most recently freed block comes back first.
  void* p = a.Allocate(kMiB);
  EXPECT_EQ(p, b4);
  a.Free(p, kMiB);
  // A block bigger than the cap is never cached.
  void* big = a.Allocate(4 * kMiB);
  a.Free(big, 4 * kMiB);
  EXPECT_EQ(a.cached_bytes(), 3 * kMiB);
  // Lowering the cap evicts at once.
  a.SetCap(kMiB);
  EXPECT_EQ(a.cached_bytes(), kMiB);
  EXPECT_EQ(a.reserved_bytes(), kMiB);
}

TEST(HostAllocatorTest, ConcurrentAllocateAndFree) {
  HostAllocator a(/*cap=*/8 * kMiB);
  constexpr int kThreads = 4;
  std::vector<std::thread> threads;
  std::vector<int> failures(kThreads, 0);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937 rng(t);
      std::vector<std::pair<unsigned char*, size_t>> held;
      for (int i = 0; i < 2000; ++i) {
        if (held.size() < 8 && rng() % 2 == 0) {
          const size_t n = rng() % 3 == 0 ? kMiB + rng() % (2 * kMiB) : 1 + rng() % 20000;
          auto* p = static_cast<unsigned char*>(a.Allocate(n));
          std::memset(p, t + 1, n);
          held.emplace_back(p, n);
        } else if (!held.empty()) {
          auto [p, n] = held.back();
          held.pop_back();
          // Nobody else wrote into a block this thread holds.
          if (p[0] != t + 1 || p[n / 2] != t + 1 || p[n - 1] != t + 1) ++failures[t];
          a.Free(p, n);
        }
      }
      for (auto [p, n] : held) a.Free(p, n);
    });
  }
  for (std::thread& th : threads) th.join();
  for (int t = 0; t < kThreads; ++t) EXPECT_EQ(failures[t], 0) << "thread " << t;
  EXPECT_LE(a.cached_bytes(), 8 * kMiB);
  EXPECT_EQ(a.reserved_bytes(), a.cached_bytes());
  EXPECT_GT(a.hits(), 0);
  a.ReleaseCached();
  EXPECT_EQ(a.reserved_bytes(), 0u);
}

TEST(HostAllocatorTest, PoisonAppliesToReusedBlocks) {
  Backend* backend = GetBackend("cpu").value();
  const Shape shape(DType::kF32, {1000});
  std::vector<float> zeros(1000, 0.0f);
  void* first = nullptr;
  {
    BufferPtr b = backend->CopyIn(shape, zeros.data()).value();
    first = static_cast<cpu::CpuBuffer*>(b.get())->data();
  }
  cpu::SetPoisonAllocationsForTesting(true);
  BufferPtr b = backend->Allocate(shape).value();
  cpu::SetPoisonAllocationsForTesting(false);
  const auto* bytes =
      static_cast<const unsigned char*>(static_cast<cpu::CpuBuffer*>(b.get())->data());
  EXPECT_EQ(bytes, first);  // the block the zeros were in
  for (int i = 0; i < 4000; ++i) ASSERT_EQ(bytes[i], 0xFF) << i;
}

TEST(HostAllocatorTest, SecondRunOfAGraphReusesItsBuffers) {
  set_device("cpu");
  auto run = [] {
    std::vector<float> xs(1 << 16);
    for (size_t i = 0; i < xs.size(); ++i) xs[i] = static_cast<float>(i % 13) - 6;
    Tensor x = Tensor::from_vector<float>(xs, {256, 256});
    Tensor y = sum(tanh(x * 2 + 1), {1});
    mark_step();
    return y.to_vector<float>();
  };
  HostAllocator::Global().ReleaseCached();
  const std::vector<float> first = run();
  const int64_t hits = metrics::counter("HostAllocatorHit");
  const std::vector<float> second = run();
  EXPECT_GT(metrics::counter("HostAllocatorHit"), hits);
  EXPECT_EQ(first, second);
  EXPECT_GT(metrics::counter("HostAllocatorReservedBytes"), 0);
  set_device("interp");
}

}  // namespace
}  // namespace kiln
