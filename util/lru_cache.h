#pragma once
// A fixed-capacity map that evicts the least recently used entry.
//
//   LruCache<Hash128, std::shared_ptr<Executable>> cache(1024);
//   if (auto* hit = cache.Get(key)) ...;   // Get marks the entry as most recent
//   cache.Put(key, exe);                    // may evict the oldest entry
//
// Not synchronised; the owner locks.
#include <cstddef>
#include <list>
#include <utility>

#include "absl/container/flat_hash_map.h"

namespace kiln {

template <typename Key, typename Value>
class LruCache {
 public:
  explicit LruCache(size_t capacity) : capacity_(capacity == 0 ? 1 : capacity) {}

  // The value for `key`, or nullptr; a hit becomes the most recently used entry.
  Value* Get(const Key& key) {
    auto it = index_.find(key);
    if (it == index_.end()) return nullptr;
    entries_.splice(entries_.begin(), entries_, it->second);
    return &it->second->second;
  }

  // Inserts or replaces; evicts the least recently used entries past capacity.
  void Put(const Key& key, Value value) {
    auto it = index_.find(key);
    if (it != index_.end()) {
      it->second->second = std::move(value);
      entries_.splice(entries_.begin(), entries_, it->second);
      return;
    }
    entries_.emplace_front(key, std::move(value));
    index_[key] = entries_.begin();
    Shrink();
  }

  // Changes the capacity, evicting if it shrank.
  void set_capacity(size_t capacity) {
    capacity_ = capacity == 0 ? 1 : capacity;
    Shrink();
  }

  size_t size() const { return entries_.size(); }
  size_t capacity() const { return capacity_; }
  void Clear() {
    entries_.clear();
    index_.clear();
  }

 private:
  void Shrink() {
    while (entries_.size() > capacity_) {
      index_.erase(entries_.back().first);
      entries_.pop_back();
    }
  }

  size_t capacity_;
  std::list<std::pair<Key, Value>> entries_;  // most recent first
  absl::flat_hash_map<Key, typename std::list<std::pair<Key, Value>>::iterator> index_;
};

}  // namespace kiln
