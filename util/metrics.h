#pragma once
// Named counters and timers, in the spirit of PyTorch/XLA's metrics report:
//
//   metrics::GetCounter("CachedCompile")->Add();
//   { metrics::ScopedTimer t(metrics::GetTimer("CompileTime")); ... }
//   std::cout << kiln::metrics::report();
//
// Counters and timers live for the whole process in one registry, so a pointer from
// GetCounter/GetTimer may be cached in a static at the call site (the hot path then
// never looks up a name). All operations are thread-safe.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/synchronization/mutex.h"

namespace kiln::metrics {

class Counter {
 public:
  void Add(int64_t n = 1) { value_.fetch_add(n, std::memory_order_relaxed); }
  int64_t value() const { return value_.load(std::memory_order_relaxed); }
  void Reset() { value_.store(0, std::memory_order_relaxed); }

 private:
  std::atomic<int64_t> value_{0};
};

// Durations in seconds: count, total, and percentiles over the most recent samples.
class Timer {
 public:
  static constexpr size_t kMaxSamples = 1024;

  void Record(double seconds);
  int64_t count() const;
  double total_seconds() const;
  // q in [0, 1] over the last kMaxSamples samples; 0 when there are none.
  double Percentile(double q) const;
  void Reset();

 private:
  mutable absl::Mutex mu_;
  int64_t count_ = 0;
  double total_ = 0;
  std::vector<double> samples_;  // ring buffer of the last kMaxSamples
  size_t next_ = 0;
};

// Records the time from construction to destruction into `timer`.
class ScopedTimer {
 public:
  explicit ScopedTimer(Timer* timer) : timer_(timer), start_(std::chrono::steady_clock::now()) {}
  ~ScopedTimer();
  ScopedTimer(const ScopedTimer&) = delete;
  ScopedTimer& operator=(const ScopedTimer&) = delete;

 private:
  Timer* timer_;
  std::chrono::steady_clock::time_point start_;
};

// The counter or timer called `name`, created on first use; the pointer stays valid.
Counter* GetCounter(std::string_view name);
Timer* GetTimer(std::string_view name);

// Value of counter `name`, 0 if it was never created.
int64_t counter(std::string_view name);
// Count of timer `name`'s samples, 0 if it was never created.
int64_t timer_count(std::string_view name);

// Every counter and timer, one per line, sorted by name.
std::string report();

// Zeroes every counter and timer (names stay registered).
void reset();

}  // namespace kiln::metrics
