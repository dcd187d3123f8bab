#pragma once
// A Chrome trace-event recorder (KILN_TRACE=file.json): complete ("X") events kept in
// memory and written as one JSON object that Perfetto and chrome://tracing open.
//
//   trace_events::Span span("compile", "compile");   // records only when tracing is on
//   if (span.enabled()) span.AddArg("graph", hash.ToString());
//   ...                                              // the span ends with the scope
//
//   file: {"traceEvents":[{"name":"compile","cat":"compile","ph":"X","ts":12.345,
//          "dur":830.2,"pid":4242,"tid":1,"args":{"graph":"9bb58f0e..."}}, ...]}
//
// ts and dur are microseconds; ts counts from when the process started. tid is a small
// number per thread, in order of first event. The file is rewritten whole (so it is
// always valid JSON) by Flush() and once at process exit, to the path KILN_TRACE names
// at that moment. Events past kMaxEvents are dropped with one warning, so a long run
// cannot exhaust memory. All functions are thread-safe.
#include <chrono>
#include <cstddef>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"

namespace kiln::trace_events {

using Clock = std::chrono::steady_clock;

// Key and value of an event argument (shown in the viewer's details pane).
using Arg = std::pair<std::string, std::string>;

// The most events kept (about 100 MB of memory and file at the limit).
inline constexpr size_t kMaxEvents = size_t{1} << 20;

// True when KILN_TRACE names a file. Reads the config: callers on a hot path cache it.
bool Enabled();

// Records a complete event from `start` to `end` on the calling thread, whether or not
// tracing is on (callers check Enabled()).
void Record(const std::string& name, const std::string& category, Clock::time_point start,
            Clock::time_point end, std::vector<Arg> args = {});

// Records the time from construction to destruction, when tracing was on at construction.
class Span {
 public:
  Span(std::string name, std::string category);
  ~Span();
  Span(const Span&) = delete;
  Span& operator=(const Span&) = delete;

  // Whether this span records: guard costly argument values with it.
  bool enabled() const { return enabled_; }
  void AddArg(std::string key, std::string value);

 private:
  bool enabled_;
  std::string name_;
  std::string category_;
  Clock::time_point start_;
  std::vector<Arg> args_;
};

// Every recorded event as the trace JSON object.
std::string ToJson();

// Writes ToJson() to the KILN_TRACE file (nothing to do when it is unset).
absl::Status Flush();

// Writes ToJson() to `path`, replacing it.
absl::Status WriteFile(const std::string& path);

// Events recorded so far (dropped ones not counted).
size_t NumEvents();

// Forgets every event (for tests).
void ClearForTesting();

}  // namespace kiln::trace_events
