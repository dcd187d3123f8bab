#include "util/error.h"

namespace kiln {

void ThrowIfError(const absl::Status& status) {
  if (!status.ok()) throw Error(std::string(status.message()));
}

}  // namespace kiln
