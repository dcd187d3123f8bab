#pragma once
// The one interface every backend implements: buffers, host transfers, compiling a
// Graph into an Executable, and running it. A backend does its own planning inside
// Compile (interp: an op-by-op plan; cpu/cuda: the fusion planner and code generation),
// so the executor and the compile cache above never depend on how it compiles.
//
//   Backend* b = GetBackend("interp").value();
//   BufferPtr x = b->CopyIn(Shape(DType::kF32, {2, 3}), host).value();
//   std::unique_ptr<Executable> exe = b->Compile(graph).value();
//   std::vector<BufferPtr> out = exe->Run(args).value();
//   b->CopyOut(*out[0], host_out);
#include <memory>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "ir/graph.h"
#include "ir/shape.h"
#include "util/hash.h"

namespace kiln {

// Device memory holding one tensor's elements, densely in row-major order. Buffers are
// immutable once an executable has produced them, so tensors may share them freely.
class Buffer {
 public:
  explicit Buffer(Shape shape) : shape_(std::move(shape)) {}
  virtual ~Buffer() = default;
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;

  const Shape& shape() const { return shape_; }

 private:
  Shape shape_;
};

using BufferPtr = std::shared_ptr<Buffer>;

// ResourceExhausted: "<backend>: out of memory allocating <n> bytes for <shape>", what
// an allocation that fails returns (the run fails; nothing else changes).
absl::Status OutOfMemory(const char* backend, const Shape& shape);

// The run-time value of one graph parameter: a buffer for a DeviceData leaf, a number
// for a Scalar leaf (converted to the leaf's dtype by the executable).
//
// `donated`, when set, is `buffer` itself, given up by the caller: nothing reads it after
// this run, so the executable may overwrite it with an output of the same shape and
// return it as that output (input/output aliasing: a parameter update needs no second
// copy of the parameter). Decided per run by the caller (lazy/graph_executor.cc), so the
// compiled code never depends on it; shared ownership lets the executable return it. An
// executable may ignore it, and must leave the buffer unchanged when its run fails.
struct Argument {
  const Buffer* buffer = nullptr;
  double scalar = 0;
  BufferPtr donated;
};

// A compiled graph. Holds no reference to the Graph or its buffers, so caching it keeps
// no tensor data alive.
class Executable {
 public:
  virtual ~Executable() = default;
  // `args` has one entry per Graph::parameters(), in order; the result has one buffer per
  // Graph::outputs(). Data-dependent failures (an index out of range) return
  // InvalidArgument naming the op.
  virtual absl::StatusOr<std::vector<BufferPtr>> Run(absl::Span<const Argument> args) = 0;
};

class Backend {
 public:
  virtual ~Backend() = default;

  // "interp", "cpu", "cuda" (a C string: see DTypeName).
  virtual const char* name() const = 0;
  // An uninitialised buffer.
  virtual absl::StatusOr<BufferPtr> Allocate(const Shape& shape) = 0;
  // A buffer holding shape.byte_size() bytes copied from `host`.
  virtual absl::StatusOr<BufferPtr> CopyIn(const Shape& shape, const void* host) = 0;
  // Copies the buffer's shape().byte_size() bytes to `host`; waits for pending work.
  virtual absl::Status CopyOut(const Buffer& buffer, void* host) = 0;
  virtual absl::StatusOr<std::unique_ptr<Executable>> Compile(const Graph& graph) = 0;
  // Hash of every setting that changes what Compile produces (compiler flags, fast
  // math, ...); part of the compile-cache key.
  virtual Hash128 CodeKey() const { return HashString(name()); }
};

// The backend called `name`, created on first use and alive for the whole process.
// Unknown or unavailable backends give NotFound/Unavailable with the reason.
absl::StatusOr<Backend*> GetBackend(std::string_view name);

}  // namespace kiln
