#include "backends/nan_check.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace kiln {
namespace {

template <typename T>
std::optional<NonFinite> Scan(const T* x, int64_t n) {
  std::optional<NonFinite> found;
  for (int64_t i = 0; i < n; ++i) {
    if (std::isfinite(x[i])) continue;
    if (!found) found = NonFinite{i, static_cast<double>(x[i]), 0};
    ++found->count;
  }
  return found;
}

// "[1,2]": the multi-index of flat element `flat` in row-major `dims`.
std::string MultiIndex(absl::Span<const int64_t> dims, int64_t flat) {
  std::vector<int64_t> index(dims.size());
  for (size_t d = dims.size(); d-- > 0;) {
    index[d] = dims[d] > 0 ? flat % dims[d] : 0;
    flat = dims[d] > 0 ? flat / dims[d] : 0;
  }
  return absl::StrCat("[", absl::StrJoin(index, ","), "]");
}

}  // namespace

std::optional<NonFinite> FindNonFinite(const Shape& shape, const void* data) {
  switch (shape.dtype()) {
    case DType::kF32:
      return Scan(static_cast<const float*>(data), shape.numel());
    case DType::kF64:
      return Scan(static_cast<const double*>(data), shape.numel());
    default:
      return std::nullopt;
  }
}

absl::Status NonFiniteError(const std::string& who, const Shape& shape, const NonFinite& found,
                            const std::string& node_line,
                            const std::vector<std::string>& computes) {
  const char* value = std::isnan(found.value) ? "nan" : found.value > 0 ? "inf" : "-inf";
  std::string message =
      absl::StrCat("KILN_CHECK_NAN: ", who, " ", value, " at element ",
                   MultiIndex(shape.sizes(), found.first), " of ", node_line, " (the first of ",
                   found.count, " non-finite elements of ", shape.numel(), ")");
  if (!computes.empty()) {
    absl::StrAppend(&message, "; the kernel computes:");
    for (const std::string& line : computes) absl::StrAppend(&message, "\n  ", line);
  }
  return absl::InvalidArgumentError(message);
}

}  // namespace kiln
