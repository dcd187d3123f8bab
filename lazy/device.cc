#include "lazy/device.h"

#include <atomic>
#include <string>

#include "absl/strings/str_cat.h"
#include "util/config.h"
#include "util/error.h"

namespace kiln {
namespace {

// Null until first use, when KILN_DEVICE is resolved; set_device replaces it.
std::atomic<Backend*> current{nullptr};

Backend* Resolve(std::string_view name, std::string_view why) {
  absl::StatusOr<Backend*> backend = GetBackend(name);
  if (!backend.ok()) {
    throw Error(absl::StrCat(std::string(why), ": ", backend.status().message()));
  }
  return *backend;
}

}  // namespace

Backend& current_backend() {
  Backend* backend = current.load(std::memory_order_acquire);
  if (backend == nullptr) {
    backend = Resolve(config().device, absl::StrCat("KILN_DEVICE=", config().device));
    current.store(backend, std::memory_order_release);
  }
  return *backend;
}

void set_device(std::string_view name) {
  current.store(Resolve(name, absl::StrCat("set_device(\"", std::string(name), "\")")),
                std::memory_order_release);
}

}  // namespace kiln
