// The autograd methods of kiln::Tensor.
#include "absl/strings/str_cat.h"
#include "lazy/autograd.h"
#include "lazy/tensor.h"
#include "lazy/tensor_impl.h"
#include "util/error.h"

namespace kiln {
namespace {

TensorImpl& CheckedImpl(const Tensor& t, const char* what) {
  if (!t.defined()) throw Error(absl::StrCat(what, ": the tensor is undefined"));
  return *t.impl();
}

// The accumulator of a leaf that requires grad; throws for any other tensor.
autograd::AutogradMeta& LeafMeta(const Tensor& t, const char* what) {
  const std::shared_ptr<autograd::AutogradMeta>& meta = CheckedImpl(t, what).autograd();
  if (meta == nullptr) {
    throw Error(absl::StrCat(what, ": the tensor ", t.shape().ToString(),
                             " does not require grad; call requires_grad_() on it before "
                             "the ops whose gradient you need"));
  }
  if (meta->grad_fn != nullptr) {
    throw Error(absl::StrCat(what, ": the tensor ", t.shape().ToString(), " is the result of ",
                             OpName(meta->grad_fn->op),
                             ", not a leaf; only leaves accumulate gradients"));
  }
  return *meta;
}

}  // namespace

bool Tensor::requires_grad() const { return defined() && impl_->autograd() != nullptr; }

Tensor& Tensor::requires_grad_(bool requires_grad) {
  TensorImpl& impl = CheckedImpl(*this, "requires_grad_");
  const std::shared_ptr<autograd::AutogradMeta>& meta = impl.autograd();
  if (meta != nullptr && meta->grad_fn != nullptr) {
    throw Error(absl::StrCat("requires_grad_: the tensor ", shape().ToString(),
                             " is the result of ", OpName(meta->grad_fn->op),
                             "; only leaves can change requires_grad (use detach() first)"));
  }
  if (!requires_grad) {
    impl.set_autograd(nullptr);
  } else if (meta == nullptr) {
    if (!IsFloating(dtype())) {
      throw Error(absl::StrCat("requires_grad_: only floating tensors can require grad, got ",
                               shape().ToString()));
    }
    impl.set_autograd(std::make_shared<autograd::AutogradMeta>());
  }
  return *this;
}

bool Tensor::is_leaf() const {
  const TensorImpl& impl = CheckedImpl(*this, "is_leaf");
  return impl.autograd() == nullptr || impl.autograd()->grad_fn == nullptr;
}

Tensor Tensor::grad() const { return LeafMeta(*this, "grad").grad; }

void Tensor::set_grad(const Tensor& grad) const {
  autograd::AutogradMeta& meta = LeafMeta(*this, "set_grad");
  if (grad.defined() && !(grad.shape() == shape())) {
    throw Error(absl::StrCat("set_grad: the gradient ", grad.shape().ToString(),
                             " does not match the tensor ", shape().ToString()));
  }
  if (grad.defined() && grad.impl()->backend() != impl_->backend()) {
    throw Error(absl::StrCat("set_grad: the gradient ", grad.shape().ToString(), " is on ",
                             grad.impl()->backend()->name(), " but the tensor is on ",
                             impl_->backend()->name()));
  }
  meta.grad = grad;
}

void Tensor::zero_grad() const { LeafMeta(*this, "zero_grad").grad = Tensor(); }

void Tensor::backward(const Tensor& gradient, std::optional<bool> retain_graph,
                      CallSite site) const {
  autograd::RunBackward(*this, gradient, retain_graph.value_or(false), site);
}

Tensor Tensor::detach() const {
  const TensorImpl& impl = CheckedImpl(*this, "detach");
  impl_->Own();
  if (impl.is_pending()) return MakePendingTensor(impl.pending(), impl.backend());
  return Tensor(TensorImpl::Create(impl.buffer(), impl.backend()));
}

}  // namespace kiln
