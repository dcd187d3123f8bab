#include "lazy/scalar_tensor.h"

#include "lazy/tensor_impl.h"
#include "util/error.h"

namespace kiln::internal {

Tensor ScalarTensor(double value, DType dtype, Backend* backend, const CallSite& site) {
  NodePtr node = Node::CreateScalar(dtype, value, site.location);
  return MakePendingTensor(Value{std::move(node), 0}, backend);
}

Tensor ScalarTensor(double value, DType dtype, const Tensor& like, const CallSite& site) {
  return ScalarTensor(value, dtype, like.impl()->backend(), site);
}

Tensor ConstantTensor(double value, DType dtype, Backend* backend, const CallSite& site) {
  absl::StatusOr<NodePtr> node = Node::Create(
      OpKind::kConstant, {}, Attributes().Set("value", value).Set("dtype", dtype), site.location);
  ThrowIfError(node.status());
  return MakePendingTensor(Value{*std::move(node), 0}, backend);
}

Tensor ConstantTensor(double value, DType dtype, const Tensor& like, const CallSite& site) {
  return ConstantTensor(value, dtype, like.impl()->backend(), site);
}

}  // namespace kiln::internal
