#pragma once
// Makes training batches on a background thread, a few ahead of the steps that use them,
// so that drawing images overlaps the step before (whose threads share the cores with
// it). Batches come out in the order `make` produced them, so a run is the same with
// and without prefetching. Only host data is made there: tensors are made by the thread
// that traces the step (ToModelBatch).
//
//   BatchPrefetcher prefetch([&] { return MakeHostBatch(data, next_batch(), grid); }, 2);
//   for (...) { const ModelBatch mb = ToModelBatch(prefetch.Pop()); ... }
#include <condition_variable>
#include <deque>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>

#include "examples/naflex_vit/batch.h"

namespace naflex {

class BatchPrefetcher {
 public:
  // Keeps up to `depth` (>= 1) batches made ahead.
  BatchPrefetcher(std::function<HostBatch()> make, int depth);
  // Stops after the batch being made, if any.
  ~BatchPrefetcher();
  BatchPrefetcher(const BatchPrefetcher&) = delete;
  BatchPrefetcher& operator=(const BatchPrefetcher&) = delete;

  // The next batch, waiting for it if needed; rethrows what `make` threw.
  HostBatch Pop();

 private:
  void Run();

  std::function<HostBatch()> make_;
  const size_t depth_;
  std::mutex mu_;
  std::condition_variable changed_;
  std::deque<HostBatch> ready_;
  std::exception_ptr error_;
  bool stop_ = false;
  std::thread thread_;  // last: starts once the rest is set up
};

}  // namespace naflex
