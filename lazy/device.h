#pragma once
// The device new tensors live on: the backend named by KILN_DEVICE (default interp)
// until set_device() changes it. Tensors from different backends cannot be mixed in one
// op (kiln::Error).
#include <string_view>

#include "backends/backend.h"

namespace kiln {

// The current backend. Throws kiln::Error when KILN_DEVICE names one that is not
// available (e.g. cuda on a machine without a driver), with the reason.
Backend& current_backend();
// Switches the device for tensors created from now on; throws kiln::Error when the
// backend is unknown or unavailable (the current device then stays as it was).
void set_device(std::string_view name);

}  // namespace kiln
