// Registration, hierarchical naming, modes and state_dict loading for nn::Module.
#include "lazy/nn_module.h"

#include <algorithm>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "lazy/grad_mode.h"
#include "util/error.h"

namespace kiln::nn {
namespace {

std::string Join(const std::string& prefix, const std::string& name) {
  return prefix.empty() ? name : absl::StrCat(prefix, ".", name);
}

}  // namespace

Module::Module(std::string type_name) : type_name_(std::move(type_name)) {}

void Module::CheckNewName(const std::string& what, const std::string& name) const {
  if (name.empty() || name.find('.') != std::string::npos) {
    throw Error(absl::StrCat(type_name_, ": ", what, " name '", name,
                             "' must be non-empty and contain no '.'"));
  }
  const auto taken = [&](const auto& entries) {
    for (const auto& entry : entries) {
      if (entry.first == name) return true;
    }
    return false;
  };
  if (taken(parameters_) || taken(buffers_) || taken(generators_) || taken(children_)) {
    throw Error(absl::StrCat(type_name_, ": cannot register ", what, " '", name,
                             "': the name is already taken"));
  }
}

Tensor Module::register_parameter(const std::string& name, Tensor tensor) {
  CheckNewName("parameter", name);
  if (!tensor.defined()) {
    throw Error(absl::StrCat(type_name_, ": parameter '", name, "' is an undefined tensor"));
  }
  if (!IsFloating(tensor.dtype())) {
    throw Error(absl::StrCat(type_name_, ": parameter '", name, "' must be floating, got ",
                             tensor.shape().ToString()));
  }
  if (!tensor.is_leaf()) {
    throw Error(absl::StrCat(type_name_, ": parameter '", name, "' ", tensor.shape().ToString(),
                             " is the result of a differentiable op; register a leaf (detach())"));
  }
  tensor.requires_grad_(true);
  parameters_.emplace_back(name, tensor);
  return tensor;
}

Tensor Module::register_buffer(const std::string& name, Tensor tensor) {
  CheckNewName("buffer", name);
  if (!tensor.defined()) {
    throw Error(absl::StrCat(type_name_, ": buffer '", name, "' is an undefined tensor"));
  }
  buffers_.emplace_back(name, tensor);
  return tensor;
}

void Module::register_generator(const std::string& name, Generator& gen) {
  CheckNewName("generator", name);
  generators_.emplace_back(name, &gen);
}

void Module::RegisterModule(const std::string& name, std::shared_ptr<Module> module) {
  CheckNewName("submodule", name);
  if (module == nullptr) {
    throw Error(absl::StrCat(type_name_, ": submodule '", name, "' is null"));
  }
  if (module.get() == this) {
    throw Error(
        absl::StrCat(type_name_, ": cannot register a module as its own submodule '", name, "'"));
  }
  children_.emplace_back(name, std::move(module));
}

void Module::CollectNamed(bool buffers, bool recurse, const std::string& prefix,
                          std::vector<std::pair<std::string, Tensor>>* out) const {
  for (const auto& [name, tensor] : buffers ? buffers_ : parameters_) {
    out->emplace_back(Join(prefix, name), tensor);
  }
  if (!recurse) return;
  for (const auto& [name, child] : children_) {
    child->CollectNamed(buffers, recurse, Join(prefix, name), out);
  }
}

std::vector<std::pair<std::string, Tensor>> Module::named_parameters(bool recurse) const {
  std::vector<std::pair<std::string, Tensor>> out;
  CollectNamed(/*buffers=*/false, recurse, "", &out);
  return out;
}

std::vector<Tensor> Module::parameters(bool recurse) const {
  std::vector<Tensor> out;
  for (auto& [name, tensor] : named_parameters(recurse)) out.push_back(std::move(tensor));
  return out;
}

std::vector<std::pair<std::string, Tensor>> Module::named_buffers(bool recurse) const {
  std::vector<std::pair<std::string, Tensor>> out;
  CollectNamed(/*buffers=*/true, recurse, "", &out);
  return out;
}

std::vector<Tensor> Module::buffers(bool recurse) const {
  std::vector<Tensor> out;
  for (auto& [name, tensor] : named_buffers(recurse)) out.push_back(std::move(tensor));
  return out;
}

void Module::CollectGenerators(const std::string& prefix,
                               std::vector<std::pair<std::string, Generator*>>* out) const {
  for (const auto& [name, gen] : generators_) out->emplace_back(Join(prefix, name), gen);
  for (const auto& [name, child] : children_) child->CollectGenerators(Join(prefix, name), out);
}

std::vector<std::pair<std::string, Generator*>> Module::named_generators() const {
  std::vector<std::pair<std::string, Generator*>> out;
  CollectGenerators("", &out);
  return out;
}

std::vector<std::shared_ptr<Module>> Module::children() const {
  std::vector<std::shared_ptr<Module>> out;
  out.reserve(children_.size());
  for (const auto& [name, child] : children_) out.push_back(child);
  return out;
}

std::vector<std::pair<std::string, std::shared_ptr<Module>>> Module::named_modules() const {
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> out;
  for (const auto& [name, child] : children_) {
    out.emplace_back(name, child);
    for (auto& [sub_name, sub] : child->named_modules()) {
      out.emplace_back(Join(name, sub_name), std::move(sub));
    }
  }
  return out;
}

int64_t Module::num_parameters() const {
  int64_t count = 0;
  for (const Tensor& p : parameters()) count += p.numel();
  return count;
}

void Module::train(bool on) {
  training_ = on;
  for (const auto& [name, child] : children_) child->train(on);
}

void Module::zero_grad() {
  for (const Tensor& p : parameters()) p.zero_grad();
}

StateDict Module::state_dict() const {
  StateDict state;
  for (auto& [name, tensor] : named_parameters()) state.emplace(std::move(name), tensor);
  for (auto& [name, tensor] : named_buffers()) state.emplace(std::move(name), tensor);
  return state;
}

void Module::load_state_dict(const StateDict& state) {
  std::vector<std::pair<std::string, Tensor>> targets = named_parameters();
  for (auto& entry : named_buffers()) targets.push_back(std::move(entry));

  // Check everything first: a failed load must change nothing.
  const std::vector<const Tensor*> sources = internal::MatchStateDict(
      absl::StrCat(type_name_, "::load_state_dict"), "model", targets, state);
  NoGradGuard no_grad;
  for (size_t i = 0; i < targets.size(); ++i) targets[i].second.assign_(*sources[i]);
}

StateDict Module::rng_state() const {
  StateDict state;
  for (const auto& [name, gen] : named_generators()) {
    const Generator::State words = gen->state();
    state.emplace(name,
                  Tensor::from_vector<int64_t>(std::vector<int64_t>(words.begin(), words.end()),
                                               {static_cast<int64_t>(words.size())}));
  }
  return state;
}

void Module::load_rng_state(const StateDict& state) {
  const std::vector<std::pair<std::string, Generator*>> generators = named_generators();
  const StateDict current = rng_state();
  const std::vector<std::pair<std::string, Tensor>> targets(current.begin(), current.end());
  const std::vector<const Tensor*> sources = internal::MatchStateDict(
      absl::StrCat(type_name_, "::load_rng_state"), "model", targets, state);
  // Every state is tried on a copy first: a failed load must change nothing.
  std::map<std::string, Generator> loaded;
  for (size_t i = 0; i < targets.size(); ++i) {
    const std::vector<int64_t> values = sources[i]->to_vector<int64_t>();
    Generator::State words;
    std::copy(values.begin(), values.end(), words.begin());
    Generator gen;
    try {
      gen.set_state(words);
    } catch (const Error& e) {
      throw Error(
          absl::StrCat(type_name_, "::load_rng_state: '", targets[i].first, "': ", e.what()));
    }
    loaded.emplace(targets[i].first, gen);
  }
  for (const auto& [name, gen] : generators) *gen = loaded.at(name);
}

}  // namespace kiln::nn
