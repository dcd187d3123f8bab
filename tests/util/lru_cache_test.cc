#include "util/lru_cache.h"

#include <memory>
#include <string>

#include "gtest/gtest.h"

namespace kiln {
namespace {

TEST(LruCacheTest, GetReturnsStoredValue) {
  LruCache<int, std::string> cache(3);
  cache.Put(1, "one");
  cache.Put(2, "two");
  ASSERT_NE(cache.Get(1), nullptr);
  EXPECT_EQ(*cache.Get(1), "one");
  EXPECT_EQ(*cache.Get(2), "two");
  EXPECT_EQ(cache.Get(3), nullptr);
  EXPECT_EQ(cache.size(), 2u);
}

TEST(LruCacheTest, EvictsLeastRecentlyPut) {
  LruCache<int, int> cache(2);
  cache.Put(1, 10);
  cache.Put(2, 20);
  cache.Put(3, 30);
  EXPECT_EQ(cache.Get(1), nullptr);
  EXPECT_EQ(*cache.Get(2), 20);
  EXPECT_EQ(*cache.Get(3), 30);
  EXPECT_EQ(cache.size(), 2u);
}

TEST(LruCacheTest, GetRefreshesAnEntry) {
  LruCache<int, int> cache(2);
  cache.Put(1, 10);
  cache.Put(2, 20);
  ASSERT_NE(cache.Get(1), nullptr);  // 1 is now the most recent; 2 is the oldest
  cache.Put(3, 30);
  EXPECT_EQ(cache.Get(2), nullptr);
  EXPECT_EQ(*cache.Get(1), 10);
  EXPECT_EQ(*cache.Get(3), 30);
}

TEST(LruCacheTest, PutReplacesAndRefreshes) {
  LruCache<int, int> cache(2);
  cache.Put(1, 10);
  cache.Put(2, 20);
  cache.Put(1, 11);  // replaces; 1 becomes the most recent
  EXPECT_EQ(cache.size(), 2u);
  cache.Put(3, 30);
  EXPECT_EQ(cache.Get(2), nullptr);
  EXPECT_EQ(*cache.Get(1), 11);
}

TEST(LruCacheTest, ShrinkingCapacityEvictsOldest) {
  LruCache<int, int> cache(4);
  for (int i = 1; i <= 4; ++i) cache.Put(i, i * 10);
  cache.set_capacity(2);
  EXPECT_EQ(cache.capacity(), 2u);
  EXPECT_EQ(cache.size(), 2u);
  EXPECT_EQ(cache.Get(1), nullptr);
  EXPECT_EQ(cache.Get(2), nullptr);
  EXPECT_EQ(*cache.Get(3), 30);
  EXPECT_EQ(*cache.Get(4), 40);

  cache.set_capacity(3);
  cache.Put(5, 50);
  EXPECT_EQ(cache.size(), 3u);
  EXPECT_EQ(*cache.Get(3), 30);
}

TEST(LruCacheTest, ZeroCapacityHoldsOne) {
  LruCache<int, int> cache(0);
  EXPECT_EQ(cache.capacity(), 1u);
  cache.Put(1, 10);
  cache.Put(2, 20);
  EXPECT_EQ(cache.size(), 1u);
  EXPECT_EQ(*cache.Get(2), 20);
}

TEST(LruCacheTest, ClearEmptiesAndReleasesValues) {
  auto value = std::make_shared<int>(7);
  LruCache<int, std::shared_ptr<int>> cache(2);
  cache.Put(1, value);
  EXPECT_EQ(value.use_count(), 2);
  cache.Clear();
  EXPECT_EQ(cache.size(), 0u);
  EXPECT_EQ(cache.Get(1), nullptr);
  EXPECT_EQ(value.use_count(), 1);
}

TEST(LruCacheTest, EvictionReleasesValues) {
  auto first = std::make_shared<int>(1);
  LruCache<int, std::shared_ptr<int>> cache(1);
  cache.Put(1, first);
  cache.Put(2, std::make_shared<int>(2));
  EXPECT_EQ(first.use_count(), 1);
}

}  // namespace
}  // namespace kiln
