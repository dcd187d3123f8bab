#pragma once
// 128-bit hashes (XXH3_128bits) for IR nodes, graphs and cache keys. 128 bits make an
// accidental collision between two cached graphs negligible, so a key match is trusted.
#include <compare>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "absl/container/inlined_vector.h"

namespace kiln {

struct Hash128 {
  uint64_t low = 0;
  uint64_t high = 0;

  friend bool operator==(const Hash128&, const Hash128&) = default;
  friend auto operator<=>(const Hash128&, const Hash128&) = default;
  // 32 hex digits, high word first.
  std::string ToString() const;

  template <typename H>
  friend H AbslHashValue(H h, const Hash128& v) {
    return H::combine(std::move(h), v.low, v.high);
  }
};

// Hash of a byte range.
Hash128 HashBytes(const void* data, size_t size);
inline Hash128 HashString(std::string_view s) { return HashBytes(s.data(), s.size()); }

// Order-dependent combination: HashCombine(a, b) != HashCombine(b, a).
Hash128 HashCombine(const Hash128& a, const Hash128& b);

// Accumulates 64-bit words and hashes them in one XXH3 call: cheaper than combining
// per field, which matters because every traced node is hashed.
//
//   HashBuilder h;
//   h.Add(static_cast<uint64_t>(op)).Add(operand.hash());
//   Hash128 node_hash = h.Finish();
class HashBuilder {
 public:
  HashBuilder() = default;
  // Not copyable: data_ may point into this object.
  HashBuilder(const HashBuilder&) = delete;
  HashBuilder& operator=(const HashBuilder&) = delete;

  HashBuilder& Add(uint64_t word) {
    if (size_ == capacity_) [[unlikely]]
      Grow();
    data_[size_++] = word;
    return *this;
  }
  HashBuilder& Add(const Hash128& h) { return Add(h.low).Add(h.high); }
  HashBuilder& AddDouble(double value);
  HashBuilder& AddString(std::string_view s) { return Add(HashString(s)); }
  Hash128 Finish() const { return HashBytes(data_, size_ * sizeof(uint64_t)); }

 private:
  // A node hashes about ten words; whole graphs spill to the heap.
  static constexpr size_t kInlineWords = 32;
  void Grow();

  // A plain array plus a size: cheaper per word than a small-vector's push_back, and
  // this runs for every word of every traced node. The counts are 32-bit so that a store
  // through data_ cannot alias them: with size_t (the type of uint64_t here) the compiler
  // reloads them after every word.
  uint64_t* data_ = inline_;
  uint32_t size_ = 0;
  uint32_t capacity_ = kInlineWords;
  std::unique_ptr<uint64_t[]> heap_;
  uint64_t inline_[kInlineWords];
};

}  // namespace kiln
