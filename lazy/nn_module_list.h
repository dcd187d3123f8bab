#pragma once
// nn::ModuleList: an indexable list of submodules named "0", "1", ... (torch.nn.ModuleList).
// It has no forward: the owner calls the elements itself, e.g. transformer blocks that
// also take a mask.
//
//   auto blocks = register_module("blocks", std::make_shared<nn::ModuleList>());
//   blocks->push_back(std::make_shared<nn::TransformerBlock>(...));   // "blocks.0...."
//   for (size_t i = 0; i < blocks->size(); ++i) {
//     x = blocks->at<nn::TransformerBlock>(i)->forward(x, mask);
//   }
#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "lazy/nn_module.h"
#include "util/error.h"

namespace kiln::nn {

class ModuleList : public Module {
 public:
  ModuleList() : Module("ModuleList") {}

  // Appends `module` under the name of its position and returns it.
  template <typename M>
  std::shared_ptr<M> push_back(std::shared_ptr<M> module) {
    register_module(std::to_string(modules_.size()), module);
    modules_.push_back(module);
    return module;
  }

  size_t size() const { return modules_.size(); }
  bool empty() const { return modules_.empty(); }
  // The i-th module; throws kiln::Error when i is out of range.
  const std::shared_ptr<Module>& operator[](size_t i) const;
  // The i-th module as an M; throws kiln::Error when i is out of range or it is no M.
  template <typename M>
  std::shared_ptr<M> at(size_t i) const {
    std::shared_ptr<M> typed = std::dynamic_pointer_cast<M>((*this)[i]);
    if (typed == nullptr) {
      throw Error(absl::StrCat("ModuleList: element ", i, " is a ", (*this)[i]->type_name(),
                               ", not the requested type"));
    }
    return typed;
  }

  // Iteration over the modules in order.
  std::vector<std::shared_ptr<Module>>::const_iterator begin() const { return modules_.begin(); }
  std::vector<std::shared_ptr<Module>>::const_iterator end() const { return modules_.end(); }

 private:
  std::vector<std::shared_ptr<Module>> modules_;
};

}  // namespace kiln::nn
