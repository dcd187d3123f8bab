// KILN_CHECK_NAN=1 (backends/nan_check.h) on the default device: the run stops at the
// first kernel (interp: node) that writes a NaN or infinity, or at an argument that holds
// one, with an error naming it and its IR; every tensor keeps its pending IR.
#include <cmath>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lazy/graph_executor.h"
#include "lazy/kiln.h"
#include "util/config.h"
#include "util/error.h"

namespace kiln {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

class CheckNanTest : public ::testing::Test {
 protected:
  // The setting is read when a graph compiles, so no executable compiled without it may
  // be reused.
  void SetUp() override {
    cfg_->check_nan = true;
    clear_compile_cache();
  }
  void TearDown() override { clear_compile_cache(); }

  // The message of the error mark_step throws.
  static std::string MarkStepError() {
    try {
      mark_step();
    } catch (const Error& e) {
      return e.what();
    }
    ADD_FAILURE() << "mark_step did not throw";
    return "";
  }

  static bool OnInterp() { return config().device == "interp"; }

  ScopedConfigOverride cfg_;
};

TEST_F(CheckNanTest, NamesTheKernelAndElementOfTheFirstNan) {
  const Tensor x = Tensor::from_vector<float>({2.5f, 3.0f, -3.25f, 4.0f, 5.5f, 6.0f}, {2, 3});
  Tensor y = (x - 1.0).log() * 2.0;  // log(-4.25) at element [0,2]
  Tensor total = y.sum();
  const std::string message = MarkStepError();
  EXPECT_THAT(message, StartsWith("mark_step: KILN_CHECK_NAN: "));
  EXPECT_THAT(message, HasSubstr("nan at element [0,2] of %"));
  EXPECT_THAT(message, HasSubstr("(the first of 1 non-finite elements of 6)"));
  EXPECT_THAT(message, HasSubstr("f32[2,3] log(%"));
  if (OnInterp()) {
    EXPECT_THAT(message, HasSubstr("interp wrote nan at element [0,2] of %"));
  } else {
    // The kernel fuses sub, log, mul (and the sum) and stores the mul; its members are listed.
    EXPECT_THAT(message, HasSubstr("KILN_CHECK_NAN: kernel kiln_k"));
    EXPECT_THAT(message, HasSubstr("f32[2,3] mul(%"));
    EXPECT_THAT(message, HasSubstr("; the kernel computes:\n  %"));
  }
  // Nothing half-updated: both results still pending, the input still readable.
  EXPECT_TRUE(y.is_pending());
  EXPECT_TRUE(total.is_pending());
  EXPECT_EQ(x.to_vector<float>()[2], -3.25f);

  // With the check off the same tensors run, the NaN where it was reported.
  cfg_->check_nan = false;
  clear_compile_cache();
  mark_step();
  const std::vector<float> values = y.to_vector<float>();
  EXPECT_TRUE(std::isnan(values[2]));
  EXPECT_FLOAT_EQ(values[0], 2 * std::log(1.5f));
  EXPECT_TRUE(std::isnan(total.item()));
}

TEST_F(CheckNanTest, ReportsInfinities) {
  const Tensor x = Tensor::from_vector<double>({0.5, 800.0, -1.0}, {3});
  Tensor y = x.exp();  // e^800 overflows double
  const std::string message = MarkStepError();
  EXPECT_THAT(message, HasSubstr(" inf at element [1] of %"));
  EXPECT_THAT(message, HasSubstr("f64[3] exp(%"));
  EXPECT_TRUE(y.is_pending());
}

TEST_F(CheckNanTest, ANanInTheDataIsTheArgumentsNotAKernels) {
  const Tensor x = Tensor::from_vector<float>({1.5f, std::nanf(""), -2.0f}, {3});
  Tensor y = x * 3.0;
  const std::string message = MarkStepError();
  EXPECT_THAT(message, HasSubstr("holds nan at element [1] of %"));
  EXPECT_THAT(message, HasSubstr("f32[3] device_data()"));
  EXPECT_THAT(message, Not(HasSubstr("wrote")));
  EXPECT_TRUE(y.is_pending());
}

TEST_F(CheckNanTest, FiniteRunsAndIntegerValuesPass) {
  const Tensor x = Tensor::from_vector<float>({1.25f, -2.0f, 3.5f, 0.75f}, {2, 2});
  const Tensor i = Tensor::from_vector<int64_t>({7, -3}, {2});
  Tensor y = (x.exp() + 1.0).log().matmul(x);
  Tensor j = i * int64_t{5};
  mark_step();
  for (float v : y.to_vector<float>()) EXPECT_TRUE(std::isfinite(v));
  EXPECT_EQ(j.to_vector<int64_t>(), (std::vector<int64_t>{35, -15}));
}

TEST_F(CheckNanTest, OffByDefault) {
  std::vector<std::string> warnings;
  EXPECT_FALSE(ParseConfig({}, &warnings).check_nan);
}

}  // namespace
}  // namespace kiln
