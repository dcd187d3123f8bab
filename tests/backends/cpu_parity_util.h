#pragma once
// Shared by the cpu backend's parity tests: a fixture that poisons fresh allocations (so
// an element a kernel never writes shows up) and a comparison of cpu against interp.
#include <cmath>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "backends/cpu/cpu_backend.h"
#include "gtest/gtest.h"
#include "lazy/device.h"
#include "lazy/generator.h"
#include "lazy/graph_executor.h"
#include "lazy/ops.h"
#include "lazy/tensor.h"

namespace kiln::testing {

class PoisonedCpuTest : public ::testing::Test {
 protected:
  void SetUp() override { cpu::SetPoisonAllocationsForTesting(true); }
  void TearDown() override {
    cpu::SetPoisonAllocationsForTesting(false);
    set_device("interp");
  }
};

using Outputs = std::vector<std::vector<double>>;

// Every element of `tensors` as f64 (integers and bool through i64).
inline Outputs Values(const std::vector<Tensor>& tensors) {
  Outputs out;
  for (const Tensor& t : tensors) {
    if (t.dtype() == DType::kF32) {
      const std::vector<float> v = t.to_vector<float>();
      out.emplace_back(v.begin(), v.end());
    } else if (t.dtype() == DType::kF64) {
      out.push_back(t.to_vector<double>());
    } else {
      const std::vector<int64_t> v = cast(t, DType::kI64).to_vector<int64_t>();
      out.emplace_back(v.begin(), v.end());
    }
  }
  return out;
}

// Runs `fn` on `device` from `seed`, all results as one graph (so that producers,
// reductions and consumers fuse).
inline Outputs RunOn(const char* device, const std::function<std::vector<Tensor>(Generator&)>& fn,
                     uint64_t seed) {
  set_device(device);
  Generator gen(seed);
  const std::vector<Tensor> results = fn(gen);
  mark_step();
  Outputs out = Values(results);
  set_device("interp");
  return out;
}

// Runs `fn` on interp and on cpu from the same seed and compares every element: `tol` is
// relative to max(1, |interp|); NaN must match NaN. Reports at most 5 elements per output.
inline void ExpectCpuMatchesInterp(const std::function<std::vector<Tensor>(Generator&)>& fn,
                                   double tol, const std::string& name, uint64_t seed = 2024) {
  const Outputs want = RunOn("interp", fn, seed);
  const Outputs got = RunOn("cpu", fn, seed);
  ASSERT_EQ(want.size(), got.size()) << name;
  for (size_t o = 0; o < want.size(); ++o) {
    ASSERT_EQ(want[o].size(), got[o].size()) << name << " output " << o;
    int bad = 0;
    for (size_t i = 0; i < want[o].size() && bad < 5; ++i) {
      const double w = want[o][i];
      const double g = got[o][i];
      const bool ok =
          std::isnan(w) ? std::isnan(g) : std::fabs(w - g) <= tol * std::max(1.0, std::fabs(w));
      if (!ok) {
        ++bad;
        ADD_FAILURE() << name << " output " << o << " element " << i << ": cpu " << g
                      << " vs interp " << w;
      }
    }
  }
}

}  // namespace kiln::testing
