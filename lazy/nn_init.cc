// nn::init: host-drawn random values and constants assigned into existing tensors.
#include "lazy/nn_init.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "lazy/creation.h"
#include "lazy/grad_mode.h"
#include "util/error.h"

namespace kiln::nn::init {
namespace {

void CheckFloating(const char* op, const Tensor& tensor) {
  if (!tensor.defined()) throw Error(absl::StrCat(op, ": the tensor is undefined"));
  if (!IsFloating(tensor.dtype())) {
    throw Error(absl::StrCat(op, ": expected a floating tensor, got ", tensor.shape().ToString()));
  }
}

std::vector<int64_t> SizesOf(const Tensor& tensor) {
  return std::vector<int64_t>(tensor.sizes().begin(), tensor.sizes().end());
}

Tensor AssignNoGrad(Tensor tensor, const Tensor& value) {
  NoGradGuard no_grad;
  tensor.assign_(value);
  return tensor;
}

}  // namespace

Tensor trunc_normal_(Tensor tensor, double std, Generator& gen, double mean) {
  CheckFloating("trunc_normal_", tensor);
  if (!(std > 0)) throw Error(absl::StrCat("trunc_normal_: std must be positive, got ", std));
  Tensor value =
      trunc_normal(SizesOf(tensor), gen, mean, std, mean - 2 * std, mean + 2 * std, tensor.dtype());
  return AssignNoGrad(tensor, value);
}

Tensor uniform_(Tensor tensor, double low, double high, Generator& gen) {
  CheckFloating("uniform_", tensor);
  return AssignNoGrad(tensor, uniform(SizesOf(tensor), gen, low, high, tensor.dtype()));
}

Tensor normal_(Tensor tensor, double mean, double std, Generator& gen) {
  CheckFloating("normal_", tensor);
  if (!(std >= 0)) throw Error(absl::StrCat("normal_: std must be non-negative, got ", std));
  return AssignNoGrad(tensor, normal(SizesOf(tensor), gen, mean, std, tensor.dtype()));
}

Tensor constant_(Tensor tensor, double value) {
  if (!tensor.defined()) throw Error("constant_: the tensor is undefined");
  return AssignNoGrad(tensor, full_data(SizesOf(tensor), value, tensor.dtype()));
}

Tensor zeros_(Tensor tensor) {
  if (!tensor.defined()) throw Error("zeros_: the tensor is undefined");
  return AssignNoGrad(tensor, full_data(SizesOf(tensor), 0.0, tensor.dtype()));
}

Tensor ones_(Tensor tensor) {
  if (!tensor.defined()) throw Error("ones_: the tensor is undefined");
  return AssignNoGrad(tensor, full_data(SizesOf(tensor), 1.0, tensor.dtype()));
}

}  // namespace kiln::nn::init
