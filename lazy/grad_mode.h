#pragma once
// Whether ops record gradient information. On by default; optimizers, evaluation loops
// and the backward pass itself turn it off so their ops are never differentiated.
//
//   {
//     kiln::NoGradGuard no_grad;
//     p.assign_(p - lr * p.grad());  // not part of any gradient
//   }
//
// The mode is per thread, as in PyTorch.
namespace kiln {

class GradMode {
 public:
  static bool enabled();
  static void set_enabled(bool enabled);
};

// Disables gradient recording for its scope and restores the previous mode after.
class NoGradGuard {
 public:
  NoGradGuard() : previous_(GradMode::enabled()) { GradMode::set_enabled(false); }
  ~NoGradGuard() { GradMode::set_enabled(previous_); }
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;

 private:
  bool previous_;
};

}  // namespace kiln
