#include "util/hash.h"

#include <cstdint>
#include <string>

#include "absl/container/flat_hash_set.h"
#include "gtest/gtest.h"

namespace kiln {
namespace {

TEST(HashTest, EmptyInputMatchesPublishedXxh128) {
  // XXH3_128bits of zero bytes, as published with xxHash: pins the algorithm, since
  // cache keys written to disk must not change between builds.
  EXPECT_EQ(HashBytes(nullptr, 0).ToString(), "99aa06d3014798d86001c324468d497f");
}

TEST(HashTest, StableAcrossCalls) {
  const Hash128 a = HashString("kiln");
  const Hash128 b = HashString(std::string("ki") + "ln");
  EXPECT_EQ(a, b);
  EXPECT_EQ(a.ToString(), "29e4f6aff37a6f975bfb178850627e51");
}

TEST(HashTest, ToStringIsHighWordFirst) {
  const Hash128 h{/*low=*/0x1, /*high=*/0xabc};
  EXPECT_EQ(h.ToString(), "0000000000000abc0000000000000001");
}

TEST(HashTest, DifferentInputsDiffer) {
  EXPECT_NE(HashString("kiln"), HashString("kilN"));
  EXPECT_NE(HashString("a"), HashString("aa"));
}

TEST(HashTest, CombineDependsOnOrder) {
  const Hash128 a = HashString("a");
  const Hash128 b = HashString("b");
  EXPECT_NE(HashCombine(a, b), HashCombine(b, a));
  EXPECT_EQ(HashCombine(a, b), HashCombine(a, b));
  EXPECT_NE(HashCombine(a, b), a);
  EXPECT_NE(HashCombine(a, a), HashCombine(a, b));
}

TEST(HashTest, BuilderHashesTheWordsItWasGiven) {
  const uint64_t words[2] = {1, 2};
  HashBuilder h;
  h.Add(uint64_t{1}).Add(uint64_t{2});
  EXPECT_EQ(h.Finish(), HashBytes(words, sizeof(words)));
  EXPECT_EQ(h.Finish().ToString(), "556c70b5fae5b2a44967295965e4d325");

  HashBuilder swapped;
  swapped.Add(uint64_t{2}).Add(uint64_t{1});
  EXPECT_NE(swapped.Finish(), h.Finish());
}

TEST(HashTest, BuilderBeyondInlineCapacity) {
  // More words than the inline buffer holds still hash all of them.
  HashBuilder a, b;
  for (uint64_t i = 0; i < 100; ++i) {
    a.Add(i);
    b.Add(i == 99 ? 1000 : i);
  }
  EXPECT_NE(a.Finish(), b.Finish());
}

TEST(HashTest, BuilderDoublesAndStrings) {
  HashBuilder a, b, c;
  a.AddDouble(0.5);
  b.AddDouble(0.25);
  c.AddDouble(0.5);
  EXPECT_NE(a.Finish(), b.Finish());
  EXPECT_EQ(a.Finish(), c.Finish());
  HashBuilder s1, s2;
  s1.AddString("dims");
  s2.AddString("keepdim");
  EXPECT_NE(s1.Finish(), s2.Finish());
}

TEST(HashTest, UsableAsAbslHashKey) {
  absl::flat_hash_set<Hash128> set;
  set.insert(HashString("x"));
  set.insert(HashString("y"));
  set.insert(HashString("x"));
  EXPECT_EQ(set.size(), 2u);
  EXPECT_TRUE(set.contains(HashString("y")));
}

TEST(HashTest, OrderingIsTotal) {
  const Hash128 a = HashString("a");
  const Hash128 b = HashString("b");
  EXPECT_NE(a < b, b < a);
  EXPECT_LT((Hash128{1, 7}), (Hash128{2, 7}));
  EXPECT_LT((Hash128{1, 6}), (Hash128{1, 7}));
}

}  // namespace
}  // namespace kiln
