#include "lazy/live_tensors.h"

#include <algorithm>
#include <atomic>
#include <functional>
#include <thread>

#include "lazy/tensor_impl.h"

namespace kiln::live_tensors {
namespace {

// Every traced op links one tensor in and another out, each for a few instructions. An
// uncontended std::mutex costs two library calls and two atomic read-modify-writes per
// section; this lock costs one exchange and a plain store. (absl::Mutex is slower still:
// Debian builds it with deadlock detection.) Waiters yield, so a thread blocked behind a
// long Pending() walk does not spin a core.
class SpinLock {
 public:
  void lock() {
    while (locked_.exchange(true, std::memory_order_acquire)) {
      while (locked_.load(std::memory_order_relaxed)) std::this_thread::yield();
    }
  }
  void unlock() { locked_.store(false, std::memory_order_release); }

 private:
  std::atomic<bool> locked_{false};
};

}  // namespace

struct Registry {
  SpinLock mu;
  TensorImpl* head = nullptr;  // oldest; guarded by mu
  TensorImpl* tail = nullptr;  // newest; guarded by mu
  size_t count = 0;            // guarded by mu
  bool ended = false;          // its thread has exited; guarded by mu
  std::mutex barrier;          // held by the owning thread's barriers (BarrierLock)
};

constinit thread_local Registry* current_registry = nullptr;

namespace {

// Every registry, for All() and Count(). Never destroyed: tensors may die after main
// returns.
struct Registries {
  std::mutex mu;
  std::vector<Registry*> all;  // guarded by mu
};

Registries& registries() {
  static auto* r = new Registries;
  return *r;
}

void Delete(Registry* r) {
  {
    Registries& all = registries();
    std::lock_guard<std::mutex> lock(all.mu);
    all.all.erase(std::find(all.all.begin(), all.all.end(), r));
  }
  delete r;
}

// Marks the thread's registry ended when the thread exits; the last tensor to leave it
// deletes it.
struct ThreadExit {
  ~ThreadExit() {
    Registry* r = current_registry;
    current_registry = nullptr;
    bool empty;
    {
      std::lock_guard<SpinLock> lock(r->mu);
      r->ended = true;
      empty = r->count == 0;
    }
    if (empty) Delete(r);
  }
};

// The calling thread's registry, made on its first tensor.
[[gnu::noinline]] Registry& NewCurrent() {
  auto* r = new Registry;
  {
    Registries& all = registries();
    std::lock_guard<std::mutex> lock(all.mu);
    all.all.push_back(r);
  }
  current_registry = r;
  static thread_local ThreadExit on_exit;
  return *r;
}

Registry& Current() { return current_registry != nullptr ? *current_registry : NewCurrent(); }

// Both with r.mu held.
void Link(Registry& r, TensorImpl* impl) {
  impl->registry_ = &r;
  impl->prev_live_ = r.tail;
  impl->next_live_ = nullptr;
  if (r.tail != nullptr) {
    r.tail->next_live_ = impl;
  } else {
    r.head = impl;
  }
  r.tail = impl;
  ++r.count;
}

// True when r is left ended and empty: the caller deletes it once r.mu is released.
bool Unlink(Registry& r, TensorImpl* impl) {
  (impl->prev_live_ != nullptr ? impl->prev_live_->next_live_ : r.head) = impl->next_live_;
  (impl->next_live_ != nullptr ? impl->next_live_->prev_live_ : r.tail) = impl->prev_live_;
  impl->prev_live_ = impl->next_live_ = nullptr;
  impl->registry_ = nullptr;
  --r.count;
  return r.ended && r.count == 0;
}

}  // namespace

void Add(TensorImpl* impl) {
  Registry& r = Current();
  std::lock_guard<SpinLock> lock(r.mu);
  Link(r, impl);
}

void Remove(TensorImpl* impl) {
  Registry* r = impl->registry_;
  bool last;
  {
    std::lock_guard<SpinLock> lock(r->mu);
    last = Unlink(*r, impl);
  }
  if (last) Delete(r);
}

void MoveToCurrentThread(TensorImpl* impl) {
  Registry& to = Current();
  Registry* from = impl->registry_;
  if (from == &to) return;
  bool last;
  {
    std::lock_guard<std::mutex> barrier(from->barrier);
    // Two threads may move tensors into each other's registries at once: lock in address
    // order.
    const bool from_first = std::less<Registry*>()(from, &to);
    std::lock_guard<SpinLock> first(from_first ? from->mu : to.mu);
    std::lock_guard<SpinLock> second(from_first ? to.mu : from->mu);
    last = Unlink(*from, impl);
    Link(to, impl);
  }
  if (last) Delete(from);
}

namespace {

void Collect(Registry& r, bool pending_only, std::vector<std::shared_ptr<TensorImpl>>& result) {
  std::lock_guard<SpinLock> lock(r.mu);
  for (TensorImpl* t = r.head; t != nullptr; t = t->next_live_) {
    if (pending_only && !t->is_pending()) continue;
    // A tensor whose last handle is being released is still linked until its destructor
    // unlinks it; lock() fails for it and it is skipped.
    if (std::shared_ptr<TensorImpl> alive = t->weak_from_this().lock()) {
      result.push_back(std::move(alive));
    }
  }
}

}  // namespace

std::vector<std::shared_ptr<TensorImpl>> Pending() {
  std::vector<std::shared_ptr<TensorImpl>> result;
  Collect(Current(), /*pending_only=*/true, result);
  return result;
}

std::vector<std::shared_ptr<TensorImpl>> All() {
  std::vector<std::shared_ptr<TensorImpl>> result;
  Registries& all = registries();
  std::lock_guard<std::mutex> lock(all.mu);
  for (Registry* r : all.all) Collect(*r, /*pending_only=*/false, result);
  return result;
}

size_t Count() {
  size_t count = 0;
  Registries& all = registries();
  std::lock_guard<std::mutex> lock(all.mu);
  for (Registry* r : all.all) {
    std::lock_guard<SpinLock> registry_lock(r->mu);
    count += r->count;
  }
  return count;
}

BarrierLock::BarrierLock() : lock_(Current().barrier) {}

}  // namespace kiln::live_tensors
