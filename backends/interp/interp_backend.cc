#include "backends/interp/interp_backend.h"

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

InterpBuffer::InterpBuffer(Shape shape)
    : Buffer(std::move(shape)), bytes_(static_cast<size_t>(this->shape().byte_size())) {
  InUseGauge()->Add(static_cast<int64_t>(bytes_.size()));
}

InterpBuffer::~InterpBuffer() { InUseGauge()->Add(-static_cast<int64_t>(bytes_.size())); }

absl::StatusOr<BufferPtr> InterpBackend::Allocate(const Shape& shape) {
  RETURN_IF_ERROR(CheckDType("Allocate", shape));
  return std::make_shared<InterpBuffer>(shape);
}

absl::StatusOr<BufferPtr> InterpBackend::CopyIn(const Shape& shape, const void* host) {
  RETURN_IF_ERROR(CheckDType("CopyIn", shape));
  auto buffer = std::make_shared<InterpBuffer>(shape);
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
