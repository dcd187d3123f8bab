#include "lazy/scalar.h"

namespace kiln {

DType Scalar::PromoteWith(DType tensor_dtype) const {
  switch (kind_) {
    case Kind::kFloat:
      return IsFloating(tensor_dtype) ? tensor_dtype : DType::kF32;
    case Kind::kInt:
      return tensor_dtype == DType::kBool ? DType::kI64 : tensor_dtype;
    case Kind::kBool:
      return tensor_dtype;
  }
  return tensor_dtype;
}

}  // namespace kiln
