#include "lazy/nn_per_channel.h"

#include <vector>

#include "lazy/op_utils.h"
#include "lazy/ops.h"

namespace kiln::internal {

void CheckPerChannel(std::string_view op, std::string_view name, const Tensor& t, const Tensor& x) {
  const int64_t c = x.size(1);
  if (t.defined() && (t.dtype() != x.dtype() || t.dim() != 1 || t.size(0) != c)) {
    ThrowOpError(op, ": expected ", name, " ", Shape(x.dtype(), {c}).ToString(),
                 " for the input's ", c, " channels, got ", t.shape().ToString(), " (input ",
                 x.shape().ToString(), ")");
  }
}

Tensor PerChannel(const Tensor& v, const Tensor& x, const CallSite& site) {
  std::vector<int64_t> sizes(x.dim() - 1, 1);
  sizes[0] = v.size(0);
  return reshape(v, sizes, site);
}

}  // namespace kiln::internal
