// matmul with torch.matmul's handling of 1-D operands: the IR multiplies matrices
// (rank >= 2, batch dimensions broadcast), so a vector is reshaped into a one-row or
// one-column matrix and the added dimension removed from the result.
//
//   [k] x [k, n]  ->  [1, k] x [k, n] = [1, n]  ->  [n]
//   [k] x [k]     ->  [1, k] x [k, 1] = [1, 1]  ->  []
#include <algorithm>
#include <vector>

#include "lazy/op_utils.h"
#include "lazy/ops.h"
#include "lazy/tensor_impl.h"

namespace kiln {
namespace {

using internal::CastTo;
using internal::CheckOperand;
using internal::CheckSameBackend;
using internal::ReshapeTo;
using internal::ThrowOpError;

}  // namespace

Tensor matmul(const Tensor& a, const Tensor& b, CallSite site) {
  CheckOperand("matmul", a, "first operand");
  CheckOperand("matmul", b, "second operand");
  CheckSameBackend("matmul", {&a, &b});
  const Shape& sa = a.shape();
  const Shape& sb = b.shape();
  if (sa.rank() == 0 || sb.rank() == 0) {
    ThrowOpError("matmul: both operands need at least 1 dimension, got ", sa.ToString(), " x ",
                 sb.ToString());
  }
  if (sa.dtype() == DType::kBool || sb.dtype() == DType::kBool) {
    ThrowOpError("matmul: bool operands are not supported, got ", sa.ToString(), " x ",
                 sb.ToString(), "; cast to a numeric dtype first");
  }
  const int64_t k = sa.size(sa.rank() - 1);
  const int64_t k2 = sb.rank() == 1 ? sb.size(0) : sb.size(sb.rank() - 2);
  if (k != k2) {
    ThrowOpError("matmul: inner sizes differ: ", sa.ToString(), " x ", sb.ToString(), " (", k,
                 " vs ", k2, ")");
  }
  // Batch dimensions broadcast; checked here so a failure records nothing.
  const int64_t batch_a = std::max<int64_t>(sa.rank() - 2, 0);
  const int64_t batch_b = std::max<int64_t>(sb.rank() - 2, 0);
  Sizes out(std::max(batch_a, batch_b), 1);
  for (int64_t i = 0; i < static_cast<int64_t>(out.size()); ++i) {
    const int64_t da = i < batch_a ? sa.size(batch_a - 1 - i) : 1;
    const int64_t db = i < batch_b ? sb.size(batch_b - 1 - i) : 1;
    if (da != db && da != 1 && db != 1) {
      ThrowOpError("matmul: cannot broadcast the batch dimensions of ", sa.ToString(), " with ",
                   sb.ToString(), ": sizes ", da, " and ", db, " differ and neither is 1");
    }
    out[out.size() - 1 - i] = da == 1 ? db : da;
  }
  if (sa.rank() > 1) out.push_back(sa.size(sa.rank() - 2));
  if (sb.rank() > 1) out.push_back(sb.size(sb.rank() - 1));

  const DType dtype = PromoteTypes(sa.dtype(), sb.dtype());
  Tensor lhs = CastTo(a, dtype, site);
  Tensor rhs = CastTo(b, dtype, site);
  if (sa.rank() == 1) lhs = ReshapeTo(lhs, {1, k}, site);
  if (sb.rank() == 1) rhs = ReshapeTo(rhs, {k, 1}, site);
  Tensor product = RecordOp(OpKind::kMatmul, {lhs, rhs}, {}, site);
  if (sa.rank() > 1 && sb.rank() > 1) return product;
  return ReshapeTo(product, out, site);
}

}  // namespace kiln
