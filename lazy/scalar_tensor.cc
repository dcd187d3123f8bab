#include "lazy/scalar_tensor.h"

#include <utility>

#include "lazy/precompile.h"
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

Tensor RecordScalarOp(OpKind op, const Tensor& t, double value, bool scalar_first,
                      const CallSite& site) {
  TensorImpl& impl = *t.impl();
  const Value& tensor_value = impl.value(site);
  const Value leaf{Node::CreateScalar(tensor_value.shape().dtype(), value, site.location), 0};
  const Value* operands[2] = {&tensor_value, &leaf};
  const Tensor* tensors[2] = {&t, nullptr};
  if (scalar_first) {
    std::swap(operands[0], operands[1]);
    std::swap(tensors[0], tensors[1]);
  }
  return RecordNode(op, operands, tensors, {}, impl.backend(), site);
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

Tensor ArangeTensor(int64_t size, DType dtype, const Tensor& like, const CallSite& site) {
  absl::StatusOr<NodePtr> node = Node::Create(
      OpKind::kArange, {},
      Attributes().Set("start", 0.0).Set("step", 1.0).Set("size", size).Set("dtype", dtype),
      site.location);
  ThrowIfError(node.status());
  return MakePendingTensor(Value{*std::move(node), 0}, like.impl()->backend());
}

Tensor RandUniformTensor(std::vector<int64_t> sizes, DType dtype, Generator& gen,
                         const Tensor& like, const CallSite& site) {
  internal::KeepGeneratorWhilePrecompiling keep(gen);
  // 53 bits: a runtime scalar travels as an f64, which holds them exactly.
  const double key = static_cast<double>(gen.NextU64() >> 11);
  return RecordOp(OpKind::kRandUniform, {ScalarTensor(key, DType::kI64, like, site)},
                  Attributes().Set("sizes", std::move(sizes)).Set("dtype", dtype), site);
}

}  // namespace kiln::internal
