#include "backends/host_copy.h"

#include <cstring>

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

}  // namespace kiln
