#pragma once
// KILN_CHECK_NAN=1: the backends look at every floating value a kernel writes (interp:
// every node's value) and stop the run at the first NaN or infinity, with an error that
// names the kernel, the value, the element and the IR that computed it:
//
//   KILN_CHECK_NAN: kernel kiln_k3 (elementwise) of graph 5f0c... wrote nan at element
//   [1,2] of %4 = f32[2,3] log(%3) (the first of 2 non-finite elements of 6); the kernel
//   computes:
//     %3 = f32[2,3] sub(%0, %2)
//     %4 = f32[2,3] log(%3)
//
// A NaN that comes in with the data is reported as the argument's before anything runs.
// Meant for debugging: each check reads the whole output once more.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "ir/shape.h"

namespace kiln {

struct NonFinite {
  int64_t first = 0;  // flat index of the first NaN or infinity
  double value = 0;   // its value
  int64_t count = 0;  // how many there are
};

// The non-finite elements of a buffer holding `shape`; nullopt when there are none or
// the dtype is not floating.
std::optional<NonFinite> FindNonFinite(const Shape& shape, const void* data);

// The run's error for `found` in the value of `shape` that `node_line` (its IR text line)
// defines. `who` says where it came from, with the verb ("kernel kiln_k3 (elementwise) of
// graph 5f0c... wrote"); `computes`, the IR of the kernel, is printed under it when not
// empty.
absl::Status NonFiniteError(const std::string& who, const Shape& shape, const NonFinite& found,
                            const std::string& node_line, const std::vector<std::string>& computes);

}  // namespace kiln
