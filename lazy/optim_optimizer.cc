#include "lazy/optim_optimizer.h"

#include <limits>
#include <memory>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "lazy/grad_mode.h"
#include "lazy/precompile.h"
#include "lazy/tensor_impl.h"
#include "util/error.h"

namespace kiln::optim {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

std::string Describe(const Tensor& t) { return t.shape().ToString(); }

}  // namespace

std::vector<Optimizer::StateSlot> Optimizer::StateSlots() {
  std::vector<StateSlot> slots;
  slots.push_back({.name = "step", .count = &step_count_});
  for (size_t g = 0; g < groups_.size(); ++g) {
    slots.push_back({.name = absl::StrCat("param_groups.", g, ".lr"), .option = &*groups_[g].lr});
    slots.push_back({.name = absl::StrCat("param_groups.", g, ".weight_decay"),
                     .option = &*groups_[g].weight_decay});
  }
  int64_t k = 0;
  for (size_t g = 0; g < groups_.size(); ++g) {
    for (size_t i = 0; i < groups_[g].params.size(); ++i) {
      AppendParameterState(g, i, absl::StrCat("state.", k++, "."), &slots);
    }
  }
  return slots;
}

Tensor Optimizer::SlotValue(const StateSlot& slot) {
  if (slot.tensor != nullptr) return *slot.tensor;
  if (slot.count != nullptr) return Tensor::from_vector<int64_t>({*slot.count}, {});
  return Tensor::from_vector<double>({*slot.option}, {});
}

StateDict Optimizer::state_dict() const {
  // StateSlots hands out pointers for load_state_dict; here they are only read.
  StateDict state;
  for (const StateSlot& slot : const_cast<Optimizer*>(this)->StateSlots()) {
    state.emplace(slot.name, SlotValue(slot));
  }
  return state;
}

void Optimizer::load_state_dict(const StateDict& state) {
  const std::vector<StateSlot> slots = StateSlots();
  std::vector<std::pair<std::string, Tensor>> targets;
  targets.reserve(slots.size());
  for (const StateSlot& slot : slots) targets.emplace_back(slot.name, SlotValue(slot));
  const std::vector<const Tensor*> sources = internal::MatchStateDict(
      absl::StrCat(name_, "::load_state_dict"), "optimizer", targets, state);
  // The numbers, read and checked before anything changes.
  std::vector<int64_t> counts(slots.size());
  std::vector<double> options(slots.size());
  for (size_t i = 0; i < slots.size(); ++i) {
    if (slots[i].count != nullptr) {
      counts[i] = sources[i]->to_vector<int64_t>()[0];
      if (counts[i] < 0) {
        throw Error(absl::StrCat(name_, "::load_state_dict: '", slots[i].name,
                                 "' must be >= 0, got ", counts[i]));
      }
    } else if (slots[i].option != nullptr) {
      options[i] = sources[i]->to_vector<double>()[0];
      CheckOption(absl::StrCat("load_state_dict: '", slots[i].name, "'").c_str(), options[i], 0,
                  kInf, false);
    }
  }
  NoGradGuard no_grad;
  for (size_t i = 0; i < slots.size(); ++i) {
    if (slots[i].tensor != nullptr) slots[i].tensor->assign_(*sources[i]);
    if (slots[i].count != nullptr) *slots[i].count = counts[i];
    if (slots[i].option != nullptr) *slots[i].option = options[i];
  }
}

Optimizer::Optimizer(std::string name, std::vector<ParamGroup> groups, double lr,
                     double weight_decay)
    : name_(std::move(name)), groups_(std::move(groups)) {
  CheckOption("lr", lr, 0, kInf, false);
  CheckOption("weight_decay", weight_decay, 0, kInf, false);
  if (groups_.empty()) throw Error(absl::StrCat(name_, ": got no parameters to optimize"));
  // Where each tensor first appeared: a tensor updated twice per step would be wrong.
  absl::flat_hash_map<const TensorImpl*, std::pair<size_t, size_t>> seen;
  for (size_t g = 0; g < groups_.size(); ++g) {
    ParamGroup& group = groups_[g];
    if (group.params.empty()) {
      throw Error(absl::StrCat(name_, ": parameter group ", g, " is empty"));
    }
    if (!group.lr) group.lr = lr;
    if (!group.weight_decay) group.weight_decay = weight_decay;
    CheckOption(absl::StrCat("lr of group ", g).c_str(), *group.lr, 0, kInf, false);
    CheckOption(absl::StrCat("weight_decay of group ", g).c_str(), *group.weight_decay, 0, kInf,
                false);
    for (size_t i = 0; i < group.params.size(); ++i) {
      const Tensor& p = group.params[i];
      const std::string where = absl::StrCat("parameter ", i, " of group ", g);
      if (!p.defined()) throw Error(absl::StrCat(name_, ": ", where, " is undefined"));
      if (!p.requires_grad()) {
        throw Error(absl::StrCat(name_, ": ", where, " (", Describe(p),
                                 ") does not require grad; call requires_grad_() on it or "
                                 "leave it out"));
      }
      if (!p.is_leaf()) {
        throw Error(absl::StrCat(name_, ": ", where, " (", Describe(p),
                                 ") is the result of an op, not a leaf; only leaves can be "
                                 "optimized (use detach().requires_grad_())"));
      }
      const auto [it, inserted] = seen.try_emplace(p.impl().get(), g, i);
      if (!inserted) {
        throw Error(absl::StrCat(name_, ": ", where, " (", Describe(p), ") is also parameter ",
                                 it->second.second, " of group ", it->second.first,
                                 "; a tensor may appear only once"));
      }
    }
  }
}

void Optimizer::step() {
  NoGradGuard no_grad;
  for (size_t g = 0; g < groups_.size(); ++g) {
    std::vector<Tensor>& params = groups_[g].params;
    for (size_t i = 0; i < params.size(); ++i) {
      Tensor grad = params[i].grad();
      if (!grad.defined()) continue;
      UpdateParameter(g, i, params[i], grad);
    }
  }
  if (!precompiling()) ++step_count_;  // a step traced for precompile is not taken
}

void Optimizer::zero_grad() {
  for (const ParamGroup& group : groups_) {
    for (const Tensor& p : group.params) p.zero_grad();
  }
}

void Optimizer::set_lr(double lr) {
  CheckOption("lr", lr, 0, kInf, false);
  for (ParamGroup& group : groups_) group.lr = lr;
}

void Optimizer::set_lr(size_t group, double lr) {
  CheckGroup(group);
  CheckOption("lr", lr, 0, kInf, false);
  groups_[group].lr = lr;
}

double Optimizer::lr(size_t group) const {
  CheckGroup(group);
  return *groups_[group].lr;
}

double Optimizer::weight_decay(size_t group) const {
  CheckGroup(group);
  return *groups_[group].weight_decay;
}

void Optimizer::CheckOption(const char* option, double value, double lo, double hi,
                            bool hi_inclusive) const {
  // Written so that NaN fails every comparison.
  const bool ok = value >= lo && (hi_inclusive ? value <= hi : value < hi);
  if (!ok) {
    throw Error(absl::StrCat(name_, ": ", option, " must be in [", lo, ", ",
                             hi == kInf ? "inf" : absl::StrCat(hi), hi_inclusive ? "]" : ")",
                             ", got ", value));
  }
}

void Optimizer::CheckGroup(size_t group) const {
  if (group >= groups_.size()) {
    throw Error(absl::StrCat(name_, ": no parameter group ", group, " (the optimizer has ",
                             groups_.size(), ")"));
  }
}

}  // namespace kiln::optim
