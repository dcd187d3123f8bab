#include "lazy/materialized_tensor.h"

#include <utility>
#include <vector>

#include "lazy/graph_executor.h"
#include "lazy/tensor_impl.h"
#include "util/error.h"
#include "util/metrics.h"

namespace kiln::internal {
namespace {

// A tensor holding `bytes` (shape's byte size) on `backend`.
Tensor Upload(const Shape& shape, const std::vector<char>& bytes, Backend* backend) {
  absl::StatusOr<BufferPtr> buffer = backend->CopyIn(shape, bytes.data());
  ThrowIfError(buffer.status());
  static metrics::Counter* transfers = metrics::GetCounter("TransferToDevice");
  transfers->Add();
  return Tensor(TensorImpl::Create(*std::move(buffer), backend));
}

}  // namespace

Tensor MaterializedZeros(const Tensor& like) {
  const Shape& shape = like.shape();
  return Upload(shape, std::vector<char>(shape.byte_size(), 0), like.impl()->backend());
}

Tensor MaterializedCopy(const Tensor& value) {
  if (value.is_pending()) SyncTensors({value}, /*implicit=*/true, {});
  const TensorImpl& impl = *value.impl();
  std::vector<char> bytes(impl.shape().byte_size());
  ThrowIfError(impl.backend()->CopyOut(*impl.buffer(), bytes.data()));
  static metrics::Counter* transfers = metrics::GetCounter("TransferFromDevice");
  transfers->Add();
  return Upload(impl.shape(), bytes, impl.backend());
}

}  // namespace kiln::internal
