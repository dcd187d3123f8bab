#include "ir/shape.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace kiln {

int64_t Shape::numel() const {
  // An empty dimension makes the count 0 whatever the others, whose product may not fit.
  if (std::find(sizes_.begin(), sizes_.end(), 0) != sizes_.end()) return 0;
  int64_t n = 1;
  for (int64_t s : sizes_) n *= s;
  return n;
}

std::string Shape::ToString() const { return absl::StrCat(DTypeName(dtype_), SizesString()); }

std::string Shape::SizesString() const {
  return absl::StrCat("[", absl::StrJoin(sizes_, ","), "]");
}

Sizes ContiguousStrides(absl::Span<const int64_t> sizes) {
  Sizes strides(sizes.size());
  int64_t stride = 1;
  for (size_t i = sizes.size(); i-- > 0;) {
    strides[i] = stride;
    stride *= sizes[i];
  }
  return strides;
}

}  // namespace kiln
