#include "backends/kernel_failure.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/types/span.h"

namespace kiln {
namespace {

std::string PositionString(int64_t flat, absl::Span<const int64_t> sizes) {
  Sizes index(sizes.size(), 0);
  for (size_t d = sizes.size(); d-- > 0;) {
    if (sizes[d] == 0) continue;
    index[d] = flat % sizes[d];
    flat /= sizes[d];
  }
  return absl::StrCat("[", absl::StrJoin(index, ","), "]");
}

}  // namespace

absl::Status CheckFailure(const codegen::Check& check, int64_t value, int64_t position) {
  const std::string op = OpName(check.op);
  switch (check.kind) {
    case codegen::Check::kIndexRange:
      return absl::InvalidArgumentError(absl::StrCat(
          op, ": index ", value, " at position ", PositionString(position, check.shape),
          " is out of range for dimension ", check.dim, " of size ", check.size));
    case codegen::Check::kDivByZero:
      return absl::InvalidArgumentError(absl::StrCat(op, ": integer division by zero"));
    case codegen::Check::kNegativeExponent:
      return absl::InvalidArgumentError(absl::StrCat(
          op, ": integer base raised to the negative exponent ", value, " at position ",
          PositionString(position, check.shape), "; integer powers need exponent >= 0"));
  }
  return absl::InternalError("unknown kernel check");
}

}  // namespace kiln
