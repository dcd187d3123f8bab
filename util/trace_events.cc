#include "util/trace_events.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <mutex>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "util/config.h"
#include "util/json.h"

namespace kiln::trace_events {
namespace {

// Timestamps count from here: set during static initialisation, before main.
const Clock::time_point kEpoch = Clock::now();

struct Event {
  std::string name;
  std::string category;
  double ts_us = 0;
  double dur_us = 0;
  int tid = 0;
  std::vector<Arg> args;
};

struct Recorder {
  std::mutex mu;
  std::vector<Event> events;  // guarded by mu
  bool warned_full = false;   // guarded by mu
};

Recorder& recorder() {
  // Never destroyed, so the atexit writer (and spans ending during exit) can use it.
  static auto* r = [] {
    auto* rec = new Recorder;
    std::atexit([] {
      const absl::Status status = Flush();
      if (!status.ok()) {
        std::fprintf(stderr, "kiln: warning: KILN_TRACE: %s\n",
                     std::string(status.message()).c_str());
      }
    });
    return rec;
  }();
  return *r;
}

int ThreadId() {
  static std::atomic<int> next{1};
  thread_local const int id = next.fetch_add(1, std::memory_order_relaxed);
  return id;
}

double Micros(Clock::duration d) { return std::chrono::duration<double, std::micro>(d).count(); }

}  // namespace

bool Enabled() { return !config().trace.empty(); }

void Record(const std::string& name, const std::string& category, Clock::time_point start,
            Clock::time_point end, std::vector<Arg> args) {
  // A span that began before static initialisation (never in practice) starts at 0.
  Event event;
  event.name = name;
  event.category = category;
  event.ts_us = std::max(0.0, Micros(start - kEpoch));
  event.dur_us = std::max(0.0, Micros(end - start));
  event.tid = ThreadId();
  event.args = std::move(args);
  Recorder& r = recorder();
  std::lock_guard<std::mutex> lock(r.mu);
  if (r.events.size() >= kMaxEvents) {
    if (!r.warned_full) {
      std::fprintf(stderr, "kiln: warning: KILN_TRACE holds %zu events; dropping the rest\n",
                   kMaxEvents);
      r.warned_full = true;
    }
    return;
  }
  r.events.push_back(std::move(event));
}

Span::Span(std::string name, std::string category) : enabled_(Enabled()) {
  if (!enabled_) return;
  name_ = std::move(name);
  category_ = std::move(category);
  start_ = Clock::now();
}

Span::~Span() {
  if (enabled_) Record(name_, category_, start_, Clock::now(), std::move(args_));
}

void Span::AddArg(std::string key, std::string value) {
  if (enabled_) args_.emplace_back(std::move(key), std::move(value));
}

std::string ToJson() {
  static const int pid = static_cast<int>(::getpid());
  Recorder& r = recorder();
  std::lock_guard<std::mutex> lock(r.mu);
  std::string out = "{\"traceEvents\":[";
  for (size_t i = 0; i < r.events.size(); ++i) {
    const Event& e = r.events[i];
    if (i > 0) out.push_back(',');
    out.append("\n{\"name\":");
    out += JsonQuote(e.name);
    out.append(",\"cat\":");
    out += JsonQuote(e.category);
    absl::StrAppendFormat(&out, ",\"ph\":\"X\",\"ts\":%.3f,\"dur\":%.3f,\"pid\":%d,\"tid\":%d",
                          e.ts_us, e.dur_us, pid, e.tid);
    if (!e.args.empty()) {
      out.append(",\"args\":{");
      for (size_t a = 0; a < e.args.size(); ++a) {
        if (a > 0) out.push_back(',');
        out += JsonQuote(e.args[a].first);
        out.push_back(':');
        out += JsonQuote(e.args[a].second);
      }
      out.push_back('}');
    }
    out.push_back('}');
  }
  out.append("\n],\"displayTimeUnit\":\"ms\"}\n");
  return out;
}

absl::Status Flush() {
  const std::string path = config().trace;
  if (path.empty()) return absl::OkStatus();
  return WriteFile(path);
}

absl::Status WriteFile(const std::string& path) {
  const std::string json = ToJson();
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << json;
  out.close();
  if (!out) return absl::UnavailableError(absl::StrCat("cannot write the trace to ", path));
  return absl::OkStatus();
}

size_t NumEvents() {
  Recorder& r = recorder();
  std::lock_guard<std::mutex> lock(r.mu);
  return r.events.size();
}

void ClearForTesting() {
  Recorder& r = recorder();
  std::lock_guard<std::mutex> lock(r.mu);
  r.events.clear();
  r.warned_full = false;
}

}  // namespace kiln::trace_events
