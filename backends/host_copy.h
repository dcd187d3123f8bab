#pragma once
// Copying host data into a buffer that lives in host memory (interp, cpu).
#include "ir/shape.h"

namespace kiln {

// Copies the elements of `shape` from `host` to `dst`. Bool elements are normalised to
// 0 or 1: kernels read them as C++ bool, and a host byte of any non-zero value means true.
void CopyHostElements(const Shape& shape, const void* host, void* dst);

}  // namespace kiln
