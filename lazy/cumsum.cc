// cumsum, built from reductions: every backend, the fusion planner and autograd take it
// as it is. A row of n is cut into blocks of about sqrt(n); each block's prefix sums and
// then the blocks' running offsets are masked sums (one reduction kernel each), so a row
// costs O(n^1.5) additions in a few kernels, with no sequential loop over n.
#include <cmath>
#include <cstdint>
#include <vector>

#include "lazy/op_utils.h"
#include "lazy/ops.h"
#include "lazy/scalar_tensor.h"

namespace kiln {
namespace {

using internal::ArangeTensor;
using internal::CastTo;
using internal::CheckOperand;
using internal::NormalizeDim;

// Rows up to this long are summed in one masked reduction (n^2 additions a row).
constexpr int64_t kOneBlock = 64;

// Prefix sums along the last dimension in one reduction: out[..., i] = the sum of
// x[..., j] over j <= i (inclusive) or j < i.
Tensor MaskedPrefixSums(const Tensor& x, bool inclusive, const CallSite& site) {
  const int64_t n = x.shape().size(x.dim() - 1);
  const Tensor j = ArangeTensor(n, DType::kI64, x, site);
  const Tensor i = unsqueeze(j, 1, site);
  // [..., i, j]: x[..., j] where j comes before i, else 0.
  const Tensor terms =
      where(inclusive ? le(j, i, site) : lt(j, i, site), unsqueeze(x, -2, site), 0, site);
  return sum(terms, {-1}, /*keepdim=*/false, site);
}

// Inclusive prefix sums along the last dimension.
Tensor PrefixSums(const Tensor& x, const CallSite& site) {
  const int64_t n = x.shape().size(x.dim() - 1);
  if (n <= kOneBlock) return MaskedPrefixSums(x, /*inclusive=*/true, site);
  const auto block = static_cast<int64_t>(std::ceil(std::sqrt(static_cast<double>(n))));
  const int64_t blocks = (n + block - 1) / block;
  std::vector<int64_t> pads = {0, blocks * block - n};
  std::vector<int64_t> sizes(x.shape().sizes().begin(), x.shape().sizes().end() - 1);
  sizes.push_back(blocks);
  sizes.push_back(block);
  // [..., blocks, block]: the prefix sums within each block.
  const Tensor within =
      MaskedPrefixSums(reshape(pad(x, pads, 0.0, site), sizes, site), /*inclusive=*/true, site);
  // Each block's total, and the sum of the blocks before it.
  const Tensor totals = squeeze(slice(within, -1, block - 1, block, 1, site), -1, site);
  const Tensor before = MaskedPrefixSums(totals, /*inclusive=*/false, site);
  const Tensor sums = add(within, unsqueeze(before, -1, site), site);
  sizes.pop_back();
  sizes.back() = blocks * block;
  return slice(reshape(sums, sizes, site), -1, 0, n, 1, site);
}

}  // namespace

Tensor cumsum(const Tensor& x, int64_t dim, CallSite site) {
  CheckOperand("cumsum", x);
  const int64_t axis = NormalizeDim("cumsum", dim, x.shape());
  // Integers and bool are summed in i64, as torch.cumsum does.
  const Tensor values = IsFloating(x.dtype()) ? x : CastTo(x, DType::kI64, site);
  const int64_t last = x.dim() - 1;
  if (axis == last) return PrefixSums(values, site);
  return transpose(PrefixSums(transpose(values, axis, last, site), site), axis, last, site);
}

}  // namespace kiln
