#pragma once
// Shared by the lazy op tests: catching kiln::Error text and comparing float vectors.
#include <gmock/gmock.h>

#include <string>
#include <vector>

#include "lazy/tensor.h"
#include "util/error.h"

namespace kiln::testing {

// The message of the kiln::Error that `fn` throws, or "no error".
template <typename Fn>
std::string ErrorOf(Fn fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.what();
  }
  return "no error";
}

// [[1, 2, 3], [4, 5, 6]] as f32[2,3]: the matrix most op tests start from.
inline Tensor Matrix() { return Tensor::from_vector<float>({1, 2, 3, 4, 5, 6}, {2, 3}); }

// Element-wise float comparison with an absolute tolerance.
inline ::testing::Matcher<std::vector<float>> Near(std::vector<float> expected,
                                                   float tolerance = 1e-5f) {
  std::vector<::testing::Matcher<float>> each;
  for (float e : expected) each.push_back(::testing::FloatNear(e, tolerance));
  return ::testing::ElementsAreArray(each);
}

}  // namespace kiln::testing
