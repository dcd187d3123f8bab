#include "lazy/compile_cache.h"

#include "util/config.h"
#include "util/metrics.h"

namespace kiln {
namespace {

size_t ConfiguredCapacity() {
  const int64_t size = config().cache_size;
  return size > 0 ? static_cast<size_t>(size) : 1;
}

}  // namespace

CompileCache::CompileCache() : entries_(ConfiguredCapacity()) {}

void CompileCache::SyncCapacity() {
  const size_t capacity = ConfiguredCapacity();
  if (capacity == entries_.capacity()) return;
  const size_t before = entries_.size();
  entries_.set_capacity(capacity);
  const int64_t evicted = static_cast<int64_t>(before - entries_.size());
  if (evicted > 0) {
    evictions_ += evicted;
    static metrics::Counter* counter = metrics::GetCounter("CompileCacheEviction");
    counter->Add(evicted);
  }
}

std::shared_ptr<Executable> CompileCache::Lookup(const Hash128& key) {
  MutexLock lock(&mu_);
  SyncCapacity();
  std::shared_ptr<Executable>* hit = entries_.Get(key);
  return hit == nullptr ? nullptr : *hit;
}

void CompileCache::Insert(const Hash128& key, std::shared_ptr<Executable> executable) {
  MutexLock lock(&mu_);
  SyncCapacity();
  const bool present = entries_.Get(key) != nullptr;
  const size_t before = entries_.size();
  entries_.Put(key, std::move(executable));
  if (!present && entries_.size() == before) {
    ++evictions_;
    static metrics::Counter* counter = metrics::GetCounter("CompileCacheEviction");
    counter->Add();
  }
}

void CompileCache::Clear() {
  MutexLock lock(&mu_);
  entries_.Clear();
  evictions_ = 0;
}

size_t CompileCache::size() const {
  MutexLock lock(&mu_);
  return entries_.size();
}

size_t CompileCache::capacity() const {
  MutexLock lock(&mu_);
  return entries_.capacity();
}

int64_t CompileCache::evictions() const {
  MutexLock lock(&mu_);
  return evictions_;
}

CompileCache& GlobalCompileCache() {
  static auto* cache = new CompileCache;  // never destroyed: executables may be used at exit
  return *cache;
}

Hash128 CompileCacheKey(const Graph& graph, const Backend& backend) {
  return HashCombine(graph.hash(), backend.CodeKey());
}

}  // namespace kiln
