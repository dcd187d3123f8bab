#pragma once
// Learning-rate schedules: functions of the step (0 for the first update) returning the
// learning rate as a double. The training loop feeds the value to the optimizer before
// each update; lr reaches the graph as a runtime scalar, so a new value every step never
// recompiles:
//
//   kiln::optim::LrSchedule schedule =
//       kiln::optim::WarmupCosineSchedule(1e-3, /*warmup_steps=*/20, steps, 1e-5);
//   for (int64_t step = 0; step < steps; ++step) {
//     opt.zero_grad();
//     kiln::Tensor loss = Loss(model, batch);
//     opt.set_lr(schedule(step)); loss.backward(); opt.step(); kiln::mark_step();
//   }
//
// Warm-up then cosine, with u = step + 1 (the number of the update being made), W
// warm-up steps and T steps in all:
//
//   u <= W:      peak * u / W                                        (rises to peak)
//   W < u <= T:  min + (peak - min) * (1 + cos(pi * (u - W) / (T - W))) / 2
//   u > T:       min
//
// so step W - 1 uses the peak and step T - 1, the last, uses min. For peak 1e-3, W 20,
// T 100, min 1e-5: step 0 -> 5e-5, step 19 -> 1e-3, step 59 -> 5.05e-4, step 99 -> 1e-5.
#include <cstdint>
#include <functional>

namespace kiln::optim {

// The learning rate for a step (>= 0). Schedules throw kiln::Error for a negative step.
using LrSchedule = std::function<double(int64_t step)>;

// `lr` at every step. Throws kiln::Error for a negative or non-finite lr.
LrSchedule ConstantSchedule(double lr);

// Linear warm-up over `warmup_steps` to `peak_lr`, then cosine decay to `min_lr` at step
// `total_steps` - 1, then `min_lr` (formula above). Throws kiln::Error unless
// 0 <= min_lr <= peak_lr, warmup_steps >= 0 and total_steps > warmup_steps.
LrSchedule WarmupCosineSchedule(double peak_lr, int64_t warmup_steps, int64_t total_steps,
                                double min_lr = 0);

}  // namespace kiln::optim
