#include "util/trace_events.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "util/config.h"
#include "util/json.h"

namespace kiln::trace_events {
namespace {

using ::testing::HasSubstr;

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// The parsed "traceEvents" array of `text`, every event checked for the complete-event
// fields; fails the test (and returns empty) when the JSON or an event is malformed.
std::vector<Json> Events(const std::string& text) {
  absl::StatusOr<Json> doc = Json::Parse(text);
  EXPECT_TRUE(doc.ok()) << doc.status() << "\n" << text;
  if (!doc.ok()) return {};
  EXPECT_TRUE(doc->is_object());
  const Json* events = doc->Find("traceEvents");
  EXPECT_TRUE(events != nullptr && events->is_array()) << text;
  if (events == nullptr) return {};
  for (const Json& e : events->array()) {
    EXPECT_TRUE(e.is_object());
    const Json* ph = e.Find("ph");
    EXPECT_TRUE(ph != nullptr && ph->is_string() && ph->string() == "X");
    for (const char* key : {"name", "cat"}) {
      const Json* v = e.Find(key);
      EXPECT_TRUE(v != nullptr && v->is_string()) << key;
    }
    for (const char* key : {"ts", "dur", "pid", "tid"}) {
      const Json* v = e.Find(key);
      EXPECT_TRUE(v != nullptr && v->is_number() && v->number() >= 0) << key;
    }
  }
  return events->array();
}

class TraceEventsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ClearForTesting();
    path_ = (std::filesystem::path(::testing::TempDir()) /
             ("kiln_trace_test_" + std::to_string(::getpid()) + ".json"))
                .string();
    std::filesystem::remove(path_);
  }
  void TearDown() override {
    ClearForTesting();
    std::filesystem::remove(path_);
  }
  std::string path_;
};

TEST_F(TraceEventsTest, SpansRecordNothingWhenTracingIsOff) {
  ScopedConfigOverride cfg;
  cfg->trace = "";
  EXPECT_FALSE(Enabled());
  {
    Span span("compile", "compile");
    EXPECT_FALSE(span.enabled());
    span.AddArg("graph", "abc");
  }
  EXPECT_EQ(NumEvents(), 0u);
  EXPECT_TRUE(Flush().ok());
  EXPECT_FALSE(std::filesystem::exists(path_));
}

TEST_F(TraceEventsTest, FlushWritesValidJsonWithEscapedNamesAndArgs) {
  ScopedConfigOverride cfg;
  cfg->trace = path_;
  ASSERT_TRUE(Enabled());
  const std::string odd = "say \"hi\"\\ tab\there\nnew\x01line";
  {
    Span outer("execute", "execute");
    outer.AddArg("graph", "9bb58f0e");
    {
      Span inner(odd, "kernel");
      inner.AddArg(odd, odd);
    }
  }
  ASSERT_EQ(NumEvents(), 2u);
  ASSERT_TRUE(Flush().ok());
  const std::string text = ReadAll(path_);
  EXPECT_THAT(text, HasSubstr("\\\"hi\\\""));
  EXPECT_THAT(text, HasSubstr("\\u0001"));
  const std::vector<Json> events = Events(text);
  ASSERT_EQ(events.size(), 2u);
  // The inner span ends first, so it is recorded first.
  const Json& inner = events[0];
  const Json& outer = events[1];
  EXPECT_EQ(inner.Find("name")->string(), odd);
  EXPECT_EQ(inner.Find("cat")->string(), "kernel");
  ASSERT_NE(inner.Find("args"), nullptr);
  ASSERT_EQ(inner.Find("args")->members().size(), 1u);
  EXPECT_EQ(inner.Find("args")->members()[0].first, odd);
  EXPECT_EQ(inner.Find("args")->members()[0].second.string(), odd);
  EXPECT_EQ(outer.Find("name")->string(), "execute");
  EXPECT_EQ(outer.Find("args")->Find("graph")->string(), "9bb58f0e");
  // Nesting: the outer span contains the inner one (rounding to nanoseconds).
  const double outer_ts = outer.Find("ts")->number(), inner_ts = inner.Find("ts")->number();
  EXPECT_LE(outer_ts, inner_ts + 0.001);
  EXPECT_GE(outer_ts + outer.Find("dur")->number() + 0.002, inner_ts + inner.Find("dur")->number());
  EXPECT_EQ(outer.Find("tid")->number(), inner.Find("tid")->number());
  EXPECT_EQ(outer.Find("pid")->number(), static_cast<double>(::getpid()));
}

TEST_F(TraceEventsTest, RecordUsesTheGivenTimes) {
  const Clock::time_point start = Clock::now();
  Record("trace", "trace", start, start + std::chrono::microseconds(1500), {{"k", "v"}});
  Record("backwards", "trace", start, start - std::chrono::microseconds(5));
  const std::vector<Json> events = Events(ToJson());
  ASSERT_EQ(events.size(), 2u);
  EXPECT_NEAR(events[0].Find("dur")->number(), 1500.0, 0.001);
  EXPECT_EQ(events[0].Find("args")->Find("k")->string(), "v");
  EXPECT_EQ(events[1].Find("dur")->number(), 0.0);  // clamped, never negative
  EXPECT_EQ(events[1].Find("args"), nullptr);
}

TEST_F(TraceEventsTest, EmptyTraceIsValidJson) {
  const std::vector<Json> events = Events(ToJson());
  EXPECT_TRUE(events.empty());
  EXPECT_TRUE(Json::Parse(ToJson()).ok());
}

TEST_F(TraceEventsTest, ThreadsRecordConcurrentlyWithTheirOwnTids) {
  constexpr int kThreads = 4, kPerThread = 250;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([t] {
      for (int i = 0; i < kPerThread; ++i) {
        const Clock::time_point now = Clock::now();
        Record("k" + std::to_string(t), "kernel", now, now);
      }
    });
  }
  for (std::thread& t : threads) t.join();
  ASSERT_EQ(NumEvents(), size_t{kThreads * kPerThread});
  const std::vector<Json> events = Events(ToJson());
  ASSERT_EQ(events.size(), size_t{kThreads * kPerThread});
  // Each name (thread) maps to one tid, and the threads' tids differ.
  std::set<std::pair<std::string, double>> name_tid;
  std::set<double> tids;
  for (const Json& e : events) {
    name_tid.emplace(e.Find("name")->string(), e.Find("tid")->number());
    tids.insert(e.Find("tid")->number());
  }
  EXPECT_EQ(name_tid.size(), size_t{kThreads});
  EXPECT_EQ(tids.size(), size_t{kThreads});
}

TEST_F(TraceEventsTest, FlushRewritesTheWholeFile) {
  ScopedConfigOverride cfg;
  cfg->trace = path_;
  { Span a("first", "test"); }
  ASSERT_TRUE(Flush().ok());
  { Span b("second", "test"); }
  ASSERT_TRUE(Flush().ok());
  const std::vector<Json> events = Events(ReadAll(path_));
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].Find("name")->string(), "first");
  EXPECT_EQ(events[1].Find("name")->string(), "second");
}

TEST_F(TraceEventsTest, UnwritablePathIsAnError) {
  ScopedConfigOverride cfg;
  cfg->trace = "/nonexistent-kiln-dir/sub/trace.json";
  { Span a("x", "test"); }
  const absl::Status status = Flush();
  EXPECT_FALSE(status.ok());
  EXPECT_THAT(std::string(status.message()), HasSubstr("/nonexistent-kiln-dir/sub/trace.json"));
}


}  // namespace
}  // namespace kiln::trace_events
