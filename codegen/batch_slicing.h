#pragma once
// Whether a kernel can run one slice of its leading (batch) dimension at a time, and how
// its buffers split into slices. Attention's chain of kernels over [B, heads, L, L] (the
// scores' matmul, the softmax, the matmul by v) then runs batch element by batch element,
// each element's scores produced and consumed while they are still in cache, instead of
// each kernel streaming all B elements through memory before the next one starts
// (backends/cpu/batch_sliced_groups.h).
//
//   kiln_k7 (row): loop i0 < n0 (parallel), i1 < n2, i2 < n3 ...
//                  b2[((i0 * n2 + i1) * n3 + i2) * n1 + i4], b1[i0 * n1 + i4]
//   -> slices = n0; slice s: set n0 = 1, offset b2 by s * n2*n3*n1, b1 by s * n1
//
// A kernel slices when:
//   - every loop nest's outermost variable is parallel and runs over the same size
//     symbol (the batch), which no other loop bound and no other expression mentions;
//   - the batch variables appear only in load and store offsets, as a term var * stride
//     with a stride that is a number (sizes and constants; no division, no data), and
//     every access of one buffer has the same stride: the buffer is then B contiguous
//     slices of `stride` elements, or (stride 0, inputs only) read whole by every slice;
//   - its matmuls have batch dimensions, the leading one of size B, and an operand either
//     has it too (sliced) or is broadcast over it (read whole);
//   - it has no checks and no scratch buffers, and every matmul is of a BLAS dtype.
// A kernel with matmuls and no loops slices by its matmuls' leading batch dimension.
#include <cstdint>
#include <optional>
#include <vector>

#include "codegen/kernel_ir.h"

namespace kiln::codegen {

struct BatchSlicing {
  int64_t slices = 0;    // B
  int size_symbol = -1;  // the symbol set to 1 for one slice; -1: the kernel has no loops
  // Per buffer: elements from one slice to the next (slice s starts at s * stride), or 0
  // for an input every slice reads whole.
  std::vector<int64_t> strides;
};

// How `ir` slices, or nullopt when it does not (see above).
std::optional<BatchSlicing> SliceByBatch(const KernelIR& ir);

// `call` restricted to one slice of its leading batch dimension: that dimension becomes
// 1 in the output and in the operands that have it (the caller offsets their buffers).
MatmulCall SliceMatmul(const MatmulCall& call, int64_t slices);

}  // namespace kiln::codegen
