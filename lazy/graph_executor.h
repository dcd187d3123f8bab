#pragma once
// The barrier: builds one graph from pending tensors, looks it up in the compile cache
// (key = graph hash + backend code key), compiles on a miss, runs it, and replaces each
// tensor's IR by its output buffer.
//
// Metrics: MarkStep, ImplicitBarrier, CachedCompile, UncachedCompile, TransferToDevice,
// TransferFromDevice, NodesTraced (counters); TraceTime (step to step minus barriers),
// CompileTime, ExecuteTime (timers). The cpu backend adds DonatedBuffers (counter) and
// HostBytesInUse (gauge with its peak: a step's peak host memory).
//
// In-place updates: when a tensor updated with assign_ (a parameter, optimizer state)
// held the only reference to its old buffer and nothing outside the barrier can still
// read that value, the barrier donates the buffer (Argument::donated) and a backend that
// supports it writes the new value over it. A training step then holds one copy of the
// model state plus its activations, not two. Nothing is recompiled for it, and a tensor
// that still shares the old value (detach(), a pending tensor left out of the barrier, a
// graph kept by backward(retain_graph=true)) blocks it.
//
// A recompile storm (after 10 steps, > 0.5 compiles per step) is always reported, once,
// with its top causes: it is a performance bug users want to hear about unasked. Steps
// and compiles inside a WarmupScope (precompiling buckets) are not counted toward it.
// KILN_DEBUG=1 prints one line per uncached compile saying why (see
// recompile_explainer.h), implicit barriers with their call site and a summary at exit;
// KILN_DEBUG=2 also prints each compiled graph; KILN_DUMP_DIR writes them to files;
// KILN_ERROR_ON_RECOMPILE=1 makes recompiling a known structure a kiln::Error (except
// inside a WarmupScope).
#include <string>
#include <vector>

#include "absl/types/span.h"
#include "lazy/tensor.h"

namespace kiln {

// Compiles (or fetches from the cache) and runs one graph holding every live tensor of
// the calling thread with pending work (a thread owns the tensors it creates and uses:
// lazy/live_tensors.h). Throws kiln::Error when compiling or running fails; the tensors
// then keep their pending IR.
void mark_step(CallSite site = {});

// Executes the pending IR of `tensors` only (the barrier behind item/to_vector).
// `implicit` counts it as an ImplicitBarrier and reports the call site in debug mode.
void SyncTensors(absl::Span<const Tensor> tensors, bool implicit, const CallSite& site);

// While one exists (on any thread), recompiles are allowed under
// KILN_ERROR_ON_RECOMPILE=1: the warm-up that precompiles every shape bucket runs here.
class WarmupScope {
 public:
  WarmupScope();
  ~WarmupScope();
  WarmupScope(const WarmupScope&) = delete;
  WarmupScope& operator=(const WarmupScope&) = delete;
};

// The explanation of the most recent uncached compile (what KILN_DEBUG=1 prints),
// empty before the first compile.
std::string last_compile_explanation();

// Drops every compiled graph and the compile history (tests; the next step compiles).
void clear_compile_cache();

}  // namespace kiln
