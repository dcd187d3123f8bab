#pragma once
// Named counters, gauges and timers, in the spirit of PyTorch/XLA's metrics report:
//
//   metrics::GetCounter("CachedCompile")->Add();
//   metrics::GetGauge("HostBytesInUse")->Add(+bytes);   // ... ->Add(-bytes) when freed
//   { metrics::ScopedTimer t(metrics::GetTimer("CompileTime")); ... }
//   std::cout << kiln::metrics::report();
//
// Counters, gauges and timers live for the whole process in one registry, so a pointer
// from GetCounter/GetGauge/GetTimer may be cached in a static at the call site (the hot path then
// never looks up a name). All operations are thread-safe.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "util/mutex.h"

namespace kiln::metrics {

class Counter {
 public:
  void Add(int64_t n = 1) { value_.fetch_add(n, std::memory_order_relaxed); }
  int64_t value() const { return value_.load(std::memory_order_relaxed); }
  void Reset() { value_.store(0, std::memory_order_relaxed); }

 private:
  std::atomic<int64_t> value_{0};
};

// A level that goes up and down (bytes in use) and its high-water mark. reset() keeps
// the level, which still describes what exists, and restarts the peak from it: a test
// resets, runs one step, and reads that step's peak.
class Gauge {
 public:
  // Adds `delta` (negative to lower the level) and raises the peak if the level passes it.
  void Add(int64_t delta) {
    const int64_t now = value_.fetch_add(delta, std::memory_order_relaxed) + delta;
    int64_t peak = peak_.load(std::memory_order_relaxed);
    while (now > peak && !peak_.compare_exchange_weak(peak, now, std::memory_order_relaxed)) {
    }
  }
  int64_t value() const { return value_.load(std::memory_order_relaxed); }
  int64_t peak() const { return peak_.load(std::memory_order_relaxed); }
  // Restarts the peak from the current level.
  void ResetPeak() { peak_.store(value(), std::memory_order_relaxed); }

 private:
  std::atomic<int64_t> value_{0};
  std::atomic<int64_t> peak_{0};
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
  mutable Mutex mu_;
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

// The counter, gauge or timer called `name`, created on first use; the pointer stays
// valid.
Counter* GetCounter(std::string_view name);
Gauge* GetGauge(std::string_view name);
Timer* GetTimer(std::string_view name);

// Value of counter `name`, 0 if it was never created.
int64_t counter(std::string_view name);
// Level and peak of gauge `name`, 0 if it was never created.
int64_t gauge(std::string_view name);
int64_t gauge_peak(std::string_view name);
// Count of timer `name`'s samples, 0 if it was never created.
int64_t timer_count(std::string_view name);

// Every timer, gauge and counter that has seen a value, sorted by name within each kind.
std::string report();

// Zeroes every counter and timer and restarts every gauge's peak from its level (names
// stay registered).
void reset();

}  // namespace kiln::metrics
