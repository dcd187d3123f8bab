#pragma once
// The shared state behind a kiln::Tensor, for the lazy layer and the executor only.
// Exactly one of `pending` (IR not yet run) and `buffer` (a materialised value) is set
// for a defined tensor. Every TensorImpl is in the live-tensor registry
// (lazy/live_tensors.h) while it exists, so mark_step can find pending work.
//
// Not synchronised: one tensor is used from one thread at a time. The thread using it
// owns it (Own); a barrier reads and updates only its own thread's tensors.
#include <memory>

#include "backends/backend.h"
#include "ir/node.h"
#include "lazy/live_tensors.h"
#include "lazy/tensor.h"

namespace kiln {

namespace autograd {
struct AutogradMeta;  // lazy/autograd.h
}  // namespace autograd

class TensorImpl : public std::enable_shared_from_this<TensorImpl> {
  struct Key {};  // for make_shared: only Create constructs

 public:
  // A pending tensor computing `value` on `backend`, linked into the calling thread's
  // registry once it is whole (a registry walk may take a handle to it at once).
  static std::shared_ptr<TensorImpl> Create(Value value, Backend* backend);
  // A materialised tensor.
  static std::shared_ptr<TensorImpl> Create(BufferPtr buffer, Backend* backend);
  TensorImpl(Key, Value value, Backend* backend);
  TensorImpl(Key, BufferPtr buffer, Backend* backend);
  ~TensorImpl();
  TensorImpl(const TensorImpl&) = delete;
  TensorImpl& operator=(const TensorImpl&) = delete;

  // Makes the calling thread the owner (lazy/live_tensors.h), waiting for a barrier of
  // the previous owner to finish. Called before reading or changing the tensor on behalf
  // of a user; the accessors below do not, for the executor reading its own tensors.
  void Own() {
    if (registry_ != live_tensors::current_registry) live_tensors::MoveToCurrentThread(this);
  }

  const Shape& shape() const { return pending_ ? pending_.shape() : buffer_->shape(); }
  Backend* backend() const { return backend_; }
  bool is_pending() const { return static_cast<bool>(pending_); }
  const Value& pending() const { return pending_; }
  const BufferPtr& buffer() const { return buffer_; }

  // The IR for this tensor, after Own(): the pending value, or a DeviceData leaf wrapping
  // the buffer (created once and reused until the value changes, so one buffer is one
  // parameter). The reference is valid until the value changes. Inline: tracing asks for
  // every operand's value.
  const Value& value(const CallSite& site) {
    Own();
    return pending_ ? pending_ : DataLeaf(site);
  }
  // Replaces the value with pending IR / a buffer (the leaf cache is dropped).
  void SetPending(Value value);
  void SetBuffer(BufferPtr buffer);

  // Autograd state: null unless the tensor requires grad.
  const std::shared_ptr<autograd::AutogradMeta>& autograd() const { return autograd_; }
  void set_autograd(std::shared_ptr<autograd::AutogradMeta> meta) { autograd_ = std::move(meta); }

  // Live-registry links (lazy/live_tensors.cc).
  live_tensors::Registry* registry_ = nullptr;
  TensorImpl* prev_live_ = nullptr;
  TensorImpl* next_live_ = nullptr;

 private:
  // value() of a materialised tensor.
  const Value& DataLeaf(const CallSite& site);

  Value pending_;
  BufferPtr buffer_;
  Value data_leaf_;  // the DeviceData leaf for buffer_, made on first use
  Backend* backend_;
  std::shared_ptr<autograd::AutogradMeta> autograd_;
};

// Wraps a new pending tensor on `backend`.
Tensor MakePendingTensor(Value value, Backend* backend);

// What every op recording ends in: creates the node from its operand values and its
// tensor on `backend`, and records its gradient when an operand requires grad.
// `tensors[i]` is operand i's tensor, or null for a leaf made without one.
Tensor RecordNode(OpKind op, absl::Span<const Value* const> values,
                  absl::Span<const Tensor* const> tensors, Attributes attrs, Backend* backend,
                  const CallSite& site);

// Records one IR node and returns its tensor. Shape-inference failures throw kiln::Error
// with the inference message (which names the op and the shapes); nothing is recorded.
// All operands must be on one backend.
Tensor RecordOp(OpKind op, absl::Span<const Tensor> operands, Attributes attrs,
                const CallSite& site);
// RecordOp taking the operands by pointer, for hot callers that already hold them:
// a Tensor copy costs an atomic reference-count increment and decrement.
//   RecordOpByPtr(OpKind::kAdd, {&a, &b}, {}, site);
Tensor RecordOpByPtr(OpKind op, absl::Span<const Tensor* const> operands, Attributes attrs,
                     const CallSite& site);

}  // namespace kiln
