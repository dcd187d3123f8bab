#pragma once
// A caching allocator for the cpu backend's host buffers. A freed block goes back to a
// free list of its size class instead of to the OS, so the next run of a graph gets the
// same, already faulted-in pages: for large tensors glibc otherwise maps fresh pages on
// every allocation and each run pays a page fault per 4 KiB.
//
//   void* p = HostAllocator::Global().Allocate(1 << 20);   // miss: from the OS
//   HostAllocator::Global().Free(p, 1 << 20);              // cached
//   void* q = HostAllocator::Global().Allocate(1 << 20);   // hit: q == p
//
// Size classes (a block is never smaller than the request):
//   - up to 1 MiB: round up to a multiple of 512 bytes (zero counts as one byte);
//   - above 1 MiB: round up to a quarter step between powers of two, i.e. to a multiple
//     of 2^(floor(log2 n) - 2): 4 classes per octave, at most 25% slack, so shapes that
//     vary a little (a batch's sequence length) still share blocks.
// Every block is 64-byte aligned (a cache line, and the widest vector load); blocks of
// 2 MiB or more are 2 MiB aligned and advised as transparent huge pages (best effort).
//
// The cache holds at most cap() bytes of free blocks; past it the least recently freed
// blocks go back to the OS. The process-wide instance reports metrics "HostAllocatorHit",
// "HostAllocatorMiss", "HostAllocatorReservedBytes" (bytes held from the OS, in use or
// cached; a counter set to the level, so metrics::reset() zeroes it only until the next
// allocation or free), and the gauge "HostBytesInUse": class-size bytes of the blocks
// handed out and not yet freed (live buffers, a run's intermediates and scratch), with
// its peak, the memory a training step needs. metrics::reset() restarts the peak from
// the current level.
//
// Thread-safe (one mutex): buffers die on any thread.
#include <cstddef>
#include <cstdint>
#include <deque>
#include <list>
#include <mutex>

#include "absl/container/flat_hash_map.h"

namespace kiln::cpu {

class HostAllocator {
 public:
  // The default cap: 2 GiB, or a quarter of physical memory if that is smaller.
  static size_t DefaultCap();

  explicit HostAllocator(size_t cap = DefaultCap());
  // Returns every cached block to the OS; blocks still in use are leaked, which is why the
  // process-wide instance is never destroyed.
  ~HostAllocator();
  HostAllocator(const HostAllocator&) = delete;
  HostAllocator& operator=(const HostAllocator&) = delete;

  // The process-wide allocator. Leaked on purpose: buffers may be freed after main returns.
  static HostAllocator& Global();

  // The size of the block that a request of `bytes` gets.
  static size_t ClassSize(size_t bytes);

  // A block of at least ClassSize(bytes) bytes, 64-byte aligned; null when the OS has no
  // memory for it even after the cache is returned.
  void* Allocate(size_t bytes);
  // Returns `ptr`, from Allocate(bytes) with the same `bytes`, to the cache.
  void Free(void* ptr, size_t bytes);

  // Returns every cached block to the OS (tests, memory pressure).
  void ReleaseCached();
  // Changes the cap, evicting at once if the cache is over it.
  void SetCap(size_t cap);

  size_t cap() const;
  // Bytes of free blocks in the cache.
  size_t cached_bytes() const;
  // Bytes held from the OS: blocks in use plus cached ones.
  size_t reserved_bytes() const;
  // Bytes of the blocks handed out and not yet freed (class sizes).
  size_t in_use_bytes() const;
  // The most reserved_bytes() has ever been.
  size_t peak_reserved_bytes() const;
  // Allocations served from the cache, and from the OS, by this instance.
  int64_t hits() const;
  int64_t misses() const;

 private:
  struct Block {
    void* ptr;
    size_t size;  // the class size
  };
  using LruList = std::list<Block>;

  // Evicts least recently freed blocks until the cache fits in cap_. Needs mu_.
  void EvictLocked(size_t cap);
  void ReleaseLocked(void* ptr, size_t size);
  void PublishReservedLocked();

  mutable std::mutex mu_;
  // Only the process-wide instance reports metrics, so a test's own instance leaves them be.
  bool report_metrics_ = false;
  size_t cap_;
  size_t cached_ = 0;
  size_t reserved_ = 0;
  size_t in_use_ = 0;
  size_t peak_reserved_ = 0;
  int64_t hits_ = 0;
  int64_t misses_ = 0;
  // Every cached block, most recently freed first.
  LruList lru_;
  // Per class size, its cached blocks in the order they were freed (newest at the back,
  // reused first while its pages are warm; the oldest at the front, evicted first).
  absl::flat_hash_map<size_t, std::deque<LruList::iterator>> free_;
};

}  // namespace kiln::cpu
