#pragma once
// kiln::Scalar: a C++ number used in a tensor op (`x * 0.5`, `x + 1`, `lr * g`). It
// remembers whether it was written as a floating, integer or bool literal, because
// PyTorch's promotion treats them differently: i32 tensor + 1 stays i32, i32 tensor +
// 0.5 becomes f32, f32 tensor + 2 stays f32 (a scalar never widens within a category).
//
// A Scalar becomes a runtime Scalar parameter in the IR: changing its value never
// recompiles. Use kiln::constant() to bake a value into the code instead.
#include <cstdint>
#include <type_traits>

#include "ir/dtype.h"

namespace kiln {

class Scalar {
 public:
  enum class Kind { kBool, kInt, kFloat };

  Scalar(bool v) : value_(v ? 1.0 : 0.0), kind_(Kind::kBool) {}
  template <typename T,
            std::enable_if_t<std::is_integral_v<T> && !std::is_same_v<T, bool>, int> = 0>
  Scalar(T v) : value_(static_cast<double>(v)), kind_(Kind::kInt) {}
  template <typename T, std::enable_if_t<std::is_floating_point_v<T>, int> = 0>
  Scalar(T v) : value_(static_cast<double>(v)), kind_(Kind::kFloat) {}

  // Integers beyond 2^53 lose precision: values travel as doubles.
  double to_double() const { return value_; }
  Kind kind() const { return kind_; }

  // The result dtype of a tensor of `tensor_dtype` combined with this scalar: a float
  // scalar makes bool/integer tensors f32; an int scalar makes bool tensors i64;
  // otherwise the tensor's dtype wins.
  DType PromoteWith(DType tensor_dtype) const;

 private:
  double value_;
  Kind kind_;
};

}  // namespace kiln
