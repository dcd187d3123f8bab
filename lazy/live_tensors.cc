#include "lazy/live_tensors.h"

#include <mutex>

#include "lazy/tensor_impl.h"

namespace kiln::live_tensors {
namespace {

// std::mutex rather than absl::Mutex: every traced op links and unlinks a tensor, and
// Debian's abseil is built with deadlock detection, which adds tens of nanoseconds to
// every traced op.
struct Registry {
  std::mutex mu;
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
  std::lock_guard<std::mutex> lock(r.mu);
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
  std::lock_guard<std::mutex> lock(r.mu);
  (impl->prev_live_ != nullptr ? impl->prev_live_->next_live_ : r.head) = impl->next_live_;
  (impl->next_live_ != nullptr ? impl->next_live_->prev_live_ : r.tail) = impl->prev_live_;
  impl->prev_live_ = impl->next_live_ = nullptr;
  --r.count;
}

std::vector<std::shared_ptr<TensorImpl>> Pending() {
  Registry& r = registry();
  std::lock_guard<std::mutex> lock(r.mu);
  std::vector<std::shared_ptr<TensorImpl>> pending;
  for (TensorImpl* t = r.head; t != nullptr; t = t->next_live_) {
    if (!t->is_pending()) continue;
    // A tensor whose last handle is being released is still linked until its destructor
    // unlinks it; lock() fails for it and it is skipped.
    if (std::shared_ptr<TensorImpl> alive = t->weak_from_this().lock()) {
      pending.push_back(std::move(alive));
    }
  }
  return pending;
}

size_t Count() {
  Registry& r = registry();
  std::lock_guard<std::mutex> lock(r.mu);
  return r.count;
}

}  // namespace kiln::live_tensors
