#include "util/metrics.h"

#include <string>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kiln::metrics {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// The registry is process-wide, so each test uses names of its own.

TEST(MetricsTest, CounterAddsAndResets) {
  Counter* c = GetCounter("MetricsTestCounter");
  c->Reset();
  c->Add();
  c->Add(4);
  EXPECT_EQ(c->value(), 5);
  EXPECT_EQ(counter("MetricsTestCounter"), 5);
  c->Reset();
  EXPECT_EQ(c->value(), 0);
}

TEST(MetricsTest, SameNameSamePointer) {
  EXPECT_EQ(GetCounter("MetricsTestSame"), GetCounter("MetricsTestSame"));
  EXPECT_EQ(GetTimer("MetricsTestSame"), GetTimer("MetricsTestSame"));
  EXPECT_NE(GetCounter("MetricsTestSame"), GetCounter("MetricsTestOther"));
}

TEST(MetricsTest, UnknownNamesReadZero) {
  EXPECT_EQ(counter("MetricsTestNeverCreated"), 0);
  EXPECT_EQ(timer_count("MetricsTestNeverCreated"), 0);
}

TEST(MetricsTest, CounterIsThreadSafe) {
  Counter* c = GetCounter("MetricsTestThreads");
  c->Reset();
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([c] {
      for (int i = 0; i < 10000; ++i) c->Add();
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(c->value(), 40000);
}

TEST(MetricsTest, GaugeTracksLevelAndPeak) {
  Gauge* g = GetGauge("MetricsTestGauge");
  EXPECT_EQ(GetGauge("MetricsTestGauge"), g);
  g->Add(100);
  g->Add(50);
  g->Add(-120);
  EXPECT_EQ(g->value(), 30);
  EXPECT_EQ(g->peak(), 150);
  EXPECT_EQ(gauge("MetricsTestGauge"), 30);
  EXPECT_EQ(gauge_peak("MetricsTestGauge"), 150);
  EXPECT_THAT(report(), HasSubstr("Gauge: MetricsTestGauge\n  Value: 30\n  Peak: 150\n"));
  // reset() keeps the level (it still describes what exists) and restarts the peak.
  reset();
  EXPECT_EQ(g->value(), 30);
  EXPECT_EQ(g->peak(), 30);
  g->Add(10);
  EXPECT_EQ(g->peak(), 40);
  g->Add(-40);  // back to zero, so the report of later tests leaves it out
  reset();
  EXPECT_EQ(gauge("MetricsTestNeverCreated"), 0);
  EXPECT_EQ(gauge_peak("MetricsTestNeverCreated"), 0);
}

TEST(MetricsTest, GaugePeakIsThreadSafe) {
  Gauge* g = GetGauge("MetricsTestGaugeThreads");
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([g] {
      for (int i = 0; i < 10000; ++i) {
        g->Add(1);
        g->Add(-1);
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(g->value(), 0);
  EXPECT_GE(g->peak(), 1);
  EXPECT_LE(g->peak(), 4);
  reset();
}

TEST(MetricsTest, TimerCountTotalAndPercentiles) {
  Timer* t = GetTimer("MetricsTestTimer");
  t->Reset();
  // 100 samples 1ms..100ms, recorded out of order.
  for (int i = 100; i >= 1; --i) t->Record(i * 1e-3);
  EXPECT_EQ(t->count(), 100);
  EXPECT_EQ(timer_count("MetricsTestTimer"), 100);
  EXPECT_NEAR(t->total_seconds(), 5.050, 1e-9);
  EXPECT_DOUBLE_EQ(t->Percentile(0), 1e-3);
  EXPECT_DOUBLE_EQ(t->Percentile(1), 100e-3);
  // Nearest rank over the sorted samples: 0.5 * 99 = 49.5 rounds to index 50.
  EXPECT_DOUBLE_EQ(t->Percentile(0.5), 51e-3);
  EXPECT_DOUBLE_EQ(t->Percentile(0.9), 90e-3);  // 89.1 -> index 89
  // Out-of-range quantiles clamp.
  EXPECT_DOUBLE_EQ(t->Percentile(2.0), 100e-3);
}

TEST(MetricsTest, EmptyTimerPercentileIsZero) {
  Timer* t = GetTimer("MetricsTestEmptyTimer");
  t->Reset();
  EXPECT_EQ(t->Percentile(0.5), 0);
  EXPECT_EQ(t->count(), 0);
}

TEST(MetricsTest, PercentilesUseTheMostRecentSamples) {
  Timer* t = GetTimer("MetricsTestRing");
  t->Reset();
  for (size_t i = 0; i < Timer::kMaxSamples; ++i) t->Record(1.0);
  for (size_t i = 0; i < Timer::kMaxSamples; ++i) t->Record(2.0);
  EXPECT_EQ(t->count(), static_cast<int64_t>(2 * Timer::kMaxSamples));
  EXPECT_DOUBLE_EQ(t->total_seconds(), 3.0 * Timer::kMaxSamples);
  EXPECT_DOUBLE_EQ(t->Percentile(0), 2.0);  // every 1.0 has been overwritten
}

TEST(MetricsTest, ScopedTimerRecordsOneSample) {
  Timer* t = GetTimer("MetricsTestScoped");
  t->Reset();
  {
    ScopedTimer scoped(t);
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  EXPECT_EQ(t->count(), 1);
  EXPECT_GE(t->total_seconds(), 2e-3);
  EXPECT_LT(t->total_seconds(), 1.0);
}

TEST(MetricsTest, ReportFormat) {
  reset();
  GetCounter("CachedCompile")->Add(3);
  GetTimer("CompileTime")->Record(0.25);
  GetTimer("CompileTime")->Record(0.5);
  const std::string text = report();
  EXPECT_THAT(text, HasSubstr("Counter: CachedCompile\n  Value: 3\n"));
  EXPECT_THAT(text,
              HasSubstr("Metric: CompileTime\n  TotalSamples: 2\n  Accumulator: 750.000ms\n"));
  EXPECT_THAT(text, HasSubstr("  Percentiles: 50%=500.000ms; 90%=500.000ms; 99%=500.000ms\n"));
  // Zero counters and timers without samples are left out.
  GetCounter("MetricsTestZero");
  EXPECT_THAT(text, Not(HasSubstr("MetricsTestZero")));
}

TEST(MetricsTest, ReportIsSortedByName) {
  reset();
  GetCounter("MetricsTestB")->Add();
  GetCounter("MetricsTestA")->Add();
  const std::string text = report();
  EXPECT_LT(text.find("Counter: MetricsTestA"), text.find("Counter: MetricsTestB"));
}

TEST(MetricsTest, ResetZeroesEverythingButKeepsNames) {
  Counter* c = GetCounter("MetricsTestReset");
  Timer* t = GetTimer("MetricsTestReset");
  c->Add(2);
  t->Record(1);
  reset();
  EXPECT_EQ(c->value(), 0);
  EXPECT_EQ(t->count(), 0);
  EXPECT_EQ(t->total_seconds(), 0);
  EXPECT_EQ(report(), "");
  EXPECT_EQ(GetCounter("MetricsTestReset"), c);  // same object after the reset
}

}  // namespace
}  // namespace kiln::metrics
