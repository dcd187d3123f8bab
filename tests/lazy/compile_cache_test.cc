#include "lazy/compile_cache.h"

#include <memory>

#include "gtest/gtest.h"
#include "ir/graph.h"
#include "util/config.h"
#include "util/metrics.h"

namespace kiln {
namespace {

// An executable that is only ever compared by identity.
class FakeExecutable : public Executable {
 public:
  absl::StatusOr<std::vector<BufferPtr>> Run(absl::Span<const Argument>) override {
    return absl::UnimplementedError("fake");
  }
};

class FakeBackend : public Backend {
 public:
  explicit FakeBackend(const char* name) : name_(name) {}
  const char* name() const override { return name_; }
  absl::StatusOr<BufferPtr> Allocate(const Shape&) override { return absl::UnimplementedError(""); }
  absl::StatusOr<BufferPtr> CopyIn(const Shape&, const void*) override {
    return absl::UnimplementedError("");
  }
  absl::Status CopyOut(const Buffer&, void*) override { return absl::UnimplementedError(""); }
  absl::StatusOr<std::unique_ptr<Executable>> Compile(const Graph&) override {
    return std::make_unique<FakeExecutable>();
  }

 private:
  const char* name_;
};

Hash128 Key(int i) { return Hash128{static_cast<uint64_t>(i), 0x5eed}; }

TEST(CompileCacheTest, MissThenHit) {
  CompileCache cache;
  EXPECT_EQ(cache.Lookup(Key(1)), nullptr);
  auto exe = std::make_shared<FakeExecutable>();
  cache.Insert(Key(1), exe);
  EXPECT_EQ(cache.Lookup(Key(1)), exe);
  EXPECT_EQ(cache.Lookup(Key(2)), nullptr);
  EXPECT_EQ(cache.size(), 1u);
}

TEST(CompileCacheTest, CapacityFollowsConfig) {
  ScopedConfigOverride cfg;
  cfg->cache_size = 2;
  metrics::reset();
  CompileCache cache;
  EXPECT_EQ(cache.capacity(), 2u);
  auto a = std::make_shared<FakeExecutable>();
  auto b = std::make_shared<FakeExecutable>();
  auto c = std::make_shared<FakeExecutable>();
  cache.Insert(Key(1), a);
  cache.Insert(Key(2), b);
  EXPECT_EQ(cache.Lookup(Key(1)), a);  // 2 is now the least recently used
  cache.Insert(Key(3), c);
  EXPECT_EQ(cache.Lookup(Key(2)), nullptr);
  EXPECT_EQ(cache.Lookup(Key(1)), a);
  EXPECT_EQ(cache.Lookup(Key(3)), c);
  EXPECT_EQ(cache.evictions(), 1);
  EXPECT_EQ(metrics::counter("CompileCacheEviction"), 1);
}

TEST(CompileCacheTest, ReplacingIsNotAnEviction) {
  ScopedConfigOverride cfg;
  cfg->cache_size = 2;
  CompileCache cache;
  auto a = std::make_shared<FakeExecutable>();
  auto b = std::make_shared<FakeExecutable>();
  cache.Insert(Key(1), a);
  cache.Insert(Key(2), a);
  cache.Insert(Key(1), b);
  EXPECT_EQ(cache.evictions(), 0);
  EXPECT_EQ(cache.Lookup(Key(1)), b);
  EXPECT_EQ(cache.size(), 2u);
}

TEST(CompileCacheTest, CapacityChangeIsReadOnTheNextAccess) {
  ScopedConfigOverride cfg;
  cfg->cache_size = 4;
  CompileCache cache;
  for (int i = 1; i <= 4; ++i) cache.Insert(Key(i), std::make_shared<FakeExecutable>());
  EXPECT_EQ(cache.size(), 4u);
  cfg->cache_size = 1;
  EXPECT_NE(cache.Lookup(Key(4)), nullptr);  // the newest survives the shrink
  EXPECT_EQ(cache.capacity(), 1u);
  EXPECT_EQ(cache.size(), 1u);
  EXPECT_EQ(cache.evictions(), 3);
  EXPECT_EQ(cache.Lookup(Key(1)), nullptr);
}

TEST(CompileCacheTest, EvictedExecutableStaysAliveForItsHolder) {
  ScopedConfigOverride cfg;
  cfg->cache_size = 1;
  CompileCache cache;
  auto a = std::make_shared<FakeExecutable>();
  cache.Insert(Key(1), a);
  std::shared_ptr<Executable> held = cache.Lookup(Key(1));
  cache.Insert(Key(2), std::make_shared<FakeExecutable>());
  EXPECT_EQ(cache.Lookup(Key(1)), nullptr);
  EXPECT_EQ(held, a);
  EXPECT_EQ(a.use_count(), 2);  // `a` and `held`; the cache let go
}

TEST(CompileCacheTest, ClearEmpties) {
  CompileCache cache;
  cache.Insert(Key(1), std::make_shared<FakeExecutable>());
  cache.Insert(Key(2), std::make_shared<FakeExecutable>());
  cache.Clear();
  EXPECT_EQ(cache.size(), 0u);
  EXPECT_EQ(cache.Lookup(Key(1)), nullptr);
}

TEST(CompileCacheTest, KeyDependsOnGraphAndBackend) {
  const Graph one =
      Graph::Build({Value{Node::CreateDeviceData(Shape(DType::kF32, {2, 3}), nullptr), 0}});
  const Graph two =
      Graph::Build({Value{Node::CreateDeviceData(Shape(DType::kF32, {4, 3}), nullptr), 0}});
  FakeBackend interp("interp");
  FakeBackend cpu("cpu");
  EXPECT_EQ(CompileCacheKey(one, interp), CompileCacheKey(one, interp));
  EXPECT_NE(CompileCacheKey(one, interp), CompileCacheKey(one, cpu));
  EXPECT_NE(CompileCacheKey(one, interp), CompileCacheKey(two, interp));
  EXPECT_EQ(CompileCacheKey(one, interp), HashCombine(one.hash(), HashString("interp")));
}

TEST(CompileCacheTest, GlobalCacheIsOneInstance) {
  EXPECT_EQ(&GlobalCompileCache(), &GlobalCompileCache());
}

}  // namespace
}  // namespace kiln
