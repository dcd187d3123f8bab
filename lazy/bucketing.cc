#include "lazy/bucketing.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <mutex>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "lazy/precompile.h"
#include "util/error.h"
#include "util/metrics.h"

namespace kiln {
namespace {

std::vector<int64_t> SortedUnique(std::vector<int64_t> v) {
  std::sort(v.begin(), v.end());
  v.erase(std::unique(v.begin(), v.end()), v.end());
  return v;
}

// Buckets that ran a BucketStep, for bucket_report().
struct SeenBuckets {
  std::mutex mu;
  std::set<int64_t> lengths;
};

SeenBuckets& seen_buckets() {
  static auto* seen = new SeenBuckets;
  return *seen;
}

std::string CounterName(int64_t bucket, const char* what) {
  return absl::StrCat("Bucket", bucket, ".", what);
}

}  // namespace

BucketSet BucketSet::explicit_lengths(std::vector<int64_t> lengths) {
  if (lengths.empty()) throw Error("BucketSet::explicit_lengths: no lengths given");
  for (int64_t l : lengths) {
    if (l <= 0) {
      throw Error(absl::StrCat("BucketSet::explicit_lengths: length ", l, " in [",
                               absl::StrJoin(lengths, ", "), "] is not positive"));
    }
  }
  return BucketSet(SortedUnique(std::move(lengths)));
}

BucketSet BucketSet::powers_of_two(int64_t min_length, int64_t max_length) {
  if (min_length <= 0 || max_length < min_length) {
    throw Error(absl::StrCat("BucketSet::powers_of_two: needs 0 < min_length <= max_length, got ",
                             min_length, " and ", max_length));
  }
  std::vector<int64_t> lengths = {min_length};
  while (lengths.back() < max_length) {
    if (lengths.back() > std::numeric_limits<int64_t>::max() / 2) {
      throw Error(absl::StrCat("BucketSet::powers_of_two: max_length ", max_length, " too large"));
    }
    lengths.push_back(lengths.back() * 2);
  }
  return BucketSet(std::move(lengths));
}

BucketSet BucketSet::optimal(const std::vector<int64_t>& observed, int k) {
  if (observed.empty() || k <= 0) {
    throw Error(absl::StrCat("BucketSet::optimal: needs observed lengths and k > 0, got ",
                             observed.size(), " lengths and k = ", k));
  }
  for (int64_t l : observed) {
    if (l <= 0) throw Error(absl::StrCat("BucketSet::optimal: observed length ", l, " <= 0"));
  }
  // Distinct lengths v[0] < ... < v[m-1] with counts; a bucket ending at v[b] holds the
  // lengths after the previous bucket, and each pads up to v[b].
  std::vector<int64_t> sorted = observed;
  std::sort(sorted.begin(), sorted.end());
  std::vector<int64_t> v;
  std::vector<int64_t> count;
  for (int64_t l : sorted) {
    if (v.empty() || v.back() != l) {
      v.push_back(l);
      count.push_back(0);
    }
    ++count.back();
  }
  const int m = static_cast<int>(v.size());
  if (k >= m) return BucketSet(v);
  // prefix_n[i], prefix_sum[i]: count and total length of v[0..i).
  std::vector<int64_t> prefix_n(m + 1, 0), prefix_sum(m + 1, 0);
  for (int i = 0; i < m; ++i) {
    prefix_n[i + 1] = prefix_n[i] + count[i];
    prefix_sum[i + 1] = prefix_sum[i] + count[i] * v[i];
  }
  // Padding when v[a..b] all pad to v[b].
  auto cost = [&](int a, int b) {
    return (prefix_n[b + 1] - prefix_n[a]) * v[b] - (prefix_sum[b + 1] - prefix_sum[a]);
  };
  constexpr int64_t kInf = std::numeric_limits<int64_t>::max();
  // best[j][b]: least padding of v[0..b] with j + 1 buckets, the last ending at v[b].
  std::vector<std::vector<int64_t>> best(k, std::vector<int64_t>(m, kInf));
  std::vector<std::vector<int>> prev(k, std::vector<int>(m, -1));
  for (int b = 0; b < m; ++b) best[0][b] = cost(0, b);
  for (int j = 1; j < k; ++j) {
    for (int b = j; b < m; ++b) {
      for (int a = j - 1; a < b; ++a) {
        if (best[j - 1][a] == kInf) continue;
        const int64_t c = best[j - 1][a] + cost(a + 1, b);
        if (c < best[j][b]) {
          best[j][b] = c;
          prev[j][b] = a;
        }
      }
    }
  }
  std::vector<int64_t> lengths;
  for (int j = k - 1, b = m - 1; j >= 0; b = prev[j][b], --j) lengths.push_back(v[b]);
  std::reverse(lengths.begin(), lengths.end());
  return BucketSet(std::move(lengths));
}

int64_t BucketSet::bucket_for(int64_t length) const {
  auto it = std::lower_bound(lengths_.begin(), lengths_.end(), length);
  if (length <= 0 || it == lengths_.end()) {
    throw Error(absl::StrCat("bucket_for: length ", length, " does not fit the buckets ",
                             ToString(), ": expected 1..", largest()));
  }
  return *it;
}

int64_t BucketSet::padding(const std::vector<int64_t>& lengths) const {
  int64_t total = 0;
  for (int64_t l : lengths) total += bucket_for(l) - l;
  return total;
}

std::string BucketSet::ToString() const {
  return absl::StrCat("{", absl::StrJoin(lengths_, ", "), "}");
}

int64_t Batch::num_real() const {
  return std::count_if(ids.begin(), ids.end(), [](int64_t id) { return id >= 0; });
}

std::vector<float> Batch::weights() const {
  std::vector<float> w;
  w.reserve(ids.size());
  for (int64_t id : ids) w.push_back(id >= 0 ? 1.0f : 0.0f);
  return w;
}

TokenBudgetBatcher::TokenBudgetBatcher(BucketSet buckets, int64_t token_budget)
    : buckets_(std::move(buckets)),
      token_budget_(token_budget),
      queues_(buckets_.lengths().size()) {
  if (token_budget < buckets_.largest()) {
    throw Error(absl::StrCat("TokenBudgetBatcher: token budget ", token_budget,
                             " is smaller than the largest bucket ", buckets_.largest(),
                             " of ", buckets_.ToString()));
  }
}

int64_t TokenBudgetBatcher::batch_size(int64_t bucket) const {
  const auto& l = buckets_.lengths();
  if (!std::binary_search(l.begin(), l.end(), bucket)) {
    throw Error(absl::StrCat("TokenBudgetBatcher::batch_size: ", bucket, " is not one of the buckets ",
                             buckets_.ToString()));
  }
  return token_budget_ / bucket;
}

std::optional<Batch> TokenBudgetBatcher::add(int64_t id, int64_t length) {
  if (id < 0) throw Error(absl::StrCat("TokenBudgetBatcher::add: sample id ", id, " < 0"));
  const int64_t bucket = buckets_.bucket_for(length);
  const auto& l = buckets_.lengths();
  std::vector<int64_t>& queue = queues_[std::lower_bound(l.begin(), l.end(), bucket) - l.begin()];
  queue.push_back(id);
  if (static_cast<int64_t>(queue.size()) < token_budget_ / bucket) return std::nullopt;
  Batch batch{bucket, std::move(queue)};
  queue.clear();
  return batch;
}

int64_t TokenBudgetBatcher::num_queued() const {
  int64_t n = 0;
  for (const auto& q : queues_) n += static_cast<int64_t>(q.size());
  return n;
}

std::vector<Batch> TokenBudgetBatcher::flush() {
  std::vector<Batch> batches;
  for (size_t b = 0; b < queues_.size(); ++b) {
    if (queues_[b].empty()) continue;
    const int64_t bucket = buckets_.lengths()[b];
    Batch batch{bucket, std::move(queues_[b])};
    batch.ids.resize(token_budget_ / bucket, -1);
    batches.push_back(std::move(batch));
    queues_[b].clear();
  }
  return batches;
}

void TokenBudgetBatcher::clear() {
  for (auto& q : queues_) q.clear();
}

PaddedSequences pad_sequences(const std::vector<std::vector<float>>& sequences, int64_t feature,
                              int64_t bucket, CallSite site) {
  if (feature <= 0 || bucket <= 0) {
    throw Error(absl::StrCat("pad_sequences: feature ", feature, " and bucket ", bucket,
                             " must be positive"));
  }
  const int64_t batch = static_cast<int64_t>(sequences.size());
  std::vector<float> values(batch * bucket * feature, 0.0f);
  std::vector<int64_t> lengths;
  lengths.reserve(batch);
  for (int64_t b = 0; b < batch; ++b) {
    const std::vector<float>& s = sequences[b];
    const int64_t size = static_cast<int64_t>(s.size());
    if (size % feature != 0 || size / feature > bucket) {
      throw Error(absl::StrCat("pad_sequences: sequence ", b, " has ", size,
                               " values; expected a multiple of feature ", feature,
                               " and at most bucket ", bucket, " tokens"));
    }
    if (size > 0) std::memcpy(&values[b * bucket * feature], s.data(), size * sizeof(float));
    lengths.push_back(size / feature);
  }
  return {Tensor::from_vector(values, {batch, bucket, feature}, site),
          valid_mask(lengths, bucket, site)};
}

Tensor valid_mask(const std::vector<int64_t>& lengths, int64_t bucket, CallSite site) {
  const int64_t batch = static_cast<int64_t>(lengths.size());
  std::vector<bool> mask(batch * bucket, false);
  for (int64_t b = 0; b < batch; ++b) {
    if (lengths[b] < 0 || lengths[b] > bucket) {
      throw Error(absl::StrCat("valid_mask: length ", lengths[b], " of sequence ", b,
                               " is outside 0..", bucket));
    }
    std::fill(mask.begin() + b * bucket, mask.begin() + b * bucket + lengths[b], true);
  }
  return Tensor::from_vector(mask, {batch, bucket}, site);
}

BucketStep::BucketStep(int64_t bucket, int64_t valid_tokens, int64_t total_tokens)
    : bucket_(bucket),
      valid_tokens_(valid_tokens),
      total_tokens_(total_tokens),
      compiles_at_start_(metrics::counter("UncachedCompile")),
      hits_at_start_(metrics::counter("CachedCompile")) {
  if (bucket <= 0 || valid_tokens < 0 || total_tokens < valid_tokens) {
    throw Error(absl::StrCat("BucketStep: bucket ", bucket, ", valid tokens ", valid_tokens,
                             ", total tokens ", total_tokens,
                             ": expected bucket > 0 and 0 <= valid <= total"));
  }
}

BucketStep::~BucketStep() {
  metrics::GetCounter(CounterName(bucket_, "Compiles"))
      ->Add(metrics::counter("UncachedCompile") - compiles_at_start_);
  metrics::GetCounter(CounterName(bucket_, "CacheHits"))
      ->Add(metrics::counter("CachedCompile") - hits_at_start_);
  // A step traced by precompile compiles but does not run.
  if (!precompiling()) {
    metrics::GetCounter(CounterName(bucket_, "Steps"))->Add();
    metrics::GetCounter(CounterName(bucket_, "ValidTokens"))->Add(valid_tokens_);
    metrics::GetCounter(CounterName(bucket_, "PaddedTokens"))
        ->Add(total_tokens_ - valid_tokens_);
  }
  SeenBuckets& seen = seen_buckets();
  std::lock_guard<std::mutex> lock(seen.mu);
  seen.lengths.insert(bucket_);
}

std::string bucket_report() {
  std::set<int64_t> lengths;
  {
    SeenBuckets& seen = seen_buckets();
    std::lock_guard<std::mutex> lock(seen.mu);
    lengths = seen.lengths;
  }
  std::string out = "bucket   steps  compiles  cache_hits  padding\n";
  for (int64_t l : lengths) {
    auto get = [&](const char* what) { return metrics::counter(CounterName(l, what)); };
    if (get("Steps") + get("Compiles") == 0) continue;  // reset since
    const int64_t valid = get("ValidTokens"), padded = get("PaddedTokens");
    const double fraction = valid + padded > 0 ? static_cast<double>(padded) / (valid + padded) : 0;
    absl::StrAppend(&out, absl::StrFormat("%6d %7d %9d %11d %7.1f%%\n", l, get("Steps"),
                                          get("Compiles"), get("CacheHits"), 100 * fraction));
  }
  return out;
}

}  // namespace kiln
