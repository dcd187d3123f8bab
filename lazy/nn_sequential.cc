// nn::Sequential: running and indexing its children.
#include "lazy/nn_sequential.h"

#include "absl/strings/str_cat.h"
#include "util/error.h"

namespace kiln::nn {

Tensor Sequential::forward(const Tensor& x) const {
  Tensor y = x;
  for (const auto& step : steps_) y = step(y);
  return y;
}

std::shared_ptr<Module> Sequential::operator[](size_t i) const {
  if (i >= steps_.size()) {
    throw Error(
        absl::StrCat("Sequential: index ", i, " is out of range for ", steps_.size(), " modules"));
  }
  return named_children()[i].second;
}

}  // namespace kiln::nn
