#pragma once
// kiln::Error: the exception the public tensor API throws on bad user input or a
// failed barrier. Its message names the op, the shapes involved and what was expected,
// e.g. "add: cannot broadcast f32[3,4] with f32[5] (dim -1: 4 vs 5)".
#include <stdexcept>
#include <string>

#include "absl/status/status.h"

namespace kiln {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

// Throws kiln::Error carrying `status`'s message when it is not OK. The boundary
// between internal absl::Status code and the public API that throws.
void ThrowIfError(const absl::Status& status);

}  // namespace kiln
