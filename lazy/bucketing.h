#pragma once
// Shape bucketing for variable-length sequences (NaFlex images at their native aspect
// ratio give a new token count every batch). Lengths are padded up to a few bucket
// lengths and padded tokens are masked, so each bucket compiles once.
//
//   auto buckets = kiln::BucketSet::optimal(observed_lengths, 3);  // e.g. {61, 130, 256}
//   kiln::TokenBudgetBatcher batcher(buckets, 4096);                // batch = 4096 / bucket
//   if (auto batch = batcher.add(sample_id, num_tokens)) {
//     kiln::PaddedSequences in = kiln::pad_sequences(tokens_of(*batch), 768, batch->bucket);
//     kiln::BucketStep stats(batch->bucket, valid_tokens);  // per-bucket metrics
//     ... forward(in.values, in.mask), backward, step, kiln::mark_step() ...
//   }
//   std::cout << kiln::bucket_report();
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "lazy/tensor.h"

namespace kiln {

// A sorted set of distinct positive bucket lengths.
class BucketSet {
 public:
  // Exactly these lengths (any order, duplicates dropped). Throws kiln::Error when empty
  // or when a length is not positive.
  static BucketSet explicit_lengths(std::vector<int64_t> lengths);
  // min_length, 2*min_length, ... up to the first power-of-two multiple >= max_length.
  static BucketSet powers_of_two(int64_t min_length, int64_t max_length);
  // The k lengths that minimise the total padding of `observed` (a sample of sequence
  // lengths) when each length is padded to the smallest bucket holding it: an exact
  // dynamic program over the sorted distinct lengths, O(k * distinct^2). Every bucket is
  // an observed length and the largest is the longest observed; with k >= distinct
  // lengths, every distinct length is a bucket.
  static BucketSet optimal(const std::vector<int64_t>& observed, int k);

  const std::vector<int64_t>& lengths() const { return lengths_; }
  int64_t largest() const { return lengths_.back(); }
  // The smallest bucket >= `length`. Throws kiln::Error for a length that is not
  // positive or longer than the largest bucket.
  int64_t bucket_for(int64_t length) const;
  // Padded positions when every length in `lengths` goes to its bucket.
  int64_t padding(const std::vector<int64_t>& lengths) const;
  std::string ToString() const;  // "{64, 128, 256}"

 private:
  explicit BucketSet(std::vector<int64_t> lengths) : lengths_(std::move(lengths)) {}
  std::vector<int64_t> lengths_;
};

// A batch of samples that share one bucket length.
struct Batch {
  int64_t bucket = 0;
  // Sample ids; -1 marks a filler slot (evaluation's last batches), which has weight 0.
  std::vector<int64_t> ids;
  int64_t num_real() const;
  // 1 for a real sample, 0 for a filler: a loss weight that ignores fillers.
  std::vector<float> weights() const;
};

// Forms batches under a token budget: a batch of bucket L holds budget / L samples, so
// every batch has about the same number of tokens and the (batch, length) shape depends
// on the bucket only. Samples queue per bucket; a batch is emitted when its queue is full.
class TokenBudgetBatcher {
 public:
  // Throws kiln::Error when the budget is smaller than the largest bucket.
  TokenBudgetBatcher(BucketSet buckets, int64_t token_budget);

  const BucketSet& buckets() const { return buckets_; }
  int64_t batch_size(int64_t bucket) const;
  // Queues sample `id` (>= 0) of `length` tokens; returns the full batch it completes.
  std::optional<Batch> add(int64_t id, int64_t length);
  // Samples queued and not yet emitted.
  int64_t num_queued() const;
  // For evaluation: every partial batch, filled to full size with -1 fillers (weight 0)
  // so its shape is one already compiled, in bucket order; the queues are emptied.
  // Training drops partial batches instead (clear()).
  std::vector<Batch> flush();
  void clear();

 private:
  BucketSet buckets_;
  int64_t token_budget_;
  std::vector<std::vector<int64_t>> queues_;  // per bucket, in lengths() order
};

// A padded batch: values [B, bucket, feature] with zeros after each sequence, and the
// valid-token mask bool [B, bucket] (true for a real token), ready for attention's key
// padding mask.
struct PaddedSequences {
  Tensor values;
  Tensor mask;
};

// sequences[b] holds lengths[b] * feature values (row-major tokens); a filler sample is an
// empty sequence (length 0, all masked). Throws kiln::Error when a sequence's size is not
// a multiple of `feature` or it is longer than `bucket`.
PaddedSequences pad_sequences(const std::vector<std::vector<float>>& sequences, int64_t feature,
                              int64_t bucket, CallSite site = {});
// The mask alone, for inputs padded elsewhere: bool [lengths.size(), bucket].
Tensor valid_mask(const std::vector<int64_t>& lengths, int64_t bucket, CallSite site = {});

// Per-bucket metrics for one step, recorded when the scope ends: counters
// Bucket<L>.Steps, .Compiles and .CacheHits (the executor's UncachedCompile and
// CachedCompile during the scope), .ValidTokens and .PaddedTokens. A step that throws
// still counts its compiles; a step traced by kiln::precompile counts only its compiles.
class BucketStep {
 public:
  BucketStep(int64_t bucket, int64_t valid_tokens, int64_t total_tokens);
  ~BucketStep();
  BucketStep(const BucketStep&) = delete;
  BucketStep& operator=(const BucketStep&) = delete;

 private:
  int64_t bucket_, valid_tokens_, total_tokens_;
  int64_t compiles_at_start_, hits_at_start_;
};

// One line per bucket that ran a step: steps, compiles, cache hits, padding fraction.
std::string bucket_report();

}  // namespace kiln
