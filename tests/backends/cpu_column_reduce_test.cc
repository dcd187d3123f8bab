// Reductions over leading dimensions that keep the last one (column sums, as in a bias
// gradient) on the cpu backend against interp: fresh random inputs, outputs poisoned
// before each run, several shapes (odd sizes, size-1 dimensions, [B, L, C] reduced over B
// and L or over L alone), sum, mean, max and min, with an elementwise producer that is
// also stored and an elementwise consumer of the result, on 1 to 3 threads.
#include <cmath>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "backends/cpu/cpu_backend.h"
#include "gtest/gtest.h"
#include "lazy/creation.h"
#include "lazy/device.h"
#include "lazy/graph_executor.h"
#include "lazy/ops.h"
#include "lazy/tensor.h"
#include "tests/backends/cpu_parity_util.h"
#include "util/config.h"

namespace kiln {
namespace {

using ::kiln::testing::ExpectCpuMatchesInterp;
using ::kiln::testing::Outputs;
using ::kiln::testing::RunOn;
using CpuColumnReduceTest = ::kiln::testing::PoisonedCpuTest;

struct Case {
  std::vector<int64_t> sizes;
  std::vector<int64_t> dims;
};

std::string Name(const Case& c, const char* op, bool keepdim, int threads) {
  std::string s = op;
  s += " [";
  for (int64_t v : c.sizes) s += std::to_string(v) + ",";
  s += "] dims [";
  for (int64_t v : c.dims) s += std::to_string(v) + ",";
  return s + "] keepdim " + std::to_string(keepdim) + " threads " + std::to_string(threads);
}

const std::vector<Case>& Cases() {
  static const auto* cases = new std::vector<Case>{
      {{37, 129}, {0}},        // odd sizes
      {{512, 96}, {0}},        // large enough to run on several threads
      {{3, 300, 70}, {0, 1}},  // [B, L, C] over B and L
      {{4, 130, 33}, {1}},     // over L: B kept outside
      {{1, 77, 5}, {0, 1}},    // a size-1 batch
      {{9, 1, 65}, {0, 1}},    // a size-1 reduced dimension
      {{5, 6, 7}, {0}},        // two kept inner dimensions
      {{6, 5, 4, 3}, {0, 2}},  // a kept dimension between reduced ones
      {{40, 3, 1}, {0}},       // a size-1 last dimension
      {{1, 1}, {0}},
  };
  return *cases;
}

// A producer that is both stored and reduced (like the GELU backward's dY), and a
// consumer of the reduction (like AdamW's bias update).
std::vector<Tensor> Fused(Generator& gen, const Case& c, const char* op, bool keepdim) {
  Tensor x = randn(c.sizes, gen);
  Tensor g = randn(c.sizes, gen);
  Tensor dy = add(mul(tanh(x), g), mul(x, 0.5));
  Tensor r;
  if (std::strcmp(op, "sum") == 0) {
    r = sum(dy, c.dims, keepdim);
  } else if (std::strcmp(op, "mean") == 0) {
    r = mean(dy, c.dims, keepdim);
  } else if (std::strcmp(op, "max") == 0) {
    r = max(dy, c.dims, keepdim);
  } else {
    r = min(dy, c.dims, keepdim);
  }
  Tensor bias = randn(std::vector<int64_t>(r.sizes().begin(), r.sizes().end()), gen);
  Tensor updated = sub(bias, mul(r, 0.01));
  return {dy, r, updated};
}

TEST_F(CpuColumnReduceTest, FusedColumnReductionsMatchInterp) {
  for (int threads : {1, 2, 3}) {
    ScopedConfigOverride cfg;
    cfg->num_threads = threads;
    for (const Case& c : Cases()) {
      for (const char* op : {"sum", "mean", "max", "min"}) {
        for (bool keepdim : {false, true}) {
          ExpectCpuMatchesInterp([&](Generator& gen) { return Fused(gen, c, op, keepdim); }, 1e-5,
                              Name(c, op, keepdim, threads));
        }
      }
    }
  }
}

TEST_F(CpuColumnReduceTest, LongColumnSumsStayAccurate) {
  for (int threads : {1, 2}) {
    ScopedConfigOverride cfg;
    cfg->num_threads = threads;
    ExpectCpuMatchesInterp(
        [](Generator& gen) {
          Tensor x = add(randn({20000, 3}, gen), 1.0);
          return std::vector<Tensor>{sum(x, {0}), mean(x, {0}, true)};
        },
        1e-5, "long f32 column sum");
    ExpectCpuMatchesInterp(
        [](Generator& gen) {
          Tensor x = randn({2, 3001, 17}, gen, DType::kF64);
          return std::vector<Tensor>{sum(exp(x), {0, 1})};
        },
        1e-12, "f64 column sum");
  }
}

TEST_F(CpuColumnReduceTest, IntegerAndNaNColumns) {
  ScopedConfigOverride cfg;
  cfg->num_threads = 2;
  ExpectCpuMatchesInterp(
      [](Generator& gen) {
        Tensor i = cast(mul(randn({300, 41}, gen), 1000.0), DType::kI32);
        return std::vector<Tensor>{sum(i, {0}), max(i, {0}), min(cast(i, DType::kI64), {0})};
      },
      0, "integer columns");
  // log of negative numbers: NaN in some columns.
  ExpectCpuMatchesInterp(
      [](Generator& gen) {
        Tensor x = log(add(randn({700, 13}, gen), 2.5));
        return std::vector<Tensor>{max(x, {0}), min(x, {0}, true), sum(x, {0})};
      },
      1e-5, "NaN columns");
}

// A reduction over the columns' reductions (variance after mean) and element stores that
// need them: several sweeps over the rows.
TEST_F(CpuColumnReduceTest, DependentColumnReductions) {
  for (int threads : {1, 2}) {
    ScopedConfigOverride cfg;
    cfg->num_threads = threads;
    ExpectCpuMatchesInterp(
        [](Generator& gen) {
          Tensor x = randn({257, 3, 50}, gen);
          Tensor centred = sub(x, mean(x, {0, 1}, true));
          Tensor var = mean(mul(centred, centred), {0, 1}, true);
          Tensor normed = div(centred, sqrt(add(var, 1e-5)));
          return std::vector<Tensor>{normed, var, sub(randn({1, 1, 50}, gen), var)};
        },
        1e-5, "batch-norm-like on " + std::to_string(threads) + " threads");
  }
}

TEST_F(CpuColumnReduceTest, SameThreadCountGivesTheSameBits) {
  ScopedConfigOverride cfg;
  cfg->num_threads = 2;
  auto fn = [](Generator& gen) {
    Tensor x = randn({1000, 70}, gen);
    return std::vector<Tensor>{sum(mul(x, x), {0})};
  };
  const Outputs a = RunOn("cpu", fn, 2024);
  const Outputs b = RunOn("cpu", fn, 2024);
  ASSERT_EQ(a.size(), b.size());
  EXPECT_EQ(0, std::memcmp(a[0].data(), b[0].data(), a[0].size() * sizeof(double)));
}

}  // namespace
}  // namespace kiln
