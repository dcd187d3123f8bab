// The cpu backend's vectorised f32 math (codegen/kernel_math.h, compiled with the
// configured flags inside generated kernels) and its simd max/min reductions against
// the reference interpreter, on random bit patterns, random values and special values.
#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "lazy/composite_ops.h"
#include "lazy/device.h"
#include "lazy/ops.h"
#include "lazy/tensor.h"

namespace kiln {
namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();
constexpr float kNan = std::numeric_limits<float>::quiet_NaN();

// Distance in representable f32 values (0 for two NaNs, huge for NaN against a number).
int64_t UlpDistance(float a, float b) {
  if (std::isnan(a) || std::isnan(b)) return std::isnan(a) && std::isnan(b) ? 0 : INT64_MAX;
  auto ordinal = [](float f) {
    int32_t i;
    std::memcpy(&i, &f, sizeof(i));
    return i < 0 ? -static_cast<int64_t>(i & 0x7fffffff) : static_cast<int64_t>(i);
  };
  const int64_t d = ordinal(a) - ordinal(b);
  return d < 0 ? -d : d;
}

// Random bit patterns (every exponent), random values where the functions bend, and the
// special values.
std::vector<float> Inputs(uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<float> xs;
  for (int i = 0; i < 40000; ++i) {
    const uint32_t bits = rng();
    float x;
    std::memcpy(&x, &bits, sizeof(x));
    xs.push_back(x);
  }
  std::uniform_real_distribution<float> mid(-12.0f, 12.0f);
  for (int i = 0; i < 40000; ++i) xs.push_back(mid(rng));
  std::uniform_real_distribution<float> wide(-110.0f, 110.0f);
  for (int i = 0; i < 20000; ++i) xs.push_back(wide(rng));
  for (float s : {0.0f, -0.0f, kInf, -kInf, kNan, 1e-40f, -1e-40f, 1e-45f, 88.72283f, 88.72284f,
                  -87.33655f, -103.9721f, -104.0f, 0.625f, -0.625f, 1.0f, -1.0f, 4.0f, -4.0f}) {
    xs.push_back(s);
  }
  return xs;
}

std::vector<float> RunOn(const char* device, const std::vector<float>& data,
                       const std::function<Tensor(const Tensor&)>& fn) {
  set_device(device);
  Tensor x = Tensor::from_vector<float>(data, {static_cast<int64_t>(data.size())});
  std::vector<float> out = fn(x).to_vector<float>();
  set_device("interp");
  return out;
}

void ExpectWithinUlps(const std::string& name, const std::function<Tensor(const Tensor&)>& fn,
                      int64_t max_ulps) {
  const std::vector<float> xs = Inputs(static_cast<uint32_t>(std::hash<std::string>()(name)));
  const std::vector<float> want = RunOn("interp", xs, fn);
  const std::vector<float> got = RunOn("cpu", xs, fn);
  ASSERT_EQ(want.size(), got.size());
  int bad = 0;
  for (size_t i = 0; i < xs.size() && bad < 5; ++i) {
    if (UlpDistance(got[i], want[i]) > max_ulps ||
        (got[i] == 0 && want[i] == 0 && std::signbit(got[i]) != std::signbit(want[i]))) {
      ++bad;
      ADD_FAILURE() << name << "(" << xs[i] << "): cpu " << got[i] << " vs interp " << want[i];
    }
  }
}

// interp rounds the f64 result once (within 0.5 ulp of exact); the kernels are within
// 1.5 ulp of exact, so the two are at most 2 representable values apart.
TEST(CpuMathTest, ExpMatchesInterp) {
  ExpectWithinUlps("exp", [](const Tensor& x) { return exp(x); }, 2);
}
TEST(CpuMathTest, LogMatchesInterp) {
  ExpectWithinUlps("log", [](const Tensor& x) { return log(x); }, 2);
}
TEST(CpuMathTest, TanhMatchesInterp) {
  ExpectWithinUlps("tanh", [](const Tensor& x) { return tanh(x); }, 2);
}
TEST(CpuMathTest, ErfMatchesInterp) {
  ExpectWithinUlps("erf", [](const Tensor& x) { return erf(x); }, 2);
}
TEST(CpuMathTest, SigmoidMatchesInterp) {
  ExpectWithinUlps("sigmoid", [](const Tensor& x) { return sigmoid(x); }, 2);
}

// Max and min rows and columns with NaN at random places: any NaN makes the result NaN,
// otherwise the result is exact.
TEST(CpuMathTest, MaxAndMinReductionsPropagateNan) {
  std::mt19937 rng(7);
  std::normal_distribution<float> normal(0.0f, 3.0f);
  const int64_t rows = 96, cols = 1031;
  std::vector<float> data(rows * cols);
  for (float& v : data) v = normal(rng);
  std::uniform_int_distribution<int64_t> pick(0, rows * cols - 1);
  for (int i = 0; i < 40; ++i) data[pick(rng)] = kNan;
  data[5 * cols + 7] = kInf;
  data[6 * cols + 8] = -kInf;
  const auto reduce = [&](const Tensor& flat) {
    Tensor x = reshape(flat, {rows, cols});
    return concat({max(x, {1}), min(x, {1}), max(x, {0}), min(x, {0})}, 0);
  };
  const std::vector<float> want = RunOn("interp", data, reduce);
  const std::vector<float> got = RunOn("cpu", data, reduce);
  ASSERT_EQ(want.size(), got.size());
  int nans = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    nans += std::isnan(want[i]);
    EXPECT_EQ(UlpDistance(got[i], want[i]), 0) << i << ": cpu " << got[i] << " vs " << want[i];
  }
  EXPECT_GT(nans, 10);
  EXPECT_LT(nans, static_cast<int>(want.size()) - 10);
}

// Softmax rows: a NaN makes its row NaN; the others agree with interp although the cpu
// kernel multiplies by the reciprocal of the row sum.
TEST(CpuMathTest, SoftmaxWithReciprocalAndNanRows) {
  std::mt19937 rng(11);
  std::normal_distribution<float> normal(0.0f, 4.0f);
  const int64_t rows = 64, cols = 777;
  std::vector<float> data(rows * cols);
  for (float& v : data) v = normal(rng);
  data[3 * cols + 100] = kNan;
  data[9 * cols] = kInf;
  const auto fn = [&](const Tensor& flat) { return softmax(reshape(flat, {rows, cols}), 1); };
  const std::vector<float> want = RunOn("interp", data, fn);
  const std::vector<float> got = RunOn("cpu", data, fn);
  ASSERT_EQ(want.size(), got.size());
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t c = 0; c < cols; ++c) {
      const float w = want[r * cols + c], g = got[r * cols + c];
      if (std::isnan(w)) {
        EXPECT_TRUE(std::isnan(g)) << r << "," << c;
      } else {
        EXPECT_NEAR(g, w, 2e-6 * std::fabs(w) + 1e-30) << r << "," << c;
      }
    }
  }
  EXPECT_TRUE(std::isnan(got[3 * cols]));
}

}  // namespace
}  // namespace kiln
