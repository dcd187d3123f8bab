#include "backends/interp/interp_backend.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "backends/host_copy.h"
#include "backends/interp/interp_executable.h"
#include "util/metrics.h"
#include "util/status_macros.h"

namespace kiln {
namespace {

absl::Status CheckDType(const char* what, const Shape& shape) {
  if (!IsReserved(shape.dtype())) return absl::OkStatus();
  return absl::UnimplementedError(absl::StrCat("interp: ", what, " ", shape.ToString(), ": dtype ",
                                               std::string(DTypeName(shape.dtype())),
                                               " is reserved and not supported yet"));
}

metrics::Gauge* InUseGauge() {
  static metrics::Gauge* g = metrics::GetGauge("InterpBytesInUse");
  return g;
}

}  // namespace

absl::StatusOr<std::shared_ptr<InterpBuffer>> InterpBuffer::Create(Shape shape) {
  // calloc rather than new: a failed allocation is a status, never an exception or abort.
  void* data = std::calloc(std::max<size_t>(static_cast<size_t>(shape.byte_size()), 1), 1);
  if (data == nullptr) return OutOfMemory("interp", shape);
  return std::make_shared<InterpBuffer>(std::move(shape), data);
}

InterpBuffer::InterpBuffer(Shape shape, void* data) : Buffer(std::move(shape)), data_(data) {
  InUseGauge()->Add(this->shape().byte_size());
}

InterpBuffer::~InterpBuffer() {
  std::free(data_);
  InUseGauge()->Add(-shape().byte_size());
}

absl::StatusOr<BufferPtr> InterpBackend::Allocate(const Shape& shape) {
  RETURN_IF_ERROR(CheckDType("Allocate", shape));
  return InterpBuffer::Create(shape);
}

absl::StatusOr<BufferPtr> InterpBackend::CopyIn(const Shape& shape, const void* host) {
  RETURN_IF_ERROR(CheckDType("CopyIn", shape));
  ASSIGN_OR_RETURN(std::shared_ptr<InterpBuffer> buffer, InterpBuffer::Create(shape));
  CopyHostElements(shape, host, buffer->data());
  return buffer;
}

absl::Status InterpBackend::CopyOut(const Buffer& buffer, void* host) {
  const auto* interp = dynamic_cast<const InterpBuffer*>(&buffer);
  if (interp == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(
        "interp: CopyOut of a ", buffer.shape().ToString(), " buffer that another backend made"));
  }
  const int64_t bytes = buffer.shape().byte_size();
  if (bytes > 0) std::memcpy(host, interp->data(), bytes);
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<Executable>> InterpBackend::Compile(const Graph& graph) {
  ASSIGN_OR_RETURN(std::unique_ptr<InterpExecutable> exe, InterpExecutable::Create(graph));
  return std::unique_ptr<Executable>(std::move(exe));
}

}  // namespace kiln
