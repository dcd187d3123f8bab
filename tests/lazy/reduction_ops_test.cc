#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "lazy/composite_ops.h"
#include "lazy/creation.h"
#include "lazy/generator.h"
#include "lazy/ops.h"
#include "lazy/tensor.h"
#include "tests/lazy/op_test_util.h"

namespace kiln {
namespace {

using ::kiln::testing::ErrorOf;
using ::kiln::testing::Near;
using ::testing::DoubleNear;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

using ::kiln::testing::Matrix;

TEST(ReductionOpsTest, SumOverAxes) {
  Tensor x = Matrix();
  EXPECT_THAT(sum(x, {0}).to_vector<float>(), ElementsAre(5, 7, 9));
  EXPECT_THAT(sum(x, {1}).to_vector<float>(), ElementsAre(6, 15));
  EXPECT_THAT(sum(x, {-1}).to_vector<float>(), ElementsAre(6, 15));
  EXPECT_DOUBLE_EQ(sum(x).item(), 21);
  EXPECT_EQ(sum(x).shape().ToString(), "f32[]");
  EXPECT_DOUBLE_EQ(sum(x, {1, 0}).item(), 21);
  EXPECT_DOUBLE_EQ(x.sum({-2, -1}).item(), 21);
}

TEST(ReductionOpsTest, KeepDim) {
  Tensor x = Matrix();
  Tensor s = sum(x, {1}, /*keepdim=*/true);
  EXPECT_EQ(s.shape().ToString(), "f32[2,1]");
  EXPECT_THAT(s.to_vector<float>(), ElementsAre(6, 15));
  EXPECT_EQ(sum(x, {}, true).shape().ToString(), "f32[1,1]");
  EXPECT_EQ(x.max({0}, true).shape().ToString(), "f32[1,3]");
}

TEST(ReductionOpsTest, SumOfBoolAndIntegersIsI64) {
  Tensor b = Tensor::from_vector<bool>({true, false, true, true}, {4});
  Tensor count = sum(b);
  EXPECT_EQ(count.dtype(), DType::kI64);
  EXPECT_EQ(count.item(), 3);
  Tensor i = Tensor::from_vector<int32_t>({2000000000, 2000000000}, {2});
  EXPECT_EQ(sum(i).dtype(), DType::kI64);
  // Would overflow in i32.
  EXPECT_THAT(sum(i).to_vector<int64_t>(), ElementsAre(int64_t{4000000000}));
  Tensor d = Tensor::from_vector<double>({0.5, 0.25}, {2});
  EXPECT_EQ(sum(d).dtype(), DType::kF64);
}

TEST(ReductionOpsTest, ProdAsTorch) {
  Tensor x = Matrix();
  EXPECT_THAT(prod(x, {0}).to_vector<float>(), ElementsAre(4, 10, 18));
  EXPECT_THAT(prod(x, {-1}).to_vector<float>(), ElementsAre(6, 120));
  EXPECT_DOUBLE_EQ(prod(x).item(), 720);
  EXPECT_EQ(prod(x).shape().ToString(), "f32[]");
  EXPECT_EQ(x.prod({1}, /*keepdim=*/true).shape().ToString(), "f32[2,1]");
  // Bool and integer products are i64, which an i32 product would overflow.
  Tensor i = Tensor::from_vector<int32_t>({100000, -100000, 3}, {3});
  EXPECT_EQ(prod(i).dtype(), DType::kI64);
  EXPECT_EQ(prod(i).to_vector<int64_t>(), std::vector<int64_t>{-30000000000});
  Tensor b = Tensor::from_vector<bool>({true, true, true, false}, {2, 2});
  EXPECT_THAT(prod(b, {1}).to_vector<int64_t>(), ElementsAre(1, 0));
  // NaN wins over 0; an infinity stays.
  Tensor special = Tensor::from_vector<float>({NAN, 0, -2, INFINITY}, {2, 2});
  const std::vector<float> p = prod(special, {1}).to_vector<float>();
  EXPECT_TRUE(std::isnan(p[0]));
  EXPECT_EQ(p[1], -INFINITY);
  // The product of nothing is 1.
  Tensor empty = Tensor::from_vector<float>({}, {2, 0});
  EXPECT_THAT(prod(empty, {1}).to_vector<float>(), ElementsAre(1, 1));
  EXPECT_THAT(ErrorOf([&] { prod(x, {2}); }),
              HasSubstr("prod: dimension 2 is out of range for f32[2,3] (expected -2..1)"));
}

TEST(ReductionOpsTest, Mean) {
  Tensor x = Matrix();
  EXPECT_THAT(mean(x, {0}).to_vector<float>(), Near({2.5f, 3.5f, 4.5f}));
  EXPECT_THAT(x.mean({1}).to_vector<float>(), Near({2, 5}));
  EXPECT_NEAR(mean(x).item(), 3.5, 1e-6);
  EXPECT_THAT(ErrorOf([] {
                mean(Tensor::from_vector<int64_t>({1, 2, 3}, {3}));
              }),
              HasSubstr("mean: expected a floating dtype, got i64[3]; cast first"));
}

TEST(ReductionOpsTest, VarianceUnbiasedAndPopulation) {
  // Values around a large mean: the two-pass form keeps them exact in f64.
  const std::vector<double> v = {1e6 + 1, 1e6 + 2, 1e6 + 4, 1e6 + 7, 1e6 + 1, 1e6 + 3};
  Tensor x = Tensor::from_vector<double>(v, {2, 3});
  // Rows {1,2,4}+1e6 and {7,1,3}+1e6: means 7/3 and 11/3 (offsets), sums of squares 14/3
  // and 56/3.
  EXPECT_THAT(var(x, {1}).to_vector<double>(), ElementsAre(::testing::DoubleNear(7.0 / 3, 1e-9),
                                                           ::testing::DoubleNear(28.0 / 3, 1e-9)));
  EXPECT_THAT(
      var(x, {-1}, /*keepdim=*/true, /*correction=*/0).to_vector<double>(),
      ElementsAre(::testing::DoubleNear(14.0 / 9, 1e-9), ::testing::DoubleNear(56.0 / 9, 1e-9)));
  EXPECT_EQ(var(x, {-1}, true).shape().ToString(), "f64[2,1]");
  // Over everything: offsets {1,2,4,7,1,3}, mean 3, squared deviations sum 26; 26 / 5.
  EXPECT_NEAR(var(x).item(), 26.0 / 5, 1e-9);
  Tensor f = Tensor::from_vector<float>({2, 4, 4, 4, 5, 5, 7, 9}, {8});
  EXPECT_NEAR(var(f, {}, false, 0).item(), 4.0, 1e-6);  // the textbook example: sd 2
  // One value with correction 1: 0 / 0, NaN as in torch.
  EXPECT_TRUE(std::isnan(var(Tensor::from_vector<float>({3}, {1})).item()));
  EXPECT_THAT(ErrorOf([] {
                var(Tensor::from_vector<int32_t>({1, 2}, {2}));
              }),
              HasSubstr("var: expected a floating dtype, got i32[2]; cast first"));
  EXPECT_THAT(ErrorOf([&] { var(x, {0}, false, -1); }),
              HasSubstr("var: expected a correction >= 0, got -1"));
}

// Sequential running sums along `dim` of a row-major [rows, n] or [n, cols] matrix.
std::vector<double> HostCumsum(const std::vector<double>& v, int64_t rows, int64_t cols,
                               int64_t dim) {
  std::vector<double> out = v;
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t c = 0; c < cols; ++c) {
      const int64_t at = r * cols + c;
      const int64_t before = dim == 1 ? at - 1 : at - cols;
      if ((dim == 1 ? c : r) > 0) out[at] += out[before];
    }
  }
  return out;
}

TEST(ReductionOpsTest, CumsumAsTorch) {
  Generator gen(31);
  // One masked sum (n <= 64) and blocks of about sqrt(n), the last one partly padding.
  for (int64_t n : {1, 64, 65, 1000}) {
    for (int64_t dim : {0, 1}) {
      const int64_t rows = dim == 0 ? n : 3;
      const int64_t cols = dim == 0 ? 4 : n;
      for (DType dtype : {DType::kF32, DType::kF64}) {
        Tensor x = randn({rows, cols}, gen, dtype);
        const std::vector<double> v = cast(x, DType::kF64).to_vector<double>();
        const std::vector<double> want = HostCumsum(v, rows, cols, dim);
        Tensor y = cumsum(x, dim - 2);  // negative dims count from the end
        ASSERT_EQ(y.shape(), x.shape());
        const std::vector<double> got = cast(y, DType::kF64).to_vector<double>();
        const double tol = dtype == DType::kF32 ? 1e-4 * std::sqrt(double(n)) : 1e-12 * n;
        for (size_t k = 0; k < want.size(); ++k) {
          ASSERT_NEAR(got[k], want[k], tol) << "n=" << n << " dim=" << dim << " at " << k;
        }
      }
    }
  }
  // Integers and bool are summed in i64, exactly.
  Tensor big = Tensor::from_vector<int32_t>({2000000000, 2000000000, -7, 1}, {4});
  Tensor ints = cumsum(big, 0);
  EXPECT_EQ(ints.dtype(), DType::kI64);
  EXPECT_THAT(ints.to_vector<int64_t>(),
              ElementsAre(2000000000, 4000000000, 3999999993, 3999999994));
  Tensor flags = Tensor::from_vector<bool>({true, false, true, true}, {2, 2});
  EXPECT_THAT(cumsum(flags, 1).to_vector<int64_t>(), ElementsAre(1, 1, 1, 2));
  // Long integer rows take the blocked path; still exact.
  std::vector<int64_t> seq(300);
  for (int64_t k = 0; k < 300; ++k) seq[k] = (k * 7919) % 1001 - 500;
  std::vector<int64_t> running(seq);
  for (size_t k = 1; k < running.size(); ++k) running[k] += running[k - 1];
  EXPECT_EQ(cumsum(Tensor::from_vector<int64_t>(seq, {300}), 0).to_vector<int64_t>(), running);
  // Empty along or across the dimension.
  EXPECT_EQ(cumsum(zeros({0, 3}), 0).shape().ToString(), "f32[0,3]");
  EXPECT_EQ(cumsum(zeros({2, 0}), 0).shape().ToString(), "f32[2,0]");
  // NaN and inf propagate forward only.
  Tensor special = Tensor::from_vector<float>({1, NAN, 2, 3, INFINITY, 1}, {2, 3});
  std::vector<float> s = cumsum(special, 1).to_vector<float>();
  EXPECT_EQ(s[0], 1);
  EXPECT_TRUE(std::isnan(s[1]) && std::isnan(s[2]));
  EXPECT_EQ(s[3], 3);
  EXPECT_EQ(s[4], INFINITY);
  EXPECT_EQ(s[5], INFINITY);
}

// Sequential running products along the last dimension of a row-major [rows, n] matrix.
std::vector<double> HostCumprod(const std::vector<double>& v, int64_t n) {
  std::vector<double> out = v;
  for (size_t at = 0; at < out.size(); ++at) {
    if (at % n > 0) out[at] *= out[at - 1];
  }
  return out;
}

TEST(ReductionOpsTest, CumprodAsTorch) {
  Generator gen(32);
  // One masked product (n <= 64) and blocks of about sqrt(n), the last one partly padding.
  // Factors near 1 of either sign keep long products near 1; some are 0.
  for (int64_t n : {1, 64, 65, 700}) {
    std::vector<double> v;
    for (int64_t k = 0; k < 3 * n; ++k) {
      const double magnitude = 0.9 + 0.2 * gen.NextDouble();
      v.push_back(gen.NextBelow(50) == 0 ? 0 : gen.NextBelow(2) == 0 ? magnitude : -magnitude);
    }
    const std::vector<double> want = HostCumprod(v, n);
    for (DType dtype : {DType::kF32, DType::kF64}) {
      Tensor x = cast(Tensor::from_vector<double>(v, {3, n}), dtype);
      const std::vector<double> rows = cast(cumprod(x, -1), DType::kF64).to_vector<double>();
      // Along dim 0 of the transpose: the same values, transposed back.
      const std::vector<double> columns =
          cast(cumprod(x.transpose(0, 1), 0).transpose(0, 1), DType::kF64).to_vector<double>();
      const double tol = dtype == DType::kF32 ? 1e-5 * std::sqrt(double(n)) : 1e-12 * n;
      for (size_t k = 0; k < want.size(); ++k) {
        ASSERT_NEAR(rows[k], want[k], tol) << "n=" << n << " at " << k;
        ASSERT_NEAR(columns[k], want[k], tol) << "n=" << n << " at " << k;
      }
    }
  }
  // Integers and bool are multiplied in i64.
  Tensor ints = cumprod(Tensor::from_vector<int32_t>({100000, 100000, -3, 0, 5}, {5}), 0);
  EXPECT_EQ(ints.dtype(), DType::kI64);
  EXPECT_THAT(ints.to_vector<int64_t>(), ElementsAre(100000, 10000000000, -30000000000, 0, 0));
  EXPECT_THAT(
      cumprod(Tensor::from_vector<bool>({true, true, false, true}, {4}), 0).to_vector<int64_t>(),
      ElementsAre(1, 1, 0, 0));
  EXPECT_THAT(ErrorOf([] {
                cumprod(Tensor::from_vector<float>({1, 2}, {2}), 1);
              }),
              HasSubstr("cumprod: dimension 1 is out of range for f32[2]"));
}

TEST(ReductionOpsTest, MaxAndMin) {
  Tensor x = Tensor::from_vector<float>({3, -1, 7, 2, 9, -5}, {2, 3});
  EXPECT_THAT(max(x, {1}).to_vector<float>(), ElementsAre(7, 9));
  EXPECT_THAT(min(x, {1}).to_vector<float>(), ElementsAre(-1, -5));
  EXPECT_THAT(x.max({0}).to_vector<float>(), ElementsAre(3, 9, 7));
  EXPECT_THAT(x.min({-2}).to_vector<float>(), ElementsAre(2, -1, -5));
  EXPECT_DOUBLE_EQ(x.max().item(), 9);
  EXPECT_DOUBLE_EQ(x.min().item(), -5);
  Tensor i = Tensor::from_vector<int32_t>({4, -2}, {2});
  EXPECT_EQ(max(i).dtype(), DType::kI32);
  EXPECT_EQ(max(i).item(), 4);
  // bool max is "any", min is "all"; the result stays bool.
  Tensor b = Tensor::from_vector<bool>({false, true, false, false}, {2, 2});
  EXPECT_EQ(max(b, {1}).dtype(), DType::kBool);
  EXPECT_THAT(max(b, {1}).to_vector<bool>(), ElementsAre(true, false));
  EXPECT_THAT(min(b, {0}).to_vector<bool>(), ElementsAre(false, false));
}

TEST(ReductionOpsTest, Argmax) {
  Tensor x = Tensor::from_vector<float>({3, 9, 9, 2, 1, 8}, {2, 3});
  Tensor by_row = argmax(x, 1);
  EXPECT_EQ(by_row.dtype(), DType::kI64);
  // The first maximum wins.
  EXPECT_THAT(by_row.to_vector<int64_t>(), ElementsAre(1, 2));
  EXPECT_THAT(argmax(x, 0).to_vector<int64_t>(), ElementsAre(0, 0, 0));
  EXPECT_THAT(x.argmax(-1, true).to_vector<int64_t>(), ElementsAre(1, 2));
  EXPECT_EQ(x.argmax(-1, true).shape().ToString(), "i64[2,1]");
  // No dim: index into the flattened tensor.
  Tensor flat = argmax(x);
  EXPECT_EQ(flat.shape().ToString(), "i64[]");
  EXPECT_EQ(flat.item(), 1);
  Tensor y = Tensor::from_vector<int32_t>({1, 2, 3, 10, 4, 5}, {3, 2});
  EXPECT_EQ(argmax(y).item(), 3);
  Tensor kept = argmax(y, std::nullopt, /*keepdim=*/true);
  EXPECT_EQ(kept.shape().ToString(), "i64[1,1]");
  EXPECT_THAT(kept.to_vector<int64_t>(), ElementsAre(3));
  EXPECT_EQ(argmax(Tensor::from_vector<bool>({false, true}, {2})).item(), 1);
}

TEST(ReductionOpsTest, Argmin) {
  Tensor x = Tensor::from_vector<float>({3, 1, 1, 2, 8, 0}, {2, 3});
  EXPECT_THAT(argmin(x, 1).to_vector<int64_t>(), ElementsAre(1, 2));  // the first minimum
  EXPECT_THAT(argmin(x, 0, /*keepdim=*/true).to_vector<int64_t>(), ElementsAre(1, 0, 1));
  EXPECT_EQ(argmin(x).item(), 5);
  // A NaN counts as the minimum (torch); -0 and 0 are equal.
  EXPECT_EQ(argmin(Tensor::from_vector<float>({1, NAN, -INFINITY}, {3})).item(), 1);
  EXPECT_EQ(argmin(Tensor::from_vector<float>({0.0f, -0.0f}, {2})).item(), 0);
  // Integers at the ends of their range, and bool.
  EXPECT_EQ(argmin(Tensor::from_vector<int32_t>({5, INT32_MIN, INT32_MAX}, {3})).item(), 1);
  EXPECT_EQ(argmin(Tensor::from_vector<int64_t>({INT64_MAX, 7, INT64_MIN}, {3})).item(), 2);
  EXPECT_EQ(argmin(Tensor::from_vector<bool>({true, false, false}, {3})).item(), 1);
  EXPECT_THAT(ErrorOf([&] {
                argmin(Tensor::from_vector<float>({}, {2, 0}), 1);
              }),
              HasSubstr("argmin: cannot reduce over dimension 1 of f32[2,0], which has size 0"));
  EXPECT_THAT(ErrorOf([&] { argmin(Tensor::from_vector<float>({}, {0})); }),
              HasSubstr("argmin: cannot take the argmin of f32[0], which is empty"));
}

TEST(ReductionOpsTest, Logsumexp) {
  Tensor x = Tensor::from_vector<float>({1, 2, 3, 1000, 1000, -5}, {2, 3});
  const float row0 = static_cast<float>(std::log(std::exp(1.0) + std::exp(2.0) + std::exp(3.0)));
  const float row1 = static_cast<float>(1000 + std::log(2 + std::exp(-1005.0)));
  EXPECT_THAT(logsumexp(x, {1}).to_vector<float>(), Near({row0, row1}));  // no overflow
  EXPECT_EQ(logsumexp(x, {-1}, /*keepdim=*/true).shape().ToString(), "f32[2,1]");
  EXPECT_EQ(logsumexp(x).shape().ToString(), "f32[]");
  EXPECT_NEAR(logsumexp(x).item(), 1000 + std::log(2.0), 1e-3);
  // Rows of -inf, with +inf and with NaN; an empty sum is -inf; integers compute in f32.
  Tensor special = Tensor::from_vector<float>({-INFINITY, -INFINITY, 1, INFINITY, NAN, 0}, {3, 2});
  const std::vector<float> s = logsumexp(special, {1}).to_vector<float>();
  EXPECT_EQ(s[0], -INFINITY);
  EXPECT_EQ(s[1], INFINITY);
  EXPECT_TRUE(std::isnan(s[2]));
  EXPECT_THAT(logsumexp(Tensor::from_vector<float>({}, {2, 0}), {1}).to_vector<float>(),
              ElementsAre(-INFINITY, -INFINITY));
  Tensor ints = logsumexp(Tensor::from_vector<int32_t>({0, 0}, {2}));
  EXPECT_EQ(ints.dtype(), DType::kF32);
  EXPECT_NEAR(ints.item(), std::log(2.0), 1e-6);
}

TEST(ReductionOpsTest, StdIsTheRootOfVarWithTorchsGradientAtZero) {
  Tensor x = Tensor::from_vector<double>({1, 2, 4, 7, 7, 7}, {2, 3});
  const std::vector<double> s = std::vector<double>{std::sqrt(7.0 / 3), 0};
  EXPECT_THAT(std(x, {1}).to_vector<double>(), ElementsAre(DoubleNear(s[0], 1e-12), 0.0));
  EXPECT_NEAR(std(x, {1}, false, 0).to_vector<double>()[0], std::sqrt(14.0 / 9), 1e-12);
  EXPECT_EQ(std(x, {}, true).shape().ToString(), "f64[1,1]");
  // The row of equal values has zero variance: its gradient is 0 (torch), not NaN.
  x.requires_grad_();
  sum(std(x, {1})).backward();
  const std::vector<double> g = x.grad().to_vector<double>();
  const double mean = 7.0 / 3;
  for (int j = 0; j < 3; ++j) {
    const double xj = std::vector<double>{1, 2, 4}[j];
    EXPECT_NEAR(g[j], (xj - mean) / (2 * s[0]), 1e-12);  // (x - mean) / ((n - 1) std)
  }
  EXPECT_THAT(std::vector<double>(g.begin() + 3, g.end()), ElementsAre(0.0, 0.0, 0.0));
}

TEST(ReductionOpsTest, AnyAndAll) {
  Tensor x = Tensor::from_vector<float>({0, 0, 0, 0, NAN, 2}, {2, 3});
  EXPECT_THAT(any(x, {1}).to_vector<bool>(), ElementsAre(false, true));  // NaN is non-zero
  EXPECT_THAT(all(x, {0}).to_vector<bool>(), ElementsAre(false, false, false));
  EXPECT_THAT(all(x, {1}, /*keepdim=*/true).to_vector<bool>(), ElementsAre(false, false));
  EXPECT_EQ(all(x, {1}, /*keepdim=*/true).shape().ToString(), "bool[2,1]");
  EXPECT_TRUE(any(x).to_vector<bool>()[0]);
  Tensor i = Tensor::from_vector<int64_t>({int64_t{1} << 40, -1, 3, 0}, {2, 2});
  EXPECT_THAT(all(i, {1}).to_vector<bool>(), ElementsAre(true, false));
  EXPECT_THAT(
      any(Tensor::from_vector<bool>({false, true, false, false}, {2, 2}), {0}).to_vector<bool>(),
      ElementsAre(false, true));
  // Nothing to reduce: any is false, all is true.
  Tensor empty = Tensor::from_vector<float>({}, {2, 0});
  EXPECT_THAT(any(empty, {1}).to_vector<bool>(), ElementsAre(false, false));
  EXPECT_THAT(all(empty, {1}).to_vector<bool>(), ElementsAre(true, true));
}

TEST(ReductionOpsTest, EmptyDimensions) {
  Tensor empty = Tensor::from_vector<float>({}, {2, 0});
  Tensor s = sum(empty, {1});
  EXPECT_EQ(s.shape().ToString(), "f32[2]");
  EXPECT_THAT(s.to_vector<float>(), ElementsAre(0, 0));
  Tensor rows = sum(empty, {0});
  EXPECT_EQ(rows.shape().ToString(), "f32[0]");
  EXPECT_TRUE(rows.to_vector<float>().empty());
  EXPECT_THAT(ErrorOf([&] { max(empty, {1}); }),
              HasSubstr("max: cannot reduce over dimension 1 of f32[2,0], which has size 0"));
  EXPECT_THAT(ErrorOf([&] { argmax(empty); }),
              HasSubstr("argmax: cannot take the argmax of f32[2,0]"));
}

TEST(ReductionOpsTest, ZeroDimInput) {
  Tensor s = Tensor::from_vector<float>({2.5f}, {});
  EXPECT_DOUBLE_EQ(sum(s).item(), 2.5);
  EXPECT_DOUBLE_EQ(max(s).item(), 2.5);
  EXPECT_EQ(argmax(s).item(), 0);
}

TEST(ReductionOpsTest, AxisErrors) {
  Tensor x = Matrix();
  EXPECT_THAT(ErrorOf([&] { sum(x, {3}); }),
              HasSubstr("sum: dimension 3 is out of range for f32[2,3] (expected -2..1)"));
  EXPECT_THAT(ErrorOf([&] { max(x, {-3}); }),
              HasSubstr("max: dimension -3 is out of range for f32[2,3] (expected -2..1)"));
  EXPECT_THAT(ErrorOf([&] {
                sum(x, {1, -1});
              }),
              HasSubstr("sum: dimension 1 appears more than once in [1,-1] for f32[2,3]"));
  EXPECT_THAT(ErrorOf([&] { argmax(x, 2); }),
              HasSubstr("argmax: dimension 2 is out of range for f32[2,3]"));
}

}  // namespace
}  // namespace kiln
