#include "examples/naflex_vit/batch_prefetcher.h"

#include <algorithm>
#include <utility>

namespace naflex {

BatchPrefetcher::BatchPrefetcher(std::function<HostBatch()> make, int depth)
    : make_(std::move(make)),
      depth_(static_cast<size_t>(std::max(depth, 1))),
      thread_([this] { Run(); }) {}

BatchPrefetcher::~BatchPrefetcher() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  changed_.notify_all();
  thread_.join();
}

void BatchPrefetcher::Run() {
  while (true) {
    {
      std::unique_lock<std::mutex> lock(mu_);
      changed_.wait(lock, [&] { return stop_ || ready_.size() < depth_; });
      if (stop_) return;
    }
    try {
      HostBatch batch = make_();
      std::lock_guard<std::mutex> lock(mu_);
      ready_.push_back(std::move(batch));
    } catch (...) {
      std::lock_guard<std::mutex> lock(mu_);
      error_ = std::current_exception();
      changed_.notify_all();
      return;
    }
    changed_.notify_all();
  }
}

HostBatch BatchPrefetcher::Pop() {
  std::unique_lock<std::mutex> lock(mu_);
  changed_.wait(lock, [&] { return !ready_.empty() || error_ != nullptr; });
  if (ready_.empty()) std::rethrow_exception(error_);
  HostBatch batch = std::move(ready_.front());
  ready_.pop_front();
  lock.unlock();
  changed_.notify_all();
  return batch;
}

}  // namespace naflex
