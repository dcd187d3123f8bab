#include "backends/cpu/host_allocator.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cstdlib>

#include "util/check.h"
#include "util/metrics.h"

namespace kiln::cpu {
namespace {

constexpr size_t kAlignment = 64;
constexpr size_t kSmallStep = 512;
constexpr size_t kSmallLimit = size_t{1} << 20;
constexpr size_t kHugePage = size_t{2} << 20;

metrics::Counter* HitCounter() {
  static metrics::Counter* c = metrics::GetCounter("HostAllocatorHit");
  return c;
}
metrics::Counter* MissCounter() {
  static metrics::Counter* c = metrics::GetCounter("HostAllocatorMiss");
  return c;
}
metrics::Counter* ReservedGauge() {
  static metrics::Counter* c = metrics::GetCounter("HostAllocatorReservedBytes");
  return c;
}
metrics::Gauge* InUseGauge() {
  static metrics::Gauge* g = metrics::GetGauge("HostBytesInUse");
  return g;
}

}  // namespace

size_t HostAllocator::DefaultCap() {
  constexpr size_t kMaxCap = size_t{2} << 30;
  const long pages = sysconf(_SC_PHYS_PAGES);
  const long page_size = sysconf(_SC_PAGESIZE);
  if (pages <= 0 || page_size <= 0) return kMaxCap;
  return std::min(kMaxCap, static_cast<size_t>(pages) * static_cast<size_t>(page_size) / 4);
}

HostAllocator::HostAllocator(size_t cap) : cap_(cap) {}

HostAllocator::~HostAllocator() { ReleaseCached(); }

HostAllocator& HostAllocator::Global() {
  static auto* allocator = [] {
    auto* a = new HostAllocator();
    a->report_metrics_ = true;
    return a;
  }();
  return *allocator;
}

size_t HostAllocator::ClassSize(size_t bytes) {
  bytes = std::max<size_t>(bytes, 1);
  if (bytes <= kSmallLimit) return (bytes + kSmallStep - 1) / kSmallStep * kSmallStep;
  // bytes > 1 MiB, so the step (a quarter of the power of two below) is at least 256 KiB.
  const size_t step = std::bit_floor(bytes) / 4;
  return (bytes + step - 1) / step * step;
}

void* HostAllocator::Allocate(size_t bytes) {
  const size_t size = ClassSize(bytes);
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = free_.find(size);
    if (it != free_.end() && !it->second.empty()) {
      const LruList::iterator block = it->second.back();
      it->second.pop_back();
      void* ptr = block->ptr;
      lru_.erase(block);
      cached_ -= size;
      in_use_ += size;
      ++hits_;
      if (report_metrics_) {
        HitCounter()->Add();
        InUseGauge()->Add(static_cast<int64_t>(size));
      }
      return ptr;
    }
    ++misses_;
    if (report_metrics_) MissCounter()->Add();
  }
  // Ask the OS outside the lock, since mapping large blocks is slow.
  const bool huge = size >= kHugePage;
  void* ptr = nullptr;
  const size_t alignment = huge ? kHugePage : kAlignment;
  int rc = posix_memalign(&ptr, alignment, size);
  if (rc != 0) {
    // Cached blocks of other classes may be what stands between us and the memory.
    ReleaseCached();
    rc = posix_memalign(&ptr, alignment, size);
  }
  if (rc != 0 || ptr == nullptr) return nullptr;
  // Fewer page faults and TLB misses for big tensors; ignored where THP is off.
  if (huge) madvise(ptr, size, MADV_HUGEPAGE);
  std::lock_guard<std::mutex> lock(mu_);
  reserved_ += size;
  in_use_ += size;
  peak_reserved_ = std::max(peak_reserved_, reserved_);
  PublishReservedLocked();
  if (report_metrics_) InUseGauge()->Add(static_cast<int64_t>(size));
  return ptr;
}

void HostAllocator::Free(void* ptr, size_t bytes) {
  if (ptr == nullptr) return;
  const size_t size = ClassSize(bytes);
  std::lock_guard<std::mutex> lock(mu_);
  in_use_ -= size;
  if (report_metrics_) InUseGauge()->Add(-static_cast<int64_t>(size));
  if (size > cap_) {
    ReleaseLocked(ptr, size);
    return;
  }
  lru_.push_front(Block{ptr, size});
  free_[size].push_back(lru_.begin());
  cached_ += size;
  EvictLocked(cap_);
}

void HostAllocator::ReleaseCached() {
  std::lock_guard<std::mutex> lock(mu_);
  EvictLocked(0);
}

void HostAllocator::SetCap(size_t cap) {
  std::lock_guard<std::mutex> lock(mu_);
  cap_ = cap;
  EvictLocked(cap_);
}

size_t HostAllocator::cap() const {
  std::lock_guard<std::mutex> lock(mu_);
  return cap_;
}

size_t HostAllocator::cached_bytes() const {
  std::lock_guard<std::mutex> lock(mu_);
  return cached_;
}

size_t HostAllocator::reserved_bytes() const {
  std::lock_guard<std::mutex> lock(mu_);
  return reserved_;
}

size_t HostAllocator::in_use_bytes() const {
  std::lock_guard<std::mutex> lock(mu_);
  return in_use_;
}

size_t HostAllocator::peak_reserved_bytes() const {
  std::lock_guard<std::mutex> lock(mu_);
  return peak_reserved_;
}

int64_t HostAllocator::hits() const {
  std::lock_guard<std::mutex> lock(mu_);
  return hits_;
}

int64_t HostAllocator::misses() const {
  std::lock_guard<std::mutex> lock(mu_);
  return misses_;
}

void HostAllocator::EvictLocked(size_t cap) {
  while (cached_ > cap) {
    const Block oldest = lru_.back();
    // Blocks of one class are freed in LRU order, so the globally oldest block is the
    // front of its class's list.
    auto it = free_.find(oldest.size);
    KILN_CHECK(it != free_.end() && !it->second.empty());
    it->second.pop_front();
    if (it->second.empty()) free_.erase(it);
    lru_.pop_back();
    cached_ -= oldest.size;
    ReleaseLocked(oldest.ptr, oldest.size);
  }
}

void HostAllocator::ReleaseLocked(void* ptr, size_t size) {
  std::free(ptr);
  reserved_ -= size;
  PublishReservedLocked();
}

void HostAllocator::PublishReservedLocked() {
  if (!report_metrics_) return;
  // Set rather than add a delta, so the gauge is right again after metrics::reset().
  metrics::Counter* gauge = ReservedGauge();
  gauge->Reset();
  gauge->Add(static_cast<int64_t>(reserved_));
}

}  // namespace kiln::cpu
