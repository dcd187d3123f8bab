#include "backends/backend.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "backends/cpu/cpu_backend.h"
#include "backends/interp/interp_backend.h"

namespace kiln {

absl::StatusOr<Backend*> GetBackend(std::string_view name) {
  if (name == "interp") {
    static Backend* interp = new InterpBackend();  // process lifetime: buffers may outlive main
    return interp;
  }
  if (name == "cpu") {
    static Backend* cpu = new cpu::CpuBackend();  // process lifetime, like interp
    return cpu;
  }
  if (name == "cuda") {
    return absl::UnavailableError(absl::StrCat(
        "backend '", std::string(name), "' is not built into this kiln; available: interp, cpu"));
  }
  return absl::NotFoundError(
      absl::StrCat("unknown backend '", std::string(name), "'; expected interp, cpu or cuda"));
}

}  // namespace kiln
