#pragma once
// Copying host data into a buffer that lives in host memory (interp, cpu, and the staging
// copies of the cuda backends).
#include "ir/shape.h"

namespace kiln {

// Copies the elements of `shape` from `host` to `dst`. Bool elements are normalised to
// 0 or 1: kernels read them as C++ bool, and a host byte of any non-zero value means true.
void CopyHostElements(const Shape& shape, const void* host, void* dst);

// Writes `value` converted to `dtype` like a cast (a runtime scalar returned as a graph
// output) to `out`.
void WriteScalarElement(DType dtype, double value, void* out);

}  // namespace kiln
