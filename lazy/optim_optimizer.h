#pragma once
// kiln::optim::Optimizer: the base of the optimizers (SGD, AdamW). It owns the parameter
// groups, the learning rates and the step counter; a subclass records the update of one
// parameter. step() records lazy ops and runs nothing: the caller's mark_step() runs the
// forward, backward and update as one graph.
//
//   kiln::optim::AdamW opt(params, {.lr = 1e-3});
//   for (int64_t step = 0; step < steps; ++step) {
//     opt.zero_grad();
//     kiln::Tensor loss = Loss(model, batch);
//     opt.set_lr(schedule(step));
//     loss.backward();
//     opt.step();
//     kiln::mark_step();   // the same graph every step: compiled once
//   }
//
// Why the step graph never changes: everything that changes from step to step (the
// learning rate, the step count, Adam's bias corrections) enters the IR as a runtime
// Scalar, computed on the host in doubles; the optimizer state is created once, as
// materialised zeros, and parameters and state are updated in place with assign_ under
// NoGradGuard, so they keep their identity and each step reads last step's buffers.
// Even the first step is the same graph, because the state exists before it.
//
// Not thread-safe: one training loop drives an optimizer.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "lazy/optim_param_groups.h"
#include "lazy/state_dict.h"
#include "lazy/tensor.h"

namespace kiln::optim {

class Optimizer {
 public:
  virtual ~Optimizer() = default;
  Optimizer(const Optimizer&) = delete;
  Optimizer& operator=(const Optimizer&) = delete;

  // Records one update of every parameter that has a gradient; parameters without one
  // (not reached by backward since the last zero_grad) are skipped, as in PyTorch.
  void step();
  // Drops every parameter's gradient (PyTorch's set_to_none), so the next backward
  // starts from none and traces the same graph whatever the step.
  void zero_grad();

  // Sets the learning rate of every group (what a schedule feeds each step). Throws
  // kiln::Error for a negative or non-finite lr.
  void set_lr(double lr);
  // Sets the learning rate of group `group` only.
  void set_lr(size_t group, double lr);
  // The learning rate of group `group`.
  double lr(size_t group = 0) const;
  // The weight decay of group `group`.
  double weight_decay(size_t group = 0) const;

  // The number of step() calls so far.
  int64_t step_count() const { return step_count_; }
  // The groups, with every option set.
  const std::vector<ParamGroup>& param_groups() const { return groups_; }
  // "SGD", "AdamW": the name errors start with.
  const std::string& name() const { return name_; }

  // The state as named tensors, for a checkpoint (save_checkpoint), numbered as
  // torch's Optimizer.state_dict: "step" (i64, step_count()), "param_groups.<g>.lr" and
  // "param_groups.<g>.weight_decay" (f64), and each parameter's state under
  // "state.<k>.", k counting the parameters of every group in order (AdamW: "exp_avg",
  // "exp_avg_sq", "step"; SGD with momentum: "momentum_buffer"). State tensors are
  // handles to the live ones (no copy); numbers are 0-d tensors made for the dict.
  StateDict state_dict() const;
  // Replaces the state with `state`, as state_dict() of an optimizer of the same kind
  // over parameters of the same shapes gave it: the keys must match exactly, each tensor
  // must have the shape, dtype and backend of the one it replaces, and the numbers must
  // be valid (counts >= 0; lr and weight decay as the constructor checks them).
  // Everything is checked before anything changes. State tensors keep their identity
  // (assign_), so the training step after a load runs the graph compiled before it, and
  // training continues exactly as if it had not stopped.
  void load_state_dict(const StateDict& state);

 protected:
  // One piece of state as state_dict() names it: a tensor updated in place, or a number
  // kept on the host.
  struct StateSlot {
    std::string name;
    Tensor* tensor = nullptr;
    int64_t* count = nullptr;
    double* option = nullptr;  // a group's lr or weight decay
  };
  // Appends the state of parameter `index` of group `group`, named `prefix` + its name.
  virtual void AppendParameterState(size_t group, size_t index, const std::string& prefix,
                                    std::vector<StateSlot>* slots) = 0;

  // Validates and stores `groups`, filling unset options with `lr` and `weight_decay`.
  // Throws kiln::Error naming `name` for: no groups, an empty group, an undefined
  // tensor, a tensor that does not require grad or is not a leaf, a tensor in more than
  // one place, or a negative lr / weight decay.
  Optimizer(std::string name, std::vector<ParamGroup> groups, double lr, double weight_decay);

  // Records the update of parameter `index` of group `group` from its gradient `grad`
  // (defined, same shape and dtype), changing `param` and any state with assign_ only.
  // Called under NoGradGuard.
  virtual void UpdateParameter(size_t group, size_t index, Tensor& param, const Tensor& grad) = 0;

  // Throws kiln::Error "<name>: <option> must be in <range>, got <value>" unless
  // lo <= value < hi (hi_inclusive: value <= hi).
  void CheckOption(const char* option, double value, double lo, double hi, bool hi_inclusive) const;

 private:
  void CheckGroup(size_t group) const;
  // Every piece of state, in state_dict()'s terms.
  std::vector<StateSlot> StateSlots();
  // The slot's value as state_dict() gives it.
  static Tensor SlotValue(const StateSlot& slot);

  std::string name_;
  std::vector<ParamGroup> groups_;
  int64_t step_count_ = 0;
};

}  // namespace kiln::optim
