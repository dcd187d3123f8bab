#include "util/metrics.h"

#include <algorithm>
#include <map>
#include <memory>

#include "absl/strings/str_format.h"

namespace kiln::metrics {
namespace {

struct Registry {
  Mutex mu;
  // std::map: sorted for the report, and nodes never move, so pointers stay valid.
  std::map<std::string, std::unique_ptr<Counter>, std::less<>> counters ABSL_GUARDED_BY(mu);
  std::map<std::string, std::unique_ptr<Timer>, std::less<>> timers ABSL_GUARDED_BY(mu);
  std::map<std::string, std::unique_ptr<Gauge>, std::less<>> gauges ABSL_GUARDED_BY(mu);
};

Registry& registry() {
  static auto* r = new Registry;  // never destroyed: metrics may be read at exit
  return *r;
}

std::string FormatSeconds(double s) {
  if (s >= 1) return absl::StrFormat("%.3fs", s);
  if (s >= 1e-3) return absl::StrFormat("%.3fms", s * 1e3);
  return absl::StrFormat("%.3fus", s * 1e6);
}

}  // namespace

void Timer::Record(double seconds) {
  MutexLock lock(&mu_);
  ++count_;
  total_ += seconds;
  if (samples_.size() < kMaxSamples) {
    samples_.push_back(seconds);
  } else {
    samples_[next_] = seconds;
    next_ = (next_ + 1) % kMaxSamples;
  }
}

int64_t Timer::count() const {
  MutexLock lock(&mu_);
  return count_;
}

double Timer::total_seconds() const {
  MutexLock lock(&mu_);
  return total_;
}

double Timer::Percentile(double q) const {
  std::vector<double> sorted;
  {
    MutexLock lock(&mu_);
    sorted = samples_;
  }
  if (sorted.empty()) return 0;
  std::sort(sorted.begin(), sorted.end());
  const double rank = std::clamp(q, 0.0, 1.0) * static_cast<double>(sorted.size() - 1);
  return sorted[static_cast<size_t>(rank + 0.5)];
}

void Timer::Reset() {
  MutexLock lock(&mu_);
  count_ = 0;
  total_ = 0;
  samples_.clear();
  next_ = 0;
}

ScopedTimer::~ScopedTimer() {
  timer_->Record(std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count());
}

Counter* GetCounter(std::string_view name) {
  Registry& r = registry();
  MutexLock lock(&r.mu);
  auto it = r.counters.find(name);
  if (it == r.counters.end()) {
    it = r.counters.emplace(std::string(name), std::make_unique<Counter>()).first;
  }
  return it->second.get();
}

Gauge* GetGauge(std::string_view name) {
  Registry& r = registry();
  MutexLock lock(&r.mu);
  auto it = r.gauges.find(name);
  if (it == r.gauges.end()) {
    it = r.gauges.emplace(std::string(name), std::make_unique<Gauge>()).first;
  }
  return it->second.get();
}

Timer* GetTimer(std::string_view name) {
  Registry& r = registry();
  MutexLock lock(&r.mu);
  auto it = r.timers.find(name);
  if (it == r.timers.end()) {
    it = r.timers.emplace(std::string(name), std::make_unique<Timer>()).first;
  }
  return it->second.get();
}

int64_t counter(std::string_view name) {
  Registry& r = registry();
  MutexLock lock(&r.mu);
  auto it = r.counters.find(name);
  return it == r.counters.end() ? 0 : it->second->value();
}

int64_t gauge(std::string_view name) {
  Registry& r = registry();
  MutexLock lock(&r.mu);
  auto it = r.gauges.find(name);
  return it == r.gauges.end() ? 0 : it->second->value();
}

int64_t gauge_peak(std::string_view name) {
  Registry& r = registry();
  MutexLock lock(&r.mu);
  auto it = r.gauges.find(name);
  return it == r.gauges.end() ? 0 : it->second->peak();
}

int64_t timer_count(std::string_view name) {
  Registry& r = registry();
  MutexLock lock(&r.mu);
  auto it = r.timers.find(name);
  return it == r.timers.end() ? 0 : it->second->count();
}

std::string report() {
  Registry& r = registry();
  MutexLock lock(&r.mu);
  std::string out;
  for (const auto& [name, timer] : r.timers) {
    const int64_t n = timer->count();
    if (n == 0) continue;
    absl::StrAppendFormat(&out, "Metric: %s\n  TotalSamples: %d\n  Accumulator: %s\n", name, n,
                          FormatSeconds(timer->total_seconds()));
    absl::StrAppendFormat(
        &out, "  Percentiles: 50%%=%s; 90%%=%s; 99%%=%s\n", FormatSeconds(timer->Percentile(0.5)),
        FormatSeconds(timer->Percentile(0.9)), FormatSeconds(timer->Percentile(0.99)));
  }
  for (const auto& [name, g] : r.gauges) {
    if (g->value() == 0 && g->peak() == 0) continue;
    absl::StrAppendFormat(&out, "Gauge: %s\n  Value: %d\n  Peak: %d\n", name, g->value(),
                          g->peak());
  }
  for (const auto& [name, c] : r.counters) {
    if (c->value() == 0) continue;
    absl::StrAppendFormat(&out, "Counter: %s\n  Value: %d\n", name, c->value());
  }
  return out;
}

void reset() {
  Registry& r = registry();
  MutexLock lock(&r.mu);
  for (auto& [name, c] : r.counters) c->Reset();
  for (auto& [name, t] : r.timers) t->Reset();
  for (auto& [name, g] : r.gauges) g->ResetPeak();
}

}  // namespace kiln::metrics
