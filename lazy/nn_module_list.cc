// nn::ModuleList: checked indexing.
#include "lazy/nn_module_list.h"

#include "absl/strings/str_cat.h"
#include "util/error.h"

namespace kiln::nn {

const std::shared_ptr<Module>& ModuleList::operator[](size_t i) const {
  if (i >= modules_.size()) {
    throw Error(absl::StrCat("ModuleList: index ", i, " is out of range for ", modules_.size(),
                             " modules"));
  }
  return modules_[i];
}

}  // namespace kiln::nn
