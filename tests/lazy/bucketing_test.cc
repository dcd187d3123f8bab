#include "lazy/bucketing.h"

#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lazy/kiln.h"
#include "util/error.h"
#include "util/metrics.h"

namespace kiln {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(BucketSetTest, ExplicitLengthsAreSortedAndDistinct) {
  EXPECT_THAT(BucketSet::explicit_lengths({256, 64, 128, 64}).lengths(), ElementsAre(64, 128, 256));
  EXPECT_THROW(BucketSet::explicit_lengths({}), Error);
  try {
    BucketSet::explicit_lengths({64, 0});
    FAIL() << "a zero length must be refused";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("length 0 in [64, 0] is not positive"));
  }
}

TEST(BucketSetTest, PowersOfTwoCoverTheMaximum) {
  EXPECT_THAT(BucketSet::powers_of_two(64, 256).lengths(), ElementsAre(64, 128, 256));
  EXPECT_THAT(BucketSet::powers_of_two(64, 200).lengths(), ElementsAre(64, 128, 256));
  EXPECT_THAT(BucketSet::powers_of_two(16, 16).lengths(), ElementsAre(16));
  EXPECT_THROW(BucketSet::powers_of_two(0, 16), Error);
  EXPECT_THROW(BucketSet::powers_of_two(32, 16), Error);
}

TEST(BucketSetTest, BucketForPicksTheSmallestThatFits) {
  const BucketSet b = BucketSet::explicit_lengths({64, 128, 256});
  EXPECT_EQ(b.bucket_for(1), 64);
  EXPECT_EQ(b.bucket_for(64), 64);
  EXPECT_EQ(b.bucket_for(65), 128);
  EXPECT_EQ(b.bucket_for(256), 256);
  EXPECT_EQ(b.padding({1, 64, 65, 200}), 63 + 0 + 63 + 56);
  try {
    b.bucket_for(257);
    FAIL() << "a length past the largest bucket must be refused";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("length 257 does not fit the buckets {64, 128, 256}"));
  }
  EXPECT_THROW(b.bucket_for(0), Error);
}

// The least padding over every choice of k buckets among the distinct lengths that
// includes the longest (any optimum can be moved onto observed lengths).
int64_t BruteForcePadding(const std::vector<int64_t>& observed, int k) {
  std::vector<int64_t> v = observed;
  std::sort(v.begin(), v.end());
  v.erase(std::unique(v.begin(), v.end()), v.end());
  const int m = static_cast<int>(v.size());
  int64_t best = -1;
  for (uint32_t subset = 0; subset < (1u << (m - 1)); ++subset) {
    if (__builtin_popcount(subset) + 1 > k) continue;
    std::vector<int64_t> lengths = {v.back()};
    for (int i = 0; i < m - 1; ++i) {
      if (subset & (1u << i)) lengths.push_back(v[i]);
    }
    const int64_t pad = BucketSet::explicit_lengths(lengths).padding(observed);
    if (best < 0 || pad < best) best = pad;
  }
  return best;
}

TEST(BucketSetTest, OptimalMatchesBruteForceOnSmallSamples) {
  std::mt19937 rng(1234);
  for (int trial = 0; trial < 200; ++trial) {
    std::uniform_int_distribution<int64_t> length(1, 40);
    std::vector<int64_t> observed(1 + rng() % 25);
    for (int64_t& l : observed) l = length(rng);
    const int k = 1 + static_cast<int>(rng() % 4);
    const BucketSet b = BucketSet::optimal(observed, k);
    SCOPED_TRACE(::testing::Message() << "trial " << trial << " buckets " << b.ToString());
    EXPECT_LE(static_cast<int>(b.lengths().size()), k);
    EXPECT_EQ(b.largest(), *std::max_element(observed.begin(), observed.end()));
    EXPECT_EQ(b.padding(observed), BruteForcePadding(observed, k));
  }
}

TEST(BucketSetTest, OptimalBeatsPowersOfTwoOnSkewedLengths) {
  // NaFlex-like: most images just over a power of two.
  std::mt19937 rng(7);
  std::vector<int64_t> observed;
  for (int i = 0; i < 1000; ++i) {
    const int64_t base = (i % 3 == 0) ? 66 : (i % 3 == 1) ? 132 : 200;
    observed.push_back(base + static_cast<int64_t>(rng() % 8));
  }
  const BucketSet optimal = BucketSet::optimal(observed, 3);
  const BucketSet pow2 = BucketSet::powers_of_two(64, 256);
  EXPECT_THAT(optimal.lengths(), ElementsAre(73, 139, 207));
  EXPECT_LT(optimal.padding(observed) * 10, pow2.padding(observed));
  EXPECT_EQ(BucketSet::optimal({5, 3, 9}, 8).lengths(), std::vector<int64_t>({3, 5, 9}));
  EXPECT_THROW(BucketSet::optimal({}, 3), Error);
  EXPECT_THROW(BucketSet::optimal({4}, 0), Error);
}

TEST(TokenBudgetBatcherTest, EmitsFullBatchesPerBucket) {
  TokenBudgetBatcher batcher(BucketSet::explicit_lengths({64, 128, 256}), 4096);
  EXPECT_EQ(batcher.batch_size(64), 64);
  EXPECT_EQ(batcher.batch_size(128), 32);
  EXPECT_EQ(batcher.batch_size(256), 16);
  EXPECT_THROW(batcher.batch_size(100), Error);
  std::vector<Batch> batches;
  int64_t id = 0;
  // 15 long samples, then 20 short ones, then one more long one completes its batch.
  for (int i = 0; i < 15; ++i) EXPECT_FALSE(batcher.add(id++, 200).has_value());
  for (int i = 0; i < 20; ++i) EXPECT_FALSE(batcher.add(id++, 100).has_value());
  std::optional<Batch> full = batcher.add(id++, 256);
  ASSERT_TRUE(full.has_value());
  EXPECT_EQ(full->bucket, 256);
  ASSERT_EQ(full->ids.size(), 16u);
  EXPECT_EQ(full->ids.front(), 0);
  EXPECT_EQ(full->ids.back(), 35);
  EXPECT_EQ(full->num_real(), 16);
  EXPECT_EQ(batcher.num_queued(), 20);
  // Evaluation: the partial bucket-128 batch is filled with weight-0 fillers.
  std::vector<Batch> rest = batcher.flush();
  ASSERT_EQ(rest.size(), 1u);
  EXPECT_EQ(rest[0].bucket, 128);
  ASSERT_EQ(rest[0].ids.size(), 32u);
  EXPECT_EQ(rest[0].num_real(), 20);
  EXPECT_EQ(rest[0].ids[20], -1);
  const std::vector<float> w = rest[0].weights();
  EXPECT_EQ(w[19], 1.0f);
  EXPECT_EQ(w[20], 0.0f);
  EXPECT_EQ(batcher.num_queued(), 0);
  EXPECT_THROW(batcher.add(-3, 10), Error);
  EXPECT_THROW(batcher.add(1, 300), Error);
  EXPECT_THROW(TokenBudgetBatcher(BucketSet::explicit_lengths({64, 8192}), 4096), Error);
}

TEST(PaddingTest, PadSequencesPlacesTokensAndMasksPadding) {
  // Two sequences of 2-value tokens: 2 tokens and 1 token, padded to 3; a filler.
  const PaddedSequences p = pad_sequences({{1, 2, 3, 4}, {5, 6}, {}}, 2, 3);
  EXPECT_EQ(p.values.sizes(), Sizes({3, 3, 2}));
  EXPECT_EQ(p.mask.dtype(), DType::kBool);
  EXPECT_THAT(p.values.to_vector<float>(),
              ElementsAre(1, 2, 3, 4, 0, 0, 5, 6, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0));
  EXPECT_THAT(p.mask.to_vector<bool>(),
              ElementsAre(true, true, false, true, false, false, false, false, false));
  try {
    pad_sequences({{1, 2, 3}}, 2, 3);
    FAIL() << "a ragged token must be refused";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("sequence 0 has 3 values; expected a multiple of feature 2"));
  }
  EXPECT_THROW(pad_sequences({{1, 2, 3, 4}}, 1, 3), Error);
  EXPECT_THROW(valid_mask({4}, 3), Error);
}

TEST(BucketStepTest, CountsStepsCompilesAndPaddingPerBucket) {
  metrics::reset();
  clear_compile_cache();
  auto step = [](int64_t bucket) {
    BucketStep stats(bucket, bucket - 3, bucket);
    Tensor x = ones({2, bucket});
    Tensor y = (x * 2.0f).sum({1});
    mark_step();
  };
  step(8);
  step(8);
  step(16);
  EXPECT_EQ(metrics::counter("Bucket8.Steps"), 2);
  EXPECT_EQ(metrics::counter("Bucket8.Compiles"), 1);
  EXPECT_EQ(metrics::counter("Bucket8.CacheHits"), 1);
  EXPECT_EQ(metrics::counter("Bucket16.Compiles"), 1);
  EXPECT_EQ(metrics::counter("Bucket8.PaddedTokens"), 6);
  const std::string report = bucket_report();
  EXPECT_THAT(report, HasSubstr("     8       2         1           1    37.5%"));
  EXPECT_THAT(report, HasSubstr("    16       1         1           0    18.8%"));
  EXPECT_THROW(BucketStep(8, 9, 8), Error);
}

}  // namespace
}  // namespace kiln
