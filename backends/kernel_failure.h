#pragma once
// The error a backend returns when a generated kernel's check fails (codegen::Check: an
// index out of range, an integer division by zero, a negative integer exponent), from
// what the kernel recorded: the failing value and its flat position.
//
//   gather: index 7 at position [1,0] is out of range for dimension 0 of size 5
#include <cstdint>

#include "absl/status/status.h"
#include "codegen/kernel_ir.h"

namespace kiln {

// InvalidArgument naming the op, the value and the position as a multi-index.
absl::Status CheckFailure(const codegen::Check& check, int64_t value, int64_t position);

}  // namespace kiln
