#include "lazy/live_tensors.h"

#include <atomic>
#include <mutex>
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

struct Registry {
  SpinLock mu;
  TensorImpl* head = nullptr;  // oldest; guarded by mu
  TensorImpl* tail = nullptr;  // newest; guarded by mu
  size_t count = 0;            // guarded by mu
};

Registry& registry() {
  static auto* r = new Registry;  // never destroyed: tensors may die after main returns
  return *r;
}

}  // namespace

void Add(TensorImpl* impl) {
  Registry& r = registry();
  std::lock_guard<SpinLock> lock(r.mu);
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

void Remove(TensorImpl* impl) {
  Registry& r = registry();
  std::lock_guard<SpinLock> lock(r.mu);
  (impl->prev_live_ != nullptr ? impl->prev_live_->next_live_ : r.head) = impl->next_live_;
  (impl->next_live_ != nullptr ? impl->next_live_->prev_live_ : r.tail) = impl->prev_live_;
  impl->prev_live_ = impl->next_live_ = nullptr;
  --r.count;
}

namespace {

std::vector<std::shared_ptr<TensorImpl>> Collect(bool pending_only) {
  Registry& r = registry();
  std::lock_guard<SpinLock> lock(r.mu);
  std::vector<std::shared_ptr<TensorImpl>> result;
  for (TensorImpl* t = r.head; t != nullptr; t = t->next_live_) {
    if (pending_only && !t->is_pending()) continue;
    // A tensor whose last handle is being released is still linked until its destructor
    // unlinks it; lock() fails for it and it is skipped.
    if (std::shared_ptr<TensorImpl> alive = t->weak_from_this().lock()) {
      result.push_back(std::move(alive));
    }
  }
  return result;
}

}  // namespace

std::vector<std::shared_ptr<TensorImpl>> Pending() { return Collect(true); }

std::vector<std::shared_ptr<TensorImpl>> All() { return Collect(false); }

size_t Count() {
  Registry& r = registry();
  std::lock_guard<SpinLock> lock(r.mu);
  return r.count;
}

}  // namespace kiln::live_tensors
