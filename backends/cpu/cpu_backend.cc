#include "backends/cpu/cpu_backend.h"

#include <atomic>
#include <cstring>
#include <thread>

#include "absl/strings/str_cat.h"
#include "backends/cpu/cpu_executable.h"
#include "backends/cpu/host_allocator.h"
#include "backends/host_copy.h"
#include "util/check.h"
#include "util/config.h"
#include "util/status_macros.h"

namespace kiln::cpu {
namespace {

std::atomic<bool> poison_allocations{false};

absl::Status CheckDType(const char* what, const Shape& shape) {
  if (!IsReserved(shape.dtype())) return absl::OkStatus();
  return absl::UnimplementedError(absl::StrCat("cpu: ", what, " ", shape.ToString(), ": dtype ",
                                               DTypeName(shape.dtype()),
                                               " is reserved and not supported yet"));
}

}  // namespace

absl::StatusOr<std::shared_ptr<CpuBuffer>> CpuBuffer::Create(Shape shape) {
  const auto bytes = static_cast<size_t>(shape.byte_size());
  void* data = HostAllocator::Global().Allocate(bytes);
  if (data == nullptr) return OutOfMemory("cpu", shape);
  // The whole block, so a reused block never shows a previous buffer's values either.
  if (poison_allocations.load(std::memory_order_relaxed)) {
    std::memset(data, 0xFF, HostAllocator::ClassSize(bytes));
  }
  return std::make_shared<CpuBuffer>(std::move(shape), data);
}

CpuBuffer::CpuBuffer(Shape shape, void* data)
    : Buffer(std::move(shape)), data_(data), bytes_(this->shape().byte_size()) {}

CpuBuffer::~CpuBuffer() { HostAllocator::Global().Free(data_, bytes_); }

void SetPoisonAllocationsForTesting(bool poison) { poison_allocations = poison; }

bool PoisonAllocationsForTesting() { return poison_allocations.load(std::memory_order_relaxed); }

int NumThreads() {
  if (config().num_threads > 0) return config().num_threads;
  const unsigned cores = std::thread::hardware_concurrency();
  return cores == 0 ? 1 : static_cast<int>(cores);
}

absl::StatusOr<BufferPtr> CpuBackend::Allocate(const Shape& shape) {
  RETURN_IF_ERROR(CheckDType("Allocate", shape));
  return CpuBuffer::Create(shape);
}

absl::StatusOr<BufferPtr> CpuBackend::CopyIn(const Shape& shape, const void* host) {
  RETURN_IF_ERROR(CheckDType("CopyIn", shape));
  ASSIGN_OR_RETURN(std::shared_ptr<CpuBuffer> buffer, CpuBuffer::Create(shape));
  CopyHostElements(shape, host, buffer->data());
  return buffer;
}

absl::Status CpuBackend::CopyOut(const Buffer& buffer, void* host) {
  const auto* cpu = dynamic_cast<const CpuBuffer*>(&buffer);
  if (cpu == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("cpu: CopyOut of a ", buffer.shape().ToString(),
                                                   " buffer that another backend made"));
  }
  const int64_t bytes = buffer.shape().byte_size();
  if (bytes > 0) std::memcpy(host, cpu->data(), bytes);
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<Executable>> CpuBackend::Compile(const Graph& graph) {
  ASSIGN_OR_RETURN(std::unique_ptr<CpuExecutable> exe, CpuExecutable::Create(graph));
  return std::unique_ptr<Executable>(std::move(exe));
}

Hash128 CpuBackend::CodeKey() const {
  return HashString(absl::StrCat("cpu|", config().cxx, "|", config().cxxflags));
}

}  // namespace kiln::cpu
