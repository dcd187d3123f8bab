// The barrier. One executor mutex is held for a whole barrier: Graph::Build marks nodes
// with its epoch, and the cache, the history and the tensors must change together. The
// calling thread's live_tensors::BarrierLock is held too, so no other thread takes one of
// its tensors meanwhile.
//
// Metric definitions:
//   MarkStep         calls to mark_step(), including ones with nothing pending.
//   ImplicitBarrier  SyncTensors(implicit=true) calls that had pending work.
//   CachedCompile    graphs found in the compile cache.
//   UncachedCompile  graphs compiled successfully (a cache miss).
//   NodesTraced      nodes in the post-order of every executed graph (parameters and
//                    constants included, shared nodes once), added at each barrier
//                    whether the graph was cached or not: the size of the work traced.
//   TraceTime        from the end of one barrier to the start of the next: the time the
//                    program spent tracing (and doing anything else) between barriers.
//   CompileTime      around Backend::Compile.
//   ExecuteTime      around Executable::Run.
//   CompileCacheEviction  entries the LRU dropped (lazy/compile_cache.cc).
//   DonatedBuffers   outputs written over a donated parameter buffer (cpu backend,
//                    backends/cpu/cpu_executable.h).
//   HostBytesInUse   gauge: bytes of live cpu buffers, with its peak since the last
//                    metrics::reset() (backends/cpu/host_allocator.h); InterpBytesInUse
//                    likewise for the reference backend.
//
// KILN_TRACE spans (util/trace_events.h): "trace" over each TraceTime interval, "compile"
// and "execute" per graph, with the graph hash (the KILN_DUMP_DIR file name) as an arg.
#include "lazy/graph_executor.h"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "ir/ir_text.h"
#include "lazy/compile_cache.h"
#include "lazy/live_tensors.h"
#include "lazy/precompile.h"
#include "lazy/recompile_explainer.h"
#include "lazy/tensor_impl.h"
#include "util/config.h"
#include "util/error.h"
#include "util/metrics.h"
#include "util/mutex.h"
#include "util/trace_events.h"

namespace kiln {
namespace {

using Clock = std::chrono::steady_clock;

// Process-wide count of live WarmupScopes (any thread).
std::atomic<int> warmup_scopes{0};

struct ExecutorState {
  Mutex mu;
  std::optional<Clock::time_point> last_barrier_end ABSL_GUARDED_BY(mu);
};

ExecutorState& executor() {
  static auto* state = new ExecutorState;  // never destroyed: barriers may run at exit
  return *state;
}

struct ExecutorMetrics {
  metrics::Counter* mark_step = metrics::GetCounter("MarkStep");
  metrics::Counter* implicit_barrier = metrics::GetCounter("ImplicitBarrier");
  metrics::Counter* cached_compile = metrics::GetCounter("CachedCompile");
  metrics::Counter* uncached_compile = metrics::GetCounter("UncachedCompile");
  metrics::Counter* nodes_traced = metrics::GetCounter("NodesTraced");
  metrics::Timer* trace_time = metrics::GetTimer("TraceTime");
  metrics::Timer* compile_time = metrics::GetTimer("CompileTime");
  metrics::Timer* execute_time = metrics::GetTimer("ExecuteTime");
};

const ExecutorMetrics& executor_metrics() {
  static const auto* m = new ExecutorMetrics;
  return *m;
}

void PrintLines(const std::string& text) {
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
    std::fprintf(stderr, "kiln: %.*s\n", static_cast<int>(line.size()), line.data());
  }
}

// Records TraceTime at the start of a barrier and stamps its end however it leaves.
class BarrierClock {
 public:
  explicit BarrierClock(ExecutorState& state) ABSL_EXCLUSIVE_LOCKS_REQUIRED(state.mu)
      : state_(state) {
    if (state_.last_barrier_end) {
      const Clock::time_point now = Clock::now();
      executor_metrics().trace_time->Record(
          std::chrono::duration<double>(now - *state_.last_barrier_end).count());
      if (trace_events::Enabled()) {
        trace_events::Record("trace", "trace", *state_.last_barrier_end, now);
      }
    }
  }
  ~BarrierClock() ABSL_NO_THREAD_SAFETY_ANALYSIS { state_.last_barrier_end = Clock::now(); }
  BarrierClock(const BarrierClock&) = delete;
  BarrierClock& operator=(const BarrierClock&) = delete;

 private:
  ExecutorState& state_;
};

// One backend's share of a barrier: the deduplicated outputs as a graph, and which
// output each tensor receives.
struct PreparedGraph {
  Backend* backend = nullptr;
  std::vector<std::shared_ptr<TensorImpl>> tensors;
  std::vector<int> output_of;  // per tensor: index into graph.outputs()
  std::vector<Value> outputs;
  Graph graph;
  Hash128 key;
};

// Pending tensors whose value is already a buffer leaf need no graph.
struct DirectResult {
  std::shared_ptr<TensorImpl> tensor;
  BufferPtr buffer;
};

// Groups `pending` by backend (creation order kept within each group), deduplicates
// equal values and builds one graph per backend.
std::vector<PreparedGraph> Prepare(std::vector<std::shared_ptr<TensorImpl>> pending,
                                   std::vector<DirectResult>* direct) {
  std::vector<PreparedGraph> groups;
  std::vector<absl::flat_hash_map<std::pair<const Node*, int>, int>> seen;
  for (std::shared_ptr<TensorImpl>& tensor : pending) {
    const Value& value = tensor->pending();
    if (value.node->op() == OpKind::kDeviceData && value.node->data() != nullptr) {
      direct->push_back({tensor, value.node->data()});
      continue;
    }
    size_t g = 0;
    while (g < groups.size() && groups[g].backend != tensor->backend()) ++g;
    if (g == groups.size()) {
      groups.emplace_back().backend = tensor->backend();
      seen.emplace_back();
    }
    PreparedGraph& group = groups[g];
    auto [it, inserted] = seen[g].try_emplace({value.node.get(), value.index},
                                              static_cast<int>(group.outputs.size()));
    if (inserted) group.outputs.push_back(value);
    group.output_of.push_back(it->second);
    group.tensors.push_back(std::move(tensor));
  }
  for (PreparedGraph& group : groups) {
    group.graph = Graph::Build(group.outputs);
    group.key = CompileCacheKey(group.graph, *group.backend);
  }
  return groups;
}

void DumpGraph(const std::string& dir, const Graph& graph, const std::string& text) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::create_directories(dir, ec);
  const fs::path path = fs::path(dir) / (graph.hash().ToString() + ".kir");
  if (ec) {
    std::fprintf(stderr, "kiln: warning: cannot write %s: %s\n", path.c_str(),
                 ec.message().c_str());
    return;
  }
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  out.close();
  if (!out) std::fprintf(stderr, "kiln: warning: cannot write %s\n", path.c_str());
}

// A cache miss: explains, checks KILN_ERROR_ON_RECOMPILE, reports, compiles and caches.
std::shared_ptr<Executable> Compile(const PreparedGraph& p, const std::string& prefix) {
  const ExecutorMetrics& m = executor_metrics();
  RecompileExplainer& explainer = recompile_explainer();
  CompileRecord record = MakeCompileRecord(p.graph, p.backend->name());
  const CompileExplanation explanation = explainer.Explain(record);
  if (config().error_on_recompile && explanation.known_structure &&
      warmup_scopes.load(std::memory_order_acquire) == 0) {
    throw Error("recompile with KILN_ERROR_ON_RECOMPILE=1: " + explanation.text);
  }
  const Config& cfg = config();
  if (cfg.debug >= 1) {
    std::fprintf(stderr, "kiln: compile #%lld (graph %s): %s\n",
                 static_cast<long long>(explainer.num_compiles() + 1),
                 p.graph.hash().ToString().c_str(), explanation.text.c_str());
  }
  if (cfg.debug >= 2 || !cfg.dump_dir.empty()) {
    const std::string text = PrintGraph(p.graph);
    if (cfg.debug >= 2) PrintLines(text);
    if (!cfg.dump_dir.empty()) DumpGraph(cfg.dump_dir, p.graph, text);
  }

  const Clock::time_point start = Clock::now();
  absl::StatusOr<std::unique_ptr<Executable>> compiled;
  {
    metrics::ScopedTimer timer(m.compile_time);
    trace_events::Span span("compile", "compile");
    if (span.enabled()) {
      span.AddArg("graph", p.graph.hash().ToString());
      span.AddArg("backend", p.backend->name());
      span.AddArg("nodes", absl::StrCat(p.graph.num_nodes()));
    }
    compiled = p.backend->Compile(p.graph);
  }
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  if (!compiled.ok()) throw Error(absl::StrCat(prefix, compiled.status().message()));
  std::shared_ptr<Executable> executable = *std::move(compiled);
  m.uncached_compile->Add();
  GlobalCompileCache().Insert(p.key, executable);
  explainer.RecordCompile(std::move(record), explanation, seconds,
                          warmup_scopes.load(std::memory_order_acquire) > 0);
  return executable;
}

// Which of p's parameters may give their buffer to an output (Argument::donated): those
// nothing can read after this barrier. Empty when none may.
//
// A DeviceData leaf's buffer B is read later only through references that outlive the
// barrier. B qualifies when the leaf alone holds it (a materialised tensor holding B
// itself, or an alias made by detach(), shows up in B's count) and the leaf node dies
// with the barrier. A node dies when every reference to it goes away here: operand edges
// of dying nodes of this graph, the graph's outputs, p.outputs, and the pending value of
// each tensor this barrier materialises (SetBuffer drops it). Walking consumers first
// (reverse post-order) decides each node after all of its consumers in the graph. Any
// other holder (another pending tensor, an autograd graph kept by retain_graph, a cached
// data leaf) makes the count larger, so the node and what it reads stay alive: a missed
// donation, never a wrong one. Only use counts are read; nothing changes them here
// (the executor's lock is held and no Value is copied).
std::vector<bool> DonatableParameters(const PreparedGraph& p) {
  const std::vector<const Node*>& params = p.graph.parameters();
  bool any = false;
  for (const Node* param : params) {
    any = any || (param->op() == OpKind::kDeviceData && param->data().use_count() == 1);
  }
  if (!any) return {};  // the common case outside a training step: no walk at all
  const std::vector<const Node*>& order = p.graph.post_order();
  const size_t n = order.size();
  absl::flat_hash_map<const Node*, int> position;
  position.reserve(n);
  for (size_t i = 0; i < n; ++i) position.emplace(order[i], static_cast<int>(i));
  std::vector<long> uses(n, 0);     // the node's reference count
  std::vector<long> leaving(n, 0);  // references that end with the barrier
  const auto barrier_reference = [&](const Value& v) {
    const int i = position.at(v.node.get());
    uses[i] = v.node.use_count();
    ++leaving[i];
  };
  for (const Value& v : p.graph.outputs()) barrier_reference(v);
  for (const Value& v : p.outputs) barrier_reference(v);
  for (const std::shared_ptr<TensorImpl>& t : p.tensors) barrier_reference(t->pending());
  std::vector<bool> dies(n, false);
  for (size_t i = n; i-- > 0;) {
    dies[i] = uses[i] == leaving[i];
    for (const Value& operand : order[i]->operands()) {
      const int j = position.at(operand.node.get());
      uses[j] = operand.node.use_count();
      if (dies[i]) ++leaving[j];
    }
  }
  std::vector<bool> donatable(params.size(), false);
  for (size_t k = 0; k < params.size(); ++k) {
    const Node* param = params[k];
    donatable[k] = param->op() == OpKind::kDeviceData && param->data().use_count() == 1 &&
                   dies[position.at(param)];
  }
  return donatable;
}

// Runs one graph; the result has one buffer per graph output, shapes checked. Parameters
// flagged in `donatable` (DonatableParameters) give their buffers up.
std::vector<BufferPtr> Run(const PreparedGraph& p, Executable& executable,
                           const std::vector<bool>& donatable, const std::string& prefix) {
  std::vector<Argument> args;
  args.reserve(p.graph.parameters().size());
  const std::vector<const Node*>& params = p.graph.parameters();
  for (size_t k = 0; k < params.size(); ++k) {
    const Node* param = params[k];
    Argument arg;
    if (param->op() == OpKind::kScalar) {
      arg.scalar = param->scalar_value();
    } else {
      if (param->data() == nullptr) {
        throw Error(
            absl::StrCat(prefix, "device_data ", param->shape().ToString(), " has no buffer"));
      }
      arg.buffer = param->data().get();
      if (!donatable.empty() && donatable[k]) arg.donated = param->data();
    }
    args.push_back(std::move(arg));
  }
  absl::StatusOr<std::vector<BufferPtr>> outputs;
  {
    metrics::ScopedTimer timer(executor_metrics().execute_time);
    trace_events::Span span("execute", "execute");
    if (span.enabled()) {
      span.AddArg("graph", p.graph.hash().ToString());
      span.AddArg("backend", p.backend->name());
    }
    outputs = executable.Run(args);
  }
  if (!outputs.ok()) throw Error(absl::StrCat(prefix, outputs.status().message()));
  const std::vector<Value>& expected = p.graph.outputs();
  if (outputs->size() != expected.size()) {
    throw Error(absl::StrCat(prefix, "backend ", p.backend->name(), " returned ", outputs->size(),
                             " buffers for ", expected.size(), " outputs"));
  }
  for (size_t i = 0; i < expected.size(); ++i) {
    const BufferPtr& buffer = (*outputs)[i];
    if (buffer == nullptr || !(buffer->shape() == expected[i].shape())) {
      throw Error(absl::StrCat(prefix, "backend ", p.backend->name(), " returned ",
                               buffer == nullptr ? "no buffer" : buffer->shape().ToString(),
                               " for output ", i, ", expected ", expected[i].shape().ToString()));
    }
  }
  return *std::move(outputs);
}

// Computes `pending` and gives every tensor its buffer. Throws kiln::Error (message
// starting with `prefix`) before any tensor changes when a compile or run fails.
void Execute(std::vector<std::shared_ptr<TensorImpl>> pending, const std::string& prefix) {
  const ExecutorMetrics& m = executor_metrics();
  std::vector<DirectResult> direct;
  std::vector<PreparedGraph> groups = Prepare(std::move(pending), &direct);
  std::vector<std::vector<BufferPtr>> results;
  results.reserve(groups.size());
  for (const PreparedGraph& p : groups) {
    m.nodes_traced->Add(p.graph.num_nodes());
    std::shared_ptr<Executable> executable = GlobalCompileCache().Lookup(p.key);
    if (executable != nullptr) {
      m.cached_compile->Add();
      recompile_explainer().RecordCacheHit();
    } else {
      executable = Compile(p, prefix);
    }
    // Precompiling: the graph is compiled and cached; nothing runs and no tensor changes.
    if (precompiling()) continue;
    // Only the last graph may take donated buffers: a later graph's failure would
    // otherwise leave an earlier one's pending tensors reading overwritten memory.
    const bool last = &p == &groups.back();
    results.push_back(
        Run(p, *executable, last ? DonatableParameters(p) : std::vector<bool>(), prefix));
  }
  if (precompiling()) return;
  // Every output exists: only now do tensors change, so a failure above leaves them all
  // pending.
  for (size_t g = 0; g < groups.size(); ++g) {
    for (size_t t = 0; t < groups[g].tensors.size(); ++t) {
      groups[g].tensors[t]->SetBuffer(results[g][groups[g].output_of[t]]);
    }
  }
  for (DirectResult& d : direct) d.tensor->SetBuffer(std::move(d.buffer));
}

}  // namespace

void mark_step(CallSite site) {
  ExecutorState& state = executor();
  MutexLock lock(&state.mu);
  live_tensors::BarrierLock tensors_lock;
  executor_metrics().mark_step->Add();
  {
    BarrierClock clock(state);
    static const std::string kPrefix = "mark_step: ";
    Execute(live_tensors::Pending(), kPrefix);
  }
  const bool warmup = warmup_scopes.load(std::memory_order_acquire) > 0;
  if (std::optional<std::string> warning = recompile_explainer().RecordStep(warmup)) {
    std::fprintf(stderr, "kiln: %s\n", warning->c_str());
  }
}

void SyncTensors(absl::Span<const Tensor> tensors, bool implicit, const CallSite& site) {
  std::vector<std::shared_ptr<TensorImpl>> pending;
  pending.reserve(tensors.size());
  for (const Tensor& t : tensors) {
    if (t.defined()) t.impl()->Own();
  }
  ExecutorState& state = executor();
  MutexLock lock(&state.mu);
  live_tensors::BarrierLock tensors_lock;
  for (const Tensor& t : tensors) {
    if (!t.defined() || !t.impl()->is_pending()) continue;
    bool duplicate = false;
    for (const auto& p : pending) duplicate = duplicate || p == t.impl();
    if (!duplicate) pending.push_back(t.impl());
  }
  if (pending.empty()) return;
  const std::string where = FormatLocation(site.location);
  if (implicit && precompiling()) {
    throw Error(absl::StrCat("item()/to_vector() at ", where,
                             " inside kiln::precompile: no values are computed while "
                             "precompiling"));
  }
  BarrierClock clock(state);
  if (implicit) {
    executor_metrics().implicit_barrier->Add();
    if (config().debug >= 1) {
      std::fprintf(stderr, "kiln: implicit barrier (item/to_vector) at %s\n", where.c_str());
    }
  }
  Execute(std::move(pending),
          implicit ? absl::StrCat("implicit barrier at ", where, ": ") : "SyncTensors: ");
}

WarmupScope::WarmupScope() { warmup_scopes.fetch_add(1, std::memory_order_acq_rel); }
WarmupScope::~WarmupScope() { warmup_scopes.fetch_sub(1, std::memory_order_acq_rel); }

std::string last_compile_explanation() { return recompile_explainer().last_explanation(); }

void clear_compile_cache() {
  ExecutorState& state = executor();
  MutexLock lock(&state.mu);
  GlobalCompileCache().Clear();
  recompile_explainer().Clear();
}

CacheProbe ProbeCompileCache(absl::Span<const Tensor> tensors) {
  std::vector<std::shared_ptr<TensorImpl>> pending;
  for (const Tensor& t : tensors) {
    if (!t.defined()) continue;
    t.impl()->Own();
    if (t.impl()->is_pending()) pending.push_back(t.impl());
  }
  ExecutorState& state = executor();
  MutexLock lock(&state.mu);
  live_tensors::BarrierLock tensors_lock;
  std::vector<DirectResult> direct;
  std::vector<PreparedGraph> groups = Prepare(std::move(pending), &direct);
  CacheProbe probe;
  if (groups.empty()) return probe;
  if (groups.size() > 1) throw Error("ProbeCompileCache: tensors on several backends");
  probe.key = groups[0].key;
  probe.num_nodes = groups[0].graph.num_nodes();
  probe.hit = GlobalCompileCache().Lookup(probe.key) != nullptr;
  return probe;
}

}  // namespace kiln
