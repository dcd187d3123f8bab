#pragma once
// Shape: an element type plus sizes, e.g. f32[32,128]; f32[] is a 0-d scalar.
#include <cstdint>
#include <optional>
#include <string>

#include "absl/container/inlined_vector.h"
#include "absl/types/span.h"
#include "ir/dtype.h"

namespace kiln {

// Inline storage for the ranks models use, so making a Shape rarely allocates.
using Sizes = absl::InlinedVector<int64_t, 6>;

// unit * (product of sizes), e.g. a count of elements (unit 1) or of bytes (unit = the
// dtype's size); nullopt when it does not fit in an int64. A size of 0 makes it 0 however
// large the others are. Sizes must be >= 0. Inline: shape inference runs it on every op.
[[gnu::always_inline]] inline std::optional<int64_t> CheckedProduct(absl::Span<const int64_t> sizes,
                                                                    int64_t unit = 1) {
  int64_t product = unit;
  bool overflow = false;
  for (int64_t s : sizes) {
    if (s == 0) return 0;
    overflow = overflow || __builtin_mul_overflow(product, s, &product);
  }
  if (overflow) return std::nullopt;
  return product;
}

class Shape {
 public:
  Shape() = default;
  Shape(DType dtype, absl::Span<const int64_t> sizes)
      : dtype_(dtype), sizes_(sizes.begin(), sizes.end()) {}
  Shape(DType dtype, std::initializer_list<int64_t> sizes) : dtype_(dtype), sizes_(sizes) {}
  Shape(DType dtype, const Sizes& sizes) : dtype_(dtype), sizes_(sizes) {}
  Shape(DType dtype, Sizes&& sizes) : dtype_(dtype), sizes_(std::move(sizes)) {}

  DType dtype() const { return dtype_; }
  const Sizes& sizes() const { return sizes_; }
  int64_t rank() const { return static_cast<int64_t>(sizes_.size()); }
  // Size of dimension `dim` (0 <= dim < rank).
  int64_t size(int64_t dim) const { return sizes_[dim]; }
  int64_t numel() const;
  int64_t byte_size() const { return numel() * DTypeSize(dtype_); }

  // "f32[32,128]".
  std::string ToString() const;
  // "[32,128]".
  std::string SizesString() const;

  friend bool operator==(const Shape& a, const Shape& b) {
    return a.dtype_ == b.dtype_ && a.sizes_ == b.sizes_;
  }

 private:
  DType dtype_ = DType::kF32;
  Sizes sizes_;
};

// Row-major (C-order) strides in elements for `sizes`.
Sizes ContiguousStrides(absl::Span<const int64_t> sizes);

}  // namespace kiln
