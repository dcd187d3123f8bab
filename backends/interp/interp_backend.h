#pragma once
// The reference backend: executes a graph node by node with plain loops. It is the
// oracle every other backend is tested against, so it favours obvious correctness over
// speed: f32 sums and matmuls accumulate in f64, indices are range-checked.
// "Compiling" builds an execution plan (a copy of the graph's ops without any data), so
// it goes through the same compile cache as the real backends.
#include <vector>

#include "backends/backend.h"

namespace kiln {

// Host memory. Live buffers' bytes are the gauge "InterpBytesInUse" (with its peak).
// Argument::donated is ignored: the reference keeps every input intact.
class InterpBuffer : public Buffer {
 public:
  // A zero-filled buffer, or OutOfMemory (backends/backend.h).
  static absl::StatusOr<std::shared_ptr<InterpBuffer>> Create(Shape shape);
  // Takes `data`, from calloc, of shape.byte_size() bytes; use Create.
  InterpBuffer(Shape shape, void* data);
  ~InterpBuffer() override;
  void* data() { return data_; }
  const void* data() const { return data_; }

 private:
  void* data_;
};

class InterpBackend : public Backend {
 public:
  const char* name() const override { return "interp"; }
  absl::StatusOr<BufferPtr> Allocate(const Shape& shape) override;
  absl::StatusOr<BufferPtr> CopyIn(const Shape& shape, const void* host) override;
  absl::Status CopyOut(const Buffer& buffer, void* host) override;
  absl::StatusOr<std::unique_ptr<Executable>> Compile(const Graph& graph) override;
};

}  // namespace kiln
