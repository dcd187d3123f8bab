#include "backends/host_copy.h"

#include <cstdint>
#include <cstring>
#include <limits>

namespace kiln {

void CopyHostElements(const Shape& shape, const void* host, void* dst) {
  const int64_t bytes = shape.byte_size();
  if (bytes == 0) return;
  std::memcpy(dst, host, bytes);
  if (shape.dtype() == DType::kBool) {
    auto* p = static_cast<unsigned char*>(dst);
    for (int64_t i = 0; i < bytes; ++i) p[i] = p[i] != 0 ? 1 : 0;
  }
}

void WriteScalarElement(DType dtype, double value, void* out) {
  switch (dtype) {
    case DType::kBool: {
      const bool v = value != 0;
      std::memcpy(out, &v, 1);
      return;
    }
    case DType::kI32:
    case DType::kI64: {
      const bool i32 = dtype == DType::kI32;
      int64_t v = 0;
      const double limit = i32 ? 2147483648.0 : 9223372036854775808.0;
      if (value != value) {
        v = 0;
      } else if (value >= limit) {
        v = i32 ? std::numeric_limits<int32_t>::max() : std::numeric_limits<int64_t>::max();
      } else if (value < -limit) {
        v = i32 ? std::numeric_limits<int32_t>::min() : std::numeric_limits<int64_t>::min();
      } else {
        v = static_cast<int64_t>(value);
      }
      if (i32) {
        const int32_t w = static_cast<int32_t>(v);
        std::memcpy(out, &w, 4);
      } else {
        std::memcpy(out, &v, 8);
      }
      return;
    }
    case DType::kF64:
      std::memcpy(out, &value, 8);
      return;
    default: {
      const float f = static_cast<float>(value);
      std::memcpy(out, &f, 4);
    }
  }
}

}  // namespace kiln
