#include "util/hash.h"

#include <cstring>
#include <memory>

#include "absl/strings/str_format.h"

#define XXH_INLINE_ALL
#include "xxhash.h"

namespace kiln {

std::string Hash128::ToString() const { return absl::StrFormat("%016x%016x", high, low); }

Hash128 HashBytes(const void* data, size_t size) {
  XXH128_hash_t h = XXH3_128bits(data, size);
  return Hash128{h.low64, h.high64};
}

Hash128 HashCombine(const Hash128& a, const Hash128& b) {
  const uint64_t words[4] = {a.low, a.high, b.low, b.high};
  return HashBytes(words, sizeof(words));
}

void HashBuilder::Grow() {
  const uint32_t capacity = capacity_ * 2;
  auto grown = std::make_unique<uint64_t[]>(capacity);
  std::memcpy(grown.get(), data_, size_ * sizeof(uint64_t));
  heap_ = std::move(grown);
  data_ = heap_.get();
  capacity_ = capacity;
}

HashBuilder& HashBuilder::AddDouble(double value) {
  uint64_t bits;
  std::memcpy(&bits, &value, sizeof(bits));
  return Add(bits);
}

}  // namespace kiln
