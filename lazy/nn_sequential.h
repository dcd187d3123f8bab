#pragma once
// nn::Sequential: runs its children in order, each on the previous one's output
// (torch.nn.Sequential). Children are named "0", "1", ... unless given a name.
//
//   auto seq = std::make_shared<nn::Sequential>();
//   seq->push_back(std::make_shared<nn::Linear>(4, 8, gen));   // "0.weight", "0.bias"
//   seq->push_back(std::make_shared<nn::GELU>());
//   Tensor y = seq->forward(x);
#include <concepts>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "lazy/nn_module.h"

namespace kiln::nn {

// A module with a forward taking one tensor (further parameters defaulted).
template <typename M>
concept UnaryModule = std::derived_from<M, Module> && requires(M& m, const Tensor& x) {
  { m.forward(x) } -> std::convertible_to<Tensor>;
};

class Sequential : public Module {
 public:
  Sequential() : Module("Sequential") {}

  // Appends `module` under the name of its position and returns it.
  template <UnaryModule M>
  std::shared_ptr<M> push_back(std::shared_ptr<M> module) {
    return push_back(std::to_string(steps_.size()), std::move(module));
  }
  // Appends `module` under `name` and returns it.
  template <UnaryModule M>
  std::shared_ptr<M> push_back(const std::string& name, std::shared_ptr<M> module) {
    register_module(name, module);
    // The raw pointer stays valid: the registered child keeps the module alive.
    M* raw = module.get();
    steps_.push_back([raw](const Tensor& x) -> Tensor { return raw->forward(x); });
    return module;
  }

  // The children applied in order; with no children, x itself.
  Tensor forward(const Tensor& x) const;

  size_t size() const { return steps_.size(); }
  bool empty() const { return steps_.empty(); }
  // The i-th child; throws kiln::Error when i is out of range.
  std::shared_ptr<Module> operator[](size_t i) const;

 private:
  std::vector<std::function<Tensor(const Tensor&)>> steps_;
};

}  // namespace kiln::nn
