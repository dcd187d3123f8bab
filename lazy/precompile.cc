#include "lazy/precompile.h"

#include <memory>
#include <optional>
#include <utility>

#include "lazy/autograd.h"
#include "lazy/graph_executor.h"
#include "lazy/live_tensors.h"
#include "lazy/tensor_impl.h"
#include "util/error.h"

namespace kiln {
namespace {

thread_local bool precompiling_now = false;

// The value and autograd state of every live tensor, put back on destruction.
class LiveTensorSnapshot {
 public:
  LiveTensorSnapshot() {
    for (std::shared_ptr<TensorImpl>& impl : live_tensors::All()) {
      Saved s{impl, impl->pending(), impl->buffer(), {}};
      if (const auto& meta = impl->autograd()) s.autograd = *meta;
      saved_.push_back(std::move(s));
    }
  }
  ~LiveTensorSnapshot() {
    for (Saved& s : saved_) {
      if (s.pending) {
        s.impl->SetPending(std::move(s.pending));
      } else if (s.buffer != nullptr) {
        s.impl->SetBuffer(std::move(s.buffer));
      }
      if (s.autograd) {
        *s.impl->autograd() = std::move(*s.autograd);
      }
    }
  }
  LiveTensorSnapshot(const LiveTensorSnapshot&) = delete;
  LiveTensorSnapshot& operator=(const LiveTensorSnapshot&) = delete;

 private:
  struct Saved {
    std::shared_ptr<TensorImpl> impl;  // kept alive so it can be restored
    Value pending;
    BufferPtr buffer;
    std::optional<autograd::AutogradMeta> autograd;
  };
  std::vector<Saved> saved_;
};

class PrecompilingFlag {
 public:
  PrecompilingFlag() {
    if (precompiling_now) throw Error("precompile: already precompiling on this thread");
    precompiling_now = true;
  }
  ~PrecompilingFlag() { precompiling_now = false; }
  PrecompilingFlag(const PrecompilingFlag&) = delete;
  PrecompilingFlag& operator=(const PrecompilingFlag&) = delete;
};

}  // namespace

bool precompiling() { return precompiling_now; }

void precompile(const std::vector<int64_t>& buckets,
                const std::function<void(int64_t bucket)>& trace_step) {
  // Work traced before precompile is not ours to compile or drop.
  if (!live_tensors::Pending().empty()) {
    throw Error("precompile: tensors have pending work; call mark_step() first");
  }
  WarmupScope warmup;
  for (int64_t bucket : buckets) {
    LiveTensorSnapshot snapshot;
    PrecompilingFlag flag;
    trace_step(bucket);
  }
}

}  // namespace kiln
