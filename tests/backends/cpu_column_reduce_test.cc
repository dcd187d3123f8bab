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
#include "util/config.h"

namespace kiln {
namespace {

using Outputs = std::vector<std::vector<double>>;

Outputs Values(const std::vector<Tensor>& tensors) {
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

// Runs `fn` on `device` from a fixed seed.
Outputs RunOn(const char* device, const std::function<std::vector<Tensor>(Generator&)>& fn) {
  set_device(device);
  Generator gen(2024);
  const std::vector<Tensor> results = fn(gen);
  // One graph for all results, so that producer, reduction and consumer fuse.
  mark_step();
  Outputs out = Values(results);
  set_device("interp");
  return out;
}

// `tol` is relative to max(1, |interp|); NaN must match NaN.
void ExpectMatchesInterp(const std::function<std::vector<Tensor>(Generator&)>& fn, double tol,
                         const std::string& name) {
  const Outputs want = RunOn("interp", fn);
  const Outputs got = RunOn("cpu", fn);
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

class CpuColumnReduceTest : public ::testing::Test {
 protected:
  void SetUp() override { cpu::SetPoisonAllocationsForTesting(true); }
  void TearDown() override {
    cpu::SetPoisonAllocationsForTesting(false);
    set_device("interp");
  }
};

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
          ExpectMatchesInterp([&](Generator& gen) { return Fused(gen, c, op, keepdim); }, 1e-5,
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
    ExpectMatchesInterp(
        [](Generator& gen) {
          Tensor x = add(randn({20000, 3}, gen), 1.0);
          return std::vector<Tensor>{sum(x, {0}), mean(x, {0}, true)};
        },
        1e-5, "long f32 column sum");
    ExpectMatchesInterp(
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
  ExpectMatchesInterp(
      [](Generator& gen) {
        Tensor i = cast(mul(randn({300, 41}, gen), 1000.0), DType::kI32);
        return std::vector<Tensor>{sum(i, {0}), max(i, {0}), min(cast(i, DType::kI64), {0})};
      },
      0, "integer columns");
  // log of negative numbers: NaN in some columns.
  ExpectMatchesInterp(
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
    ExpectMatchesInterp(
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
  const Outputs a = RunOn("cpu", fn);
  const Outputs b = RunOn("cpu", fn);
  ASSERT_EQ(a.size(), b.size());
  EXPECT_EQ(0, std::memcmp(a[0].data(), b[0].data(), a[0].size() * sizeof(double)));
}

}  // namespace
}  // namespace kiln
