#pragma once
// kiln::Tensor: a cheap, shared handle to a lazy tensor. Ops on tensors record IR and
// return immediately; values are computed at a barrier: kiln::mark_step(), or a read
// (item(), to_vector()) which executes just what that tensor depends on.
//
//   auto x = kiln::Tensor::from_vector<float>({1, 2, 3, 4}, {2, 2});
//   auto y = (x * 0.5 + 1).sum({1});   // nothing has run yet
//   std::vector<float> v = y.to_vector<float>();
//
// Copies of a Tensor share state (like torch::Tensor). A Tensor holds either a backend
// buffer or a pending IR value. Every API call captures its call site (CallSite) so
// recompile explanations can say where an op was traced.
#include <cstdint>
#include <memory>
#include <optional>
#include <source_location>
#include <string>
#include <vector>

#include "ir/dtype.h"
#include "ir/node.h"
#include "ir/shape.h"
#include "lazy/scalar.h"

namespace kiln {

class TensorImpl;  // lazy/tensor_impl.h

// The caller's source location, captured by a defaulted parameter.
struct CallSite {
  CallSite(std::source_location location = std::source_location::current()) : location(location) {}
  std::source_location location;
};

class Tensor {
 public:
  // An undefined tensor (defined() == false), e.g. an absent layer_norm weight.
  Tensor() = default;
  explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}

  // Copies `data` (row-major, size = product of `shape`) into a new tensor on the
  // current device. T is float, double, int32_t, int64_t or bool.
  template <typename T>
  static Tensor from_vector(const std::vector<T>& data, std::vector<int64_t> shape,
                            CallSite site = {});
  // Barrier: executes what this tensor depends on and copies its elements out, row-major.
  // T must match dtype() exactly.
  template <typename T>
  std::vector<T> to_vector(CallSite site = {}) const;
  // Barrier: the value of a one-element tensor, converted to double.
  double item(CallSite site = {}) const;

  bool defined() const { return impl_ != nullptr; }
  const Shape& shape() const;
  DType dtype() const { return shape().dtype(); }
  const Sizes& sizes() const { return shape().sizes(); }
  int64_t dim() const { return shape().rank(); }
  // Size of dimension `d`; negative d counts from the end.
  int64_t size(int64_t d) const;
  int64_t numel() const { return shape().numel(); }
  // "f32[2,3]" plus "(pending)" or "(materialized)"; never a barrier.
  std::string ToString() const;

  // True when the tensor has IR that has not run yet.
  bool is_pending() const;
  // Makes this tensor hold `other`'s value (buffer or pending IR) while keeping its
  // identity: the way optimizers update parameters and state in place. Shapes and
  // dtypes must match. A leaf that requires grad can be assigned a value that requires
  // grad only under NoGradGuard, so an update is never differentiated by accident.
  Tensor& assign_(const Tensor& other, CallSite site = {});

  // Autograd (lazy/autograd.h). Only floating tensors can require grad; results of ops
  // on tensors that require grad do too, unless recorded under NoGradGuard.
  bool requires_grad() const;
  // Marks a leaf as requiring grad or not (libtorch's requires_grad_).
  Tensor& requires_grad_(bool requires_grad = true);
  // True for tensors not produced by a differentiable op: only leaves accumulate .grad().
  bool is_leaf() const;
  // The gradient accumulated by backward(); undefined until the first backward reaches
  // this leaf. Throws for a tensor that does not require grad, or a non-leaf.
  Tensor grad() const;
  // Replaces the accumulated gradient (e.g. after clipping); `grad` must match the shape
  // and the device.
  void set_grad(const Tensor& grad) const;
  // Drops the accumulated gradient, so the next backward starts from none (PyTorch's
  // set_to_none): the traced step stays the same graph whatever the step number.
  void zero_grad() const;
  // Records the gradients of this tensor with respect to every leaf that requires grad,
  // as lazy ops, and accumulates them into the leaves' grad(). `gradient` may be omitted
  // for a one-element tensor (it is then 1). As in libtorch, the gradient graph is freed
  // afterwards unless `retain_graph` is true, and a second backward() through it throws;
  // freeing it lets the next barrier update parameters in place (lazy/autograd.h).
  // Gradients of gradients (libtorch's create_graph) are not recorded.
  void backward(const Tensor& gradient = Tensor(), std::optional<bool> retain_graph = std::nullopt,
                CallSite site = {}) const;
  // The same value, cut off from the gradient graph.
  Tensor detach() const;

  // Method forms of the ops in lazy/ops.h.
  Tensor sum(std::vector<int64_t> dims = {}, bool keepdim = false, CallSite site = {}) const;
  Tensor mean(std::vector<int64_t> dims = {}, bool keepdim = false, CallSite site = {}) const;
  Tensor prod(std::vector<int64_t> dims = {}, bool keepdim = false, CallSite site = {}) const;
  Tensor max(std::vector<int64_t> dims = {}, bool keepdim = false, CallSite site = {}) const;
  Tensor min(std::vector<int64_t> dims = {}, bool keepdim = false, CallSite site = {}) const;
  Tensor argmax(std::optional<int64_t> dim = std::nullopt, bool keepdim = false,
                CallSite site = {}) const;
  Tensor reshape(std::vector<int64_t> sizes, CallSite site = {}) const;
  Tensor view(std::vector<int64_t> sizes, CallSite site = {}) const;
  Tensor permute(std::vector<int64_t> dims, CallSite site = {}) const;
  Tensor transpose(int64_t dim0, int64_t dim1, CallSite site = {}) const;
  Tensor expand(std::vector<int64_t> sizes, CallSite site = {}) const;
  Tensor unsqueeze(int64_t dim, CallSite site = {}) const;
  Tensor squeeze(int64_t dim, CallSite site = {}) const;
  Tensor flatten(int64_t start_dim = 0, int64_t end_dim = -1, CallSite site = {}) const;
  Tensor slice(int64_t dim, int64_t start, int64_t end, int64_t step = 1, CallSite site = {}) const;
  Tensor to(DType dtype, CallSite site = {}) const;
  Tensor matmul(const Tensor& other, CallSite site = {}) const;
  Tensor gather(int64_t dim, const Tensor& index, CallSite site = {}) const;
  Tensor index_select(int64_t dim, const Tensor& index, CallSite site = {}) const;
  Tensor scatter_add(int64_t dim, const Tensor& index, const Tensor& src, CallSite site = {}) const;
  Tensor neg(CallSite site = {}) const;
  Tensor abs(CallSite site = {}) const;
  Tensor exp(CallSite site = {}) const;
  Tensor log(CallSite site = {}) const;
  Tensor sqrt(CallSite site = {}) const;
  Tensor rsqrt(CallSite site = {}) const;
  Tensor tanh(CallSite site = {}) const;
  Tensor sigmoid(CallSite site = {}) const;
  Tensor relu(CallSite site = {}) const;
  Tensor pow(const Tensor& exponent, CallSite site = {}) const;
  Tensor pow(Scalar exponent, CallSite site = {}) const;

  // Internals for the lazy layer and the executor (lazy/tensor_impl.h).
  const std::shared_ptr<TensorImpl>& impl() const { return impl_; }
  // The IR value of this tensor: its pending value, or a DeviceData leaf for its buffer
  // (one leaf per buffer, reused while tracing). Throws on an undefined tensor.
  Value value() const;

 private:
  std::shared_ptr<TensorImpl> impl_;
};

// Binds a Tensor operand of an operator to the operator's call site: operators cannot
// take a defaulted CallSite, so their first operand converts through this instead.
struct TracedTensor {
  TracedTensor(const Tensor& tensor,
               std::source_location location = std::source_location::current())
      : tensor(tensor), site(location) {}
  const Tensor& tensor;
  CallSite site;
};

// Elementwise operators with NumPy broadcasting and PyTorch promotion. Like libtorch,
// comparisons return bool tensors.
Tensor operator+(const TracedTensor& a, const Tensor& b);
Tensor operator-(const TracedTensor& a, const Tensor& b);
Tensor operator*(const TracedTensor& a, const Tensor& b);
Tensor operator/(const TracedTensor& a, const Tensor& b);
Tensor operator+(const TracedTensor& a, Scalar b);
Tensor operator-(const TracedTensor& a, Scalar b);
Tensor operator*(const TracedTensor& a, Scalar b);
Tensor operator/(const TracedTensor& a, Scalar b);
Tensor operator+(Scalar a, const TracedTensor& b);
Tensor operator-(Scalar a, const TracedTensor& b);
Tensor operator*(Scalar a, const TracedTensor& b);
Tensor operator/(Scalar a, const TracedTensor& b);
Tensor operator-(const TracedTensor& a);
Tensor operator==(const TracedTensor& a, const Tensor& b);
Tensor operator!=(const TracedTensor& a, const Tensor& b);
Tensor operator<(const TracedTensor& a, const Tensor& b);
Tensor operator<=(const TracedTensor& a, const Tensor& b);
Tensor operator>(const TracedTensor& a, const Tensor& b);
Tensor operator>=(const TracedTensor& a, const Tensor& b);
Tensor operator==(const TracedTensor& a, Scalar b);
Tensor operator!=(const TracedTensor& a, Scalar b);
Tensor operator<(const TracedTensor& a, Scalar b);
Tensor operator<=(const TracedTensor& a, Scalar b);
Tensor operator>(const TracedTensor& a, Scalar b);
Tensor operator>=(const TracedTensor& a, Scalar b);
Tensor operator!(const TracedTensor& a);  // logical_not

}  // namespace kiln
