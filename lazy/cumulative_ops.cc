// cumsum and cumprod, built from reductions: every backend, the fusion planner and
// autograd take them as they are (cumprod's gradient at zeros is prod's). A row of n is
// cut into blocks of about sqrt(n); each block's running sums (products) and then the
// blocks' running totals are masked reductions (one reduction kernel each), so a row costs
// O(n^1.5) operations in a few kernels, with no sequential loop over n.
#include <cmath>
#include <cstdint>
#include <string_view>
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

// Rows up to this long are scanned in one masked reduction (n^2 operations a row).
constexpr int64_t kOneBlock = 64;

// A running sum or a running product.
struct Scan {
  int identity;  // an int, which keeps integer scans integer
  Tensor (*reduce)(const Tensor&, std::vector<int64_t>, bool, CallSite);
  Tensor (*combine)(const Tensor&, const Tensor&, CallSite);
};
constexpr Scan kSums = {0, &sum, &add};
constexpr Scan kProducts = {1, &prod, &mul};

// The scan along the last dimension in one reduction: out[..., i] = x[..., j] combined
// over j <= i (inclusive) or j < i.
Tensor MaskedScan(const Scan& scan, const Tensor& x, bool inclusive, const CallSite& site) {
  const int64_t n = x.shape().size(x.dim() - 1);
  const Tensor j = ArangeTensor(n, DType::kI64, x, site);
  const Tensor i = unsqueeze(j, 1, site);
  // [..., i, j]: x[..., j] where j comes before i, else the identity.
  const Tensor terms = where(inclusive ? le(j, i, site) : lt(j, i, site), unsqueeze(x, -2, site),
                             scan.identity, site);
  return scan.reduce(terms, {-1}, /*keepdim=*/false, site);
}

// The inclusive scan along the last dimension.
Tensor InclusiveScan(const Scan& scan, const Tensor& x, const CallSite& site) {
  const int64_t n = x.shape().size(x.dim() - 1);
  if (n <= kOneBlock) return MaskedScan(scan, x, /*inclusive=*/true, site);
  const auto block = static_cast<int64_t>(std::ceil(std::sqrt(static_cast<double>(n))));
  const int64_t blocks = (n + block - 1) / block;
  std::vector<int64_t> pads = {0, blocks * block - n};
  std::vector<int64_t> sizes(x.shape().sizes().begin(), x.shape().sizes().end() - 1);
  sizes.push_back(blocks);
  sizes.push_back(block);
  // [..., blocks, block]: the scan within each block.
  const Tensor within = MaskedScan(scan, reshape(pad(x, pads, scan.identity, site), sizes, site),
                                   /*inclusive=*/true, site);
  // Each block's total, and the blocks' before it combined.
  const Tensor totals = squeeze(slice(within, -1, block - 1, block, 1, site), -1, site);
  const Tensor before = MaskedScan(scan, totals, /*inclusive=*/false, site);
  const Tensor scanned = scan.combine(within, unsqueeze(before, -1, site), site);
  sizes.pop_back();
  sizes.back() = blocks * block;
  return slice(reshape(scanned, sizes, site), -1, 0, n, 1, site);
}

Tensor Cumulative(std::string_view op, const Scan& scan, const Tensor& x, int64_t dim,
                  const CallSite& site) {
  CheckOperand(op, x);
  const int64_t axis = NormalizeDim(op, dim, x.shape());
  // Integers and bool are accumulated in i64, as torch does.
  const Tensor values = IsFloating(x.dtype()) ? x : CastTo(x, DType::kI64, site);
  const int64_t last = x.dim() - 1;
  if (axis == last) return InclusiveScan(scan, values, site);
  return transpose(InclusiveScan(scan, transpose(values, axis, last, site), site), axis, last,
                   site);
}

}  // namespace

Tensor cumsum(const Tensor& x, int64_t dim, CallSite site) {
  return Cumulative("cumsum", kSums, x, dim, site);
}

Tensor cumprod(const Tensor& x, int64_t dim, CallSite site) {
  return Cumulative("cumprod", kProducts, x, dim, site);
}

}  // namespace kiln
