#pragma once
// The in-memory compile cache: compiled graphs by cache key (graph hash combined with
// the backend's code key), least recently used evicted first. Its capacity follows
// config().cache_size (KILN_CACHE_SIZE), re-read on every access so a changed setting
// applies without a restart.
//
//   CompileCache& cache = GlobalCompileCache();
//   if (std::shared_ptr<Executable> exe = cache.Lookup(key)) ...  // hit
//   cache.Insert(key, std::move(compiled));                       // may evict
//
// Values are shared_ptr so a barrier can keep running an executable that another
// thread's Insert evicts meanwhile.
#include <cstddef>
#include <cstdint>
#include <memory>

#include "absl/types/span.h"
#include "backends/backend.h"
#include "lazy/tensor.h"
#include "util/hash.h"
#include "util/lru_cache.h"
#include "util/mutex.h"

namespace kiln {

// Thread-safe (one internal mutex).
class CompileCache {
 public:
  CompileCache();

  // The executable for `key`, or null; a hit becomes the most recently used entry.
  std::shared_ptr<Executable> Lookup(const Hash128& key);
  // Inserts or replaces; evicting an entry counts metric CompileCacheEviction.
  void Insert(const Hash128& key, std::shared_ptr<Executable> executable);
  void Clear();

  size_t size() const;
  // The capacity in effect (config().cache_size as of the last access).
  size_t capacity() const;
  // Entries evicted since construction or Clear().
  int64_t evictions() const;

 private:
  void SyncCapacity() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  mutable Mutex mu_;
  LruCache<Hash128, std::shared_ptr<Executable>> entries_ ABSL_GUARDED_BY(mu_);
  int64_t evictions_ ABSL_GUARDED_BY(mu_) = 0;
};

// The cache mark_step uses (process lifetime).
CompileCache& GlobalCompileCache();

// The cache key of a graph compiled by `backend`.
Hash128 CompileCacheKey(const Graph& graph, const Backend& backend);

// What a barrier over `tensors` would find in the global cache, without compiling or
// running anything: the graph of their pending values is built and hashed exactly as
// mark_step does (under the executor's lock; defined in graph_executor.cc). For
// benchmarks of the cache-hit path and for tests. Tensors without pending work are
// ignored; all pending ones must be on one backend.
struct CacheProbe {
  bool hit = false;
  Hash128 key;
  int64_t num_nodes = 0;
};
CacheProbe ProbeCompileCache(absl::Span<const Tensor> tensors);

}  // namespace kiln
