#include "lazy/tensor.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "lazy/autograd.h"
#include "lazy/device.h"
#include "lazy/grad_mode.h"
#include "lazy/graph_executor.h"
#include "lazy/tensor_impl.h"
#include "util/error.h"
#include "util/metrics.h"

namespace kiln {
namespace {

const TensorImpl& CheckedImpl(const Tensor& t, const char* what) {
  if (!t.defined()) throw Error(absl::StrCat(what, ": the tensor is undefined"));
  return *t.impl();
}

}  // namespace

template <typename T>
Tensor Tensor::from_vector(const std::vector<T>& data, std::vector<int64_t> shape, CallSite site) {
  for (int64_t s : shape) {
    if (s < 0) {
      throw Error(
          absl::StrCat("from_vector: negative size in shape [", absl::StrJoin(shape, ","), "]"));
    }
  }
  const std::optional<int64_t> numel = CheckedProduct(shape);
  if (!numel) {
    throw Error(absl::StrCat("from_vector: shape [", absl::StrJoin(shape, ","),
                             "] has more elements than an int64 can count"));
  }
  if (*numel != static_cast<int64_t>(data.size())) {
    throw Error(absl::StrCat("from_vector: ", data.size(), " values do not fill shape [",
                             absl::StrJoin(shape, ","), "] (", *numel, " elements)"));
  }
  const Shape full_shape(DTypeOf<T>, shape);
  Backend& backend = current_backend();
  absl::StatusOr<BufferPtr> buffer;
  if constexpr (std::is_same_v<T, bool>) {
    std::vector<uint8_t> bytes(data.begin(), data.end());
    buffer = backend.CopyIn(full_shape, bytes.data());
  } else {
    buffer = backend.CopyIn(full_shape, data.data());
  }
  ThrowIfError(buffer.status());
  static metrics::Counter* transfers = metrics::GetCounter("TransferToDevice");
  transfers->Add();
  return Tensor(TensorImpl::Create(*std::move(buffer), &backend));
}

template <typename T>
std::vector<T> Tensor::to_vector(CallSite site) const {
  const TensorImpl& impl = CheckedImpl(*this, "to_vector");
  impl_->Own();
  if (impl.shape().dtype() != DTypeOf<T>) {
    throw Error(absl::StrCat("to_vector: the tensor is ", impl.shape().ToString(),
                             " but was read as ", DTypeName(DTypeOf<T>)));
  }
  if (impl.is_pending()) SyncTensors({*this}, /*implicit=*/true, site);
  const Buffer& buffer = *impl.buffer();
  static metrics::Counter* transfers = metrics::GetCounter("TransferFromDevice");
  const size_t n = static_cast<size_t>(buffer.shape().numel());
  if constexpr (std::is_same_v<T, bool>) {
    // std::vector<bool> has no data(): bools arrive a byte each.
    std::vector<uint8_t> bytes(n);
    ThrowIfError(impl.backend()->CopyOut(buffer, bytes.data()));
    transfers->Add();
    return std::vector<bool>(bytes.begin(), bytes.end());
  } else {
    std::vector<T> out(n);
    ThrowIfError(impl.backend()->CopyOut(buffer, out.data()));
    transfers->Add();
    return out;
  }
}

double Tensor::item(CallSite site) const {
  const TensorImpl& impl = CheckedImpl(*this, "item");
  impl_->Own();
  if (impl.shape().numel() != 1) {
    throw Error(
        absl::StrCat("item: expected a tensor with one element, got ", impl.shape().ToString()));
  }
  switch (dtype()) {
    case DType::kF32:
      return to_vector<float>(site)[0];
    case DType::kF64:
      return to_vector<double>(site)[0];
    case DType::kI32:
      return to_vector<int32_t>(site)[0];
    case DType::kI64:
      return static_cast<double>(to_vector<int64_t>(site)[0]);
    case DType::kBool:
      return to_vector<bool>(site)[0] ? 1.0 : 0.0;
    default:
      throw Error(absl::StrCat("item: dtype ", DTypeName(dtype()), " is not supported"));
  }
}

const Shape& Tensor::shape() const {
  CheckedImpl(*this, "shape");
  impl_->Own();
  return impl_->shape();
}

int64_t Tensor::size(int64_t d) const {
  const int64_t rank = dim();
  const int64_t wrapped = d < 0 ? d + rank : d;
  if (wrapped < 0 || wrapped >= rank) {
    throw Error(absl::StrCat("size: dimension ", d, " is out of range for ", shape().ToString(),
                             " (expected ", -rank, "..", rank - 1, ")"));
  }
  return shape().size(wrapped);
}

std::string Tensor::ToString() const {
  if (!defined()) return "undefined";
  return absl::StrCat(shape().ToString(), is_pending() ? " (pending)" : " (materialized)");
}

bool Tensor::is_pending() const {
  if (!defined()) return false;
  impl_->Own();
  return impl_->is_pending();
}

Tensor& Tensor::assign_(const Tensor& other, CallSite site) {
  TensorImpl& self = const_cast<TensorImpl&>(CheckedImpl(*this, "assign_"));
  const TensorImpl& src = CheckedImpl(other, "assign_");
  self.Own();
  other.impl()->Own();
  if (!(self.shape() == src.shape())) {
    throw Error(absl::StrCat("assign_: cannot assign ", src.shape().ToString(), " to ",
                             self.shape().ToString(), " (shapes and dtypes must match)"));
  }
  if (self.backend() != src.backend()) {
    throw Error(absl::StrCat("assign_: tensors are on different devices (", self.backend()->name(),
                             " and ", src.backend()->name(), ")"));
  }
  if (&self == &src) return *this;
  const std::shared_ptr<autograd::AutogradMeta>& self_grad = self.autograd();
  const bool is_grad_leaf = self_grad != nullptr && self_grad->grad_fn == nullptr;
  if (GradMode::enabled() && src.autograd() != nullptr) {
    if (is_grad_leaf) {
      throw Error(absl::StrCat("assign_: ", self.shape().ToString(),
                               " is a leaf that requires grad and the new value requires grad; "
                               "update parameters under kiln::NoGradGuard"));
    }
    self.set_autograd(src.autograd());  // the gradient path comes along with the value
  } else if (!is_grad_leaf) {
    self.set_autograd(nullptr);  // the op that produced the old value no longer applies
  }
  if (src.is_pending()) {
    self.SetPending(src.pending());
  } else {
    self.SetBuffer(src.buffer());
  }
  return *this;
}

Value Tensor::value() const {
  CheckedImpl(*this, "value");
  return impl_->value(CallSite{});
}

#define KILN_INSTANTIATE_TENSOR_IO(T)                                                            \
  template Tensor Tensor::from_vector<T>(const std::vector<T>&, std::vector<int64_t>, CallSite); \
  template std::vector<T> Tensor::to_vector<T>(CallSite) const;
KILN_INSTANTIATE_TENSOR_IO(float)
KILN_INSTANTIATE_TENSOR_IO(double)
KILN_INSTANTIATE_TENSOR_IO(int32_t)
KILN_INSTANTIATE_TENSOR_IO(int64_t)
KILN_INSTANTIATE_TENSOR_IO(bool)
#undef KILN_INSTANTIATE_TENSOR_IO

}  // namespace kiln
