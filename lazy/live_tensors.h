#pragma once
// The registries of live tensors, one per thread. Every TensorImpl is linked into the
// registry of the thread that owns it (an intrusive list: O(1), allocation-free, and no
// lock shared between tracing threads). A thread owns the tensors it creates and the
// tensors it uses: the first use of a tensor owned by another thread (as an operand, in
// an assignment, a read) moves it over (TensorImpl::Own).
//
// A barrier materialises the pending tensors of the calling thread's registry only, so
// one thread's mark_step never reads or writes a tensor another thread is tracing with,
// and each thread's graphs end where that thread put its barriers (the same step hashes
// the same way every time, whatever the other threads do). A barrier holds its
// registry's BarrierLock; taking a tensor out of a registry waits for it, so a tensor
// is never moved away while a barrier materialises it.
//
// Creation order is kept so mark_step lists its outputs in a stable order. A registry
// outlives its thread while tensors are linked into it; they wait there until another
// thread uses them.
#include <memory>
#include <mutex>
#include <vector>

namespace kiln {

class TensorImpl;

namespace live_tensors {

struct Registry;

// The calling thread's registry, or null before it has one. Compared on the tracing path
// (TensorImpl::Own), hence inline.
extern constinit thread_local Registry* current_registry;

// Links `impl` into the calling thread's registry.
void Add(TensorImpl* impl);
// Unlinks `impl` from its registry (on any thread).
void Remove(TensorImpl* impl);
// Moves `impl` into the calling thread's registry, after any barrier of its owner.
void MoveToCurrentThread(TensorImpl* impl);

// The calling thread's live tensors with pending IR, oldest first. Tensors being
// destroyed are skipped.
std::vector<std::shared_ptr<TensorImpl>> Pending();
// Every live tensor of every thread (likewise). Reading their state is safe only while
// no other thread uses kiln.
std::vector<std::shared_ptr<TensorImpl>> All();
// Number of live tensors of every thread (for tests and the metrics report).
size_t Count();

// Held by a barrier while it reads and updates the calling thread's tensors.
class BarrierLock {
 public:
  BarrierLock();
  BarrierLock(const BarrierLock&) = delete;
  BarrierLock& operator=(const BarrierLock&) = delete;

 private:
  std::unique_lock<std::mutex> lock_;
};

}  // namespace live_tensors
}  // namespace kiln
