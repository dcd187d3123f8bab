#include "lazy/tensor_impl.h"

#include "absl/strings/str_cat.h"
#include "lazy/autograd.h"
#include "lazy/device.h"
#include "lazy/live_tensors.h"
#include "util/check.h"
#include "util/error.h"

namespace kiln {

TensorImpl::TensorImpl(Key, Value value, Backend* backend)
    : pending_(std::move(value)), backend_(backend) {
  KILN_CHECK(pending_) << "a pending tensor needs a value";
}

TensorImpl::TensorImpl(Key, BufferPtr buffer, Backend* backend)
    : buffer_(std::move(buffer)), backend_(backend) {
  KILN_CHECK(buffer_ != nullptr) << "a materialised tensor needs a buffer";
}

std::shared_ptr<TensorImpl> TensorImpl::Create(Value value, Backend* backend) {
  auto impl = std::make_shared<TensorImpl>(Key(), std::move(value), backend);
  live_tensors::Add(impl.get());
  return impl;
}

std::shared_ptr<TensorImpl> TensorImpl::Create(BufferPtr buffer, Backend* backend) {
  auto impl = std::make_shared<TensorImpl>(Key(), std::move(buffer), backend);
  live_tensors::Add(impl.get());
  return impl;
}

TensorImpl::~TensorImpl() {
  if (registry_ != nullptr) live_tensors::Remove(this);  // null if Add threw
}

const Value& TensorImpl::DataLeaf(const CallSite& site) {
  if (!data_leaf_) {
    data_leaf_ = Value{Node::CreateDeviceData(buffer_->shape(), buffer_, site.location), 0};
  }
  return data_leaf_;
}

void TensorImpl::SetPending(Value value) {
  KILN_CHECK(value) << "SetPending needs a value";
  pending_ = std::move(value);
  buffer_.reset();
  data_leaf_ = Value{};
}

void TensorImpl::SetBuffer(BufferPtr buffer) {
  KILN_CHECK(buffer != nullptr) << "SetBuffer needs a buffer";
  buffer_ = std::move(buffer);
  pending_ = Value{};
  data_leaf_ = Value{};
}

Tensor MakePendingTensor(Value value, Backend* backend) {
  return Tensor(TensorImpl::Create(std::move(value), backend));
}

Tensor RecordNode(OpKind op, absl::Span<const Value* const> values,
                  absl::Span<const Tensor* const> tensors, Attributes attrs, Backend* backend,
                  const CallSite& site) {
  absl::StatusOr<NodePtr> node = Node::CreateByPtr(op, values, std::move(attrs), site.location);
  ThrowIfError(node.status());
  Tensor result = MakePendingTensor(Value{*std::move(node), 0}, backend);
  for (const Tensor* t : tensors) {
    if (t != nullptr && t->impl()->autograd() != nullptr) {
      autograd::RecordGradient(tensors, result);
      break;
    }
  }
  return result;
}

Tensor RecordOp(OpKind op, absl::Span<const Tensor> operands, Attributes attrs,
                const CallSite& site) {
  absl::InlinedVector<const Tensor*, 4> pointers;
  for (const Tensor& t : operands) pointers.push_back(&t);
  return RecordOpByPtr(op, pointers, std::move(attrs), site);
}

Tensor RecordOpByPtr(OpKind op, absl::Span<const Tensor* const> operands, Attributes attrs,
                     const CallSite& site) {
  Backend* backend = nullptr;
  absl::InlinedVector<const Value*, 3> values;
  for (size_t i = 0; i < operands.size(); ++i) {
    const Tensor& t = *operands[i];
    if (!t.defined()) {
      throw Error(absl::StrCat(OpName(op), ": operand ", i, " is an undefined tensor"));
    }
    Backend* b = t.impl()->backend();
    if (backend != nullptr && b != backend) {
      throw Error(absl::StrCat(OpName(op), ": operands are on different devices (", backend->name(),
                               " and ", b->name(), ")"));
    }
    backend = b;
  }
  // Leaves (constant, arange) live on the current device.
  if (backend == nullptr) backend = &current_backend();
  for (const Tensor* t : operands) values.push_back(&t->impl()->value(site));
  return RecordNode(op, values, operands, std::move(attrs), backend, site);
}

}  // namespace kiln
