// gather, index_select and scatter_add. Index values are range-checked when the graph
// runs; everything about shapes and dtypes is checked here, before recording.
#include "lazy/op_utils.h"
#include "lazy/ops.h"
#include "lazy/tensor_impl.h"

namespace kiln {
namespace {

using internal::CheckOperand;
using internal::CheckSameBackend;
using internal::NormalizeDim;
using internal::ReshapeTo;
using internal::ThrowOpError;

void CheckIndexDType(std::string_view op, const Tensor& index) {
  if (!IsIntegral(index.dtype())) {
    ThrowOpError(op, ": expected an i32 or i64 index, got ", index.shape().ToString());
  }
}

// The index of gather/scatter_add must not be larger than `other` in any dimension
// except `except` (pass -1 to check every dimension).
void CheckIndexFits(std::string_view op, const Tensor& index, const Tensor& other,
                    std::string_view other_name, int64_t except) {
  for (int64_t d = 0; d < index.dim(); ++d) {
    if (d != except && index.shape().size(d) > other.shape().size(d)) {
      ThrowOpError(op, ": index ", index.shape().ToString(), " is larger than ", other_name, " ",
                   other.shape().ToString(), " in dimension ", d, " (", index.shape().size(d),
                   " > ", other.shape().size(d), ")");
    }
  }
}

}  // namespace

Tensor gather(const Tensor& x, int64_t dim, const Tensor& index, CallSite site) {
  CheckOperand("gather", x);
  CheckOperand("gather", index, "index");
  CheckSameBackend("gather", {&x, &index});
  CheckIndexDType("gather", index);
  const int64_t axis = NormalizeDim("gather", dim, x.shape());
  if (index.dim() != x.dim()) {
    ThrowOpError("gather: index ", index.shape().ToString(), " must have the rank of the input ",
                 x.shape().ToString());
  }
  CheckIndexFits("gather", index, x, "the input", axis);
  return RecordOp(OpKind::kGather, {x, index}, Attributes().Set("dim", axis), site);
}

Tensor index_select(const Tensor& x, int64_t dim, const Tensor& index, CallSite site) {
  CheckOperand("index_select", x);
  CheckOperand("index_select", index, "index");
  CheckSameBackend("index_select", {&x, &index});
  CheckIndexDType("index_select", index);
  const int64_t axis = NormalizeDim("index_select", dim, x.shape());
  if (index.dim() > 1) {
    ThrowOpError("index_select: expected a 1-d index, got ", index.shape().ToString(),
                 " for input ", x.shape().ToString());
  }
  // A 0-d index selects one entry and keeps the dimension, as in PyTorch.
  Tensor flat = index.dim() == 0 ? ReshapeTo(index, {1}, site) : index;
  return RecordOp(OpKind::kIndexSelect, {x, flat}, Attributes().Set("dim", axis), site);
}

Tensor scatter_add(const Tensor& self, int64_t dim, const Tensor& index, const Tensor& src,
                   CallSite site) {
  CheckOperand("scatter_add", self);
  CheckOperand("scatter_add", index, "index");
  CheckOperand("scatter_add", src, "src");
  CheckSameBackend("scatter_add", {&self, &index, &src});
  CheckIndexDType("scatter_add", index);
  if (self.dtype() == DType::kBool) {
    ThrowOpError("scatter_add: expected a numeric dtype (i32, i64, f32 or f64), got ",
                 self.shape().ToString());
  }
  if (src.dtype() != self.dtype()) {
    ThrowOpError("scatter_add: src ", src.shape().ToString(), " must have the dtype of self ",
                 self.shape().ToString());
  }
  const int64_t axis = NormalizeDim("scatter_add", dim, self.shape());
  if (index.dim() != self.dim() || src.dim() != self.dim()) {
    ThrowOpError("scatter_add: self, index and src must have one rank, got ",
                 self.shape().ToString(), ", ", index.shape().ToString(), ", ",
                 src.shape().ToString());
  }
  CheckIndexFits("scatter_add", index, src, "src", -1);
  CheckIndexFits("scatter_add", index, self, "self", axis);
  return RecordOp(OpKind::kScatterAdd, {self, index, src}, Attributes().Set("dim", axis), site);
}

}  // namespace kiln
