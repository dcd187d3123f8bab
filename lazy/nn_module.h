#pragma once
// kiln::nn::Module: the base of every neural-network module. A module owns named
// parameters (tensors that require grad), buffers (tensors saved with the model but
// never trained) and submodules, and names them hierarchically as PyTorch does:
//
//   class Block : public nn::Module {
//    public:
//     explicit Block(Generator& gen) : Module("Block") {
//       fc_ = register_module("fc", std::make_shared<nn::Linear>(4, 4, gen));
//     }
//     std::shared_ptr<nn::Linear> fc_;
//   };
//   blocks->push_back(std::make_shared<Block>(gen));   // "0.fc.weight", "0.fc.bias"
//
// Modules are held by std::shared_ptr (as in libtorch), because a submodule is shared
// between its parent (which walks it for parameters and state) and the code that calls
// its forward. A module is not synchronised: use one module from one thread at a time.
#include <cstdint>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "lazy/generator.h"
#include "lazy/state_dict.h"
#include "lazy/tensor.h"

namespace kiln::nn {

// Named tensors of a module tree: parameters and buffers by their hierarchical names.
using StateDict = kiln::StateDict;

class Module {
 public:
  // `type_name` names the module in error messages ("Linear", "MLP", ...).
  explicit Module(std::string type_name = "Module");
  virtual ~Module() = default;
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;

  // The type name given at construction.
  const std::string& type_name() const { return type_name_; }

  // Registers `tensor` as a parameter called `name` and marks it as requiring grad.
  // `tensor` must be a defined floating leaf; `name` must be non-empty, contain no '.',
  // and not already name a parameter, buffer or submodule of this module. Returns
  // `tensor` (the same handle), so a member can be initialised from the call.
  Tensor register_parameter(const std::string& name, Tensor tensor);
  // Registers `tensor` as a buffer: saved in state_dict(), never given gradients.
  Tensor register_buffer(const std::string& name, Tensor tensor);
  // Registers `gen`, a generator the module owns (a member, so it lives as long as the
  // module), as its random stream called `name`: saved by rng_state(), never by
  // state_dict(), so a model's weights keep PyTorch's names.
  void register_generator(const std::string& name, Generator& gen);
  // Registers `module` as a submodule called `name` and returns it with its own type.
  template <typename M>
  std::shared_ptr<M> register_module(const std::string& name, std::shared_ptr<M> module) {
    static_assert(std::is_base_of_v<Module, M>, "register_module takes an nn::Module");
    RegisterModule(name, module);
    return module;
  }

  // Parameters of this module and (when `recurse`) of every submodule, in a fixed order:
  // this module's own in registration order, then each submodule's, depth first, in
  // registration order (as PyTorch's named_parameters).
  std::vector<Tensor> parameters(bool recurse = true) const;
  std::vector<std::pair<std::string, Tensor>> named_parameters(bool recurse = true) const;
  // Buffers, in the same order as parameters.
  std::vector<Tensor> buffers(bool recurse = true) const;
  std::vector<std::pair<std::string, Tensor>> named_buffers(bool recurse = true) const;
  // Registered generators, in the same order as parameters.
  std::vector<std::pair<std::string, Generator*>> named_generators() const;
  // Direct submodules in registration order.
  std::vector<std::shared_ptr<Module>> children() const;
  const std::vector<std::pair<std::string, std::shared_ptr<Module>>>& named_children() const {
    return children_;
  }
  // Every submodule below this one, depth first, with its hierarchical name (this module
  // itself is not included).
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> named_modules() const;

  // Total number of parameter elements (the usual "parameter count").
  int64_t num_parameters() const;

  // Sets training mode on this module and every submodule.
  void train(bool on = true);
  // train(false).
  void eval() { train(false); }
  // True in training mode (the default).
  bool is_training() const { return training_; }

  // Drops the accumulated gradient of every parameter (Tensor::zero_grad).
  void zero_grad();

  // Parameters and buffers by hierarchical name. The tensors are handles to the live
  // parameters (no copy): they follow later updates of the model.
  StateDict state_dict() const;
  // Replaces every parameter and buffer with the tensor of the same name in `state`.
  // The keys must match exactly (a missing or an unexpected key is an error), and each
  // tensor must have the shape and dtype of the one it replaces. Everything is checked
  // before anything changes, so a failed load leaves the module as it was. Parameters
  // keep their identity (Tensor::assign_ under NoGradGuard): optimizers holding them
  // see the loaded values, and the loaded values share the source's storage.
  void load_state_dict(const StateDict& state);

  // The state of every registered generator (Generator::state as an i64[6] tensor) by
  // hierarchical name ("blocks.0.drop_path1.generator"): with the weights and the
  // optimizer's state, what a run needs to go on drawing the dropout masks it would have.
  StateDict rng_state() const;
  // Sets every registered generator from `state`, whose keys must be rng_state()'s
  // exactly. Everything is checked first, so a failed load changes nothing.
  void load_rng_state(const StateDict& state);

 private:
  void RegisterModule(const std::string& name, std::shared_ptr<Module> module);
  // Throws unless `name` can name a new member of this module.
  void CheckNewName(const std::string& what, const std::string& name) const;
  // Appends this tree's parameters (or buffers) with names prefixed by `prefix`.
  void CollectNamed(bool buffers, bool recurse, const std::string& prefix,
                    std::vector<std::pair<std::string, Tensor>>* out) const;
  void CollectGenerators(const std::string& prefix,
                         std::vector<std::pair<std::string, Generator*>>* out) const;

  std::string type_name_;
  bool training_ = true;
  std::vector<std::pair<std::string, Tensor>> parameters_;
  std::vector<std::pair<std::string, Tensor>> buffers_;
  std::vector<std::pair<std::string, Generator*>> generators_;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> children_;
};

}  // namespace kiln::nn
