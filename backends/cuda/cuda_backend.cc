#include "backends/cuda/cuda_backend.h"

#include <vector>

#include "absl/strings/str_cat.h"
#include "backends/cuda/cuda_executable.h"
#include "backends/host_copy.h"
#include "util/config.h"
#include "util/status_macros.h"

namespace kiln::cuda {
namespace {

absl::Status CheckDType(const char* backend, const char* what, const Shape& shape) {
  if (!IsReserved(shape.dtype())) return absl::OkStatus();
  return absl::UnimplementedError(absl::StrCat(backend, ": ", what, " ", shape.ToString(),
                                               ": dtype ", DTypeName(shape.dtype()),
                                               " is reserved and not supported yet"));
}

}  // namespace

absl::StatusOr<BufferPtr> CudaBackend::Allocate(const Shape& shape) {
  RETURN_IF_ERROR(CheckDType(name_, "Allocate", shape));
  return AllocateCudaBuffer(device_.get(), shape);
}

absl::StatusOr<BufferPtr> CudaBackend::CopyIn(const Shape& shape, const void* host) {
  RETURN_IF_ERROR(CheckDType(name_, "CopyIn", shape));
  ASSIGN_OR_RETURN(std::shared_ptr<CudaBuffer> buffer, AllocateCudaBuffer(device_.get(), shape));
  const size_t bytes = static_cast<size_t>(shape.byte_size());
  if (bytes == 0) return buffer;
  // bool elements are normalised to 0/1 on the way in, as the host backends do.
  std::vector<unsigned char> staged(bytes);
  CopyHostElements(shape, host, staged.data());
  RETURN_IF_ERROR(device_->CopyToDevice(buffer->data(), staged.data(), bytes));
  return buffer;
}

absl::Status CudaBackend::CopyOut(const Buffer& buffer, void* host) {
  const auto* cuda = dynamic_cast<const CudaBuffer*>(&buffer);
  if (cuda == nullptr || cuda->device() != device_.get()) {
    return absl::InvalidArgumentError(absl::StrCat(name_, ": CopyOut of a ",
                                                   buffer.shape().ToString(),
                                                   " buffer that another backend made"));
  }
  return device_->CopyToHost(host, cuda->data(), buffer.shape().byte_size());
}

absl::StatusOr<std::unique_ptr<Executable>> CudaBackend::Compile(const Graph& graph) {
  ASSIGN_OR_RETURN(std::unique_ptr<CudaExecutable> exe,
                   CudaExecutable::Create(graph, device_.get()));
  return std::unique_ptr<Executable>(std::move(exe));
}

Hash128 CudaBackend::CodeKey() const {
  return HashString(absl::StrCat(name_, "|", device_->CodeKey(), "|fast_math ",
                                 config().cuda_fast_math, "|tf32 ", config().allow_tf32));
}

}  // namespace kiln::cuda
