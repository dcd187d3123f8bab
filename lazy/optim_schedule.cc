#include "lazy/optim_schedule.h"

#include <cmath>
#include <numbers>

#include "absl/strings/str_cat.h"
#include "util/error.h"

namespace kiln::optim {
namespace {

void CheckStep(const char* schedule, int64_t step) {
  if (step < 0) throw Error(absl::StrCat(schedule, ": step must be >= 0, got ", step));
}

}  // namespace

LrSchedule ConstantSchedule(double lr) {
  if (!(lr >= 0 && std::isfinite(lr))) {
    throw Error(absl::StrCat("ConstantSchedule: lr must be finite and >= 0, got ", lr));
  }
  return [lr](int64_t step) {
    CheckStep("ConstantSchedule", step);
    return lr;
  };
}

LrSchedule WarmupCosineSchedule(double peak_lr, int64_t warmup_steps, int64_t total_steps,
                                double min_lr) {
  if (!(min_lr >= 0 && min_lr <= peak_lr && std::isfinite(peak_lr))) {
    throw Error(
        absl::StrCat("WarmupCosineSchedule: expected 0 <= min_lr <= peak_lr (finite), "
                     "got min_lr ",
                     min_lr, " and peak_lr ", peak_lr));
  }
  if (warmup_steps < 0 || total_steps <= warmup_steps) {
    throw Error(
        absl::StrCat("WarmupCosineSchedule: expected 0 <= warmup_steps < total_steps, "
                     "got warmup_steps ",
                     warmup_steps, " and total_steps ", total_steps));
  }
  return [=](int64_t step) {
    CheckStep("WarmupCosineSchedule", step);
    const int64_t u = step + 1;
    if (u <= warmup_steps) {
      return peak_lr * static_cast<double>(u) / static_cast<double>(warmup_steps);
    }
    if (u > total_steps) return min_lr;
    const double progress =
        static_cast<double>(u - warmup_steps) / static_cast<double>(total_steps - warmup_steps);
    return min_lr + (peak_lr - min_lr) * 0.5 * (1 + std::cos(std::numbers::pi * progress));
  };
}

}  // namespace kiln::optim
