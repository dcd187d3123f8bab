// Every op's backward formula against central finite differences, in f64, on random
// inputs and shapes (with broadcasting and size-1 dimensions). Inputs are kept away from
// the points where an op has no derivative; ties and those points get their own tests
// with the expected values written out.
#include <gmock/gmock.h>
#include <gtest/gtest-spi.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <functional>
#include <numbers>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "lazy/composite_ops.h"
#include "lazy/creation.h"
#include "lazy/generator.h"
#include "lazy/grad_mode.h"
#include "lazy/nn_attention.h"
#include "lazy/nn_batch_norm.h"
#include "lazy/nn_conv.h"
#include "lazy/nn_functional.h"
#include "lazy/nn_group_norm.h"
#include "lazy/nn_loss.h"
#include "lazy/nn_pool.h"
#include "lazy/ops.h"
#include "lazy/tensor.h"

namespace kiln {
namespace {

using ::testing::DoubleNear;
using ::testing::ElementsAreArray;
using ::testing::Matcher;

// Where an input's values are drawn from.
enum class Domain {
  kNormal,        // standard normal
  kPositive,      // [0.5, 2): log, sqrt, rsqrt, the base of pow
  kAwayFromZero,  // |x| in [0.2, 1.2): abs, relu, divisors
};

// Host values of one f64 input.
struct Input {
  std::vector<int64_t> sizes;
  std::vector<double> values;
};

int64_t Numel(const std::vector<int64_t>& sizes) {
  int64_t n = 1;
  for (int64_t s : sizes) n *= s;
  return n;
}

Input Random(Generator& gen, std::vector<int64_t> sizes, Domain domain = Domain::kNormal) {
  Input in{std::move(sizes), {}};
  const int64_t n = Numel(in.sizes);
  for (int64_t i = 0; i < n; ++i) {
    switch (domain) {
      case Domain::kNormal:
        in.values.push_back(gen.NextNormal());
        break;
      case Domain::kPositive:
        in.values.push_back(0.5 + 1.5 * gen.NextDouble());
        break;
      case Domain::kAwayFromZero: {
        const double magnitude = 0.2 + gen.NextDouble();
        in.values.push_back(gen.NextBelow(2) == 0 ? magnitude : -magnitude);
        break;
      }
    }
  }
  return in;
}

// Sizes of rank `rank`, each in [1, max_size]: size-1 dimensions come up often.
std::vector<int64_t> RandomSizes(Generator& gen, int64_t rank, int64_t max_size = 3) {
  std::vector<int64_t> sizes;
  for (int64_t d = 0; d < rank; ++d) sizes.push_back(1 + gen.NextBelow(max_size));
  return sizes;
}

// Sizes that broadcast to `out`: some leading dimensions dropped, some others set to 1.
std::vector<int64_t> BroadcastableTo(Generator& gen, const std::vector<int64_t>& out) {
  const size_t drop = gen.NextBelow(out.size() + 1);
  std::vector<int64_t> sizes(out.begin() + drop, out.end());
  for (int64_t& s : sizes) {
    if (gen.NextBelow(3) == 0) s = 1;
  }
  return sizes;
}

Tensor Upload(const Input& in) { return Tensor::from_vector<double>(in.values, in.sizes); }

Tensor Indices(std::vector<int64_t> values, std::vector<int64_t> sizes) {
  return Tensor::from_vector<int64_t>(values, std::move(sizes));
}

// `count` indices in [0, bound), duplicates likely.
std::vector<int64_t> RandomIndices(Generator& gen, int64_t count, int64_t bound) {
  std::vector<int64_t> out;
  for (int64_t i = 0; i < count; ++i) out.push_back(static_cast<int64_t>(gen.NextBelow(bound)));
  return out;
}

using Fn = std::function<Tensor(const std::vector<Tensor>&)>;

constexpr double kEps = 1e-6;
constexpr double kTolerance = 1e-5;

// sum(f(inputs) * r), computed without recording gradients.
double Objective(const Fn& f, const std::vector<Input>& inputs, const Tensor& r) {
  NoGradGuard no_grad;
  std::vector<Tensor> xs;
  for (const Input& in : inputs) xs.push_back(Upload(in));
  return sum(mul(f(xs), r)).item();
}

// Checks the gradients that backward() records for every input of `f` against central
// differences of L = sum(f(x) * r), with r random so that every output element counts
// with a different weight.
void GradCheck(const Fn& f, std::vector<Input> inputs, Generator& gen) {
  std::vector<Tensor> leaves;
  for (const Input& in : inputs) leaves.push_back(Upload(in).requires_grad_());
  Tensor y = f(leaves);
  ASSERT_EQ(y.dtype(), DType::kF64) << y.ToString();
  ASSERT_TRUE(y.requires_grad()) << y.ToString();
  std::vector<int64_t> out_sizes(y.sizes().begin(), y.sizes().end());
  const Tensor r = Upload(Random(gen, out_sizes));
  sum(mul(y, r)).backward();

  for (size_t i = 0; i < inputs.size(); ++i) {
    SCOPED_TRACE(absl::StrCat("input ", i, " ", leaves[i].shape().ToString()));
    const Tensor grad = leaves[i].grad();
    std::vector<double> analytic(inputs[i].values.size(), 0.0);
    if (grad.defined()) {
      ASSERT_EQ(grad.shape().ToString(), leaves[i].shape().ToString());
      analytic = grad.to_vector<double>();
    }
    int mismatches = 0;
    for (size_t j = 0; j < analytic.size() && mismatches < 5; ++j) {
      std::vector<Input> moved = inputs;
      moved[i].values[j] = inputs[i].values[j] + kEps;
      const double plus = Objective(f, moved, r);
      moved[i].values[j] = inputs[i].values[j] - kEps;
      const double minus = Objective(f, moved, r);
      const double numeric = (plus - minus) / (2 * kEps);
      const bool close = std::abs(analytic[j] - numeric) <= kTolerance * (1 + std::abs(numeric));
      EXPECT_TRUE(close) << "element " << j << " (x = " << inputs[i].values[j] << "): analytic "
                         << analytic[j] << ", numeric " << numeric;
      if (!close) ++mismatches;
    }
  }
}

// The gradient of sum(f(x)) for a leaf with `values`, read back.
std::vector<double> GradOfSum(const std::function<Tensor(const Tensor&)>& f,
                              std::vector<double> values, std::vector<int64_t> sizes) {
  Tensor x = Tensor::from_vector<double>(values, std::move(sizes));
  x.requires_grad_();
  sum(f(x)).backward();
  return x.grad().to_vector<double>();
}

Matcher<std::vector<double>> Near(const std::vector<double>& expected) {
  std::vector<Matcher<double>> each;
  for (double e : expected) each.push_back(DoubleNear(e, 1e-12));
  return ElementsAreArray(each);
}

TEST(AutogradGradcheckTest, TheCheckCatchesAWrongGradient) {
  // x * detach(x) has the value x^2 but records the gradient x instead of 2x (one
  // element, so exactly one mismatch is reported).
  Generator gen(0);
  EXPECT_NONFATAL_FAILURE(
      GradCheck([](const std::vector<Tensor>& x) { return mul(x[0], x[0].detach()); },
                {Random(gen, {1}, Domain::kAwayFromZero)}, gen),
      "analytic");
}

TEST(AutogradGradcheckTest, UnaryOps) {
  struct Case {
    const char* name;
    Tensor (*op)(const Tensor&, CallSite);
    Domain domain;
  };
  const Case cases[] = {
      {"neg", &neg, Domain::kNormal},         {"abs", &abs, Domain::kAwayFromZero},
      {"exp", &exp, Domain::kNormal},         {"log", &log, Domain::kPositive},
      {"sqrt", &sqrt, Domain::kPositive},     {"rsqrt", &rsqrt, Domain::kPositive},
      {"tanh", &tanh, Domain::kNormal},       {"erf", &erf, Domain::kNormal},
      {"sigmoid", &sigmoid, Domain::kNormal}, {"relu", &relu, Domain::kAwayFromZero},
      {"sin", &sin, Domain::kNormal},         {"cos", &cos, Domain::kNormal},
  };
  Generator gen(1);
  for (const Case& c : cases) {
    for (int64_t rank : {0, 1, 2, 3}) {
      SCOPED_TRACE(absl::StrCat(c.name, " rank ", rank));
      GradCheck([&](const std::vector<Tensor>& x) { return c.op(x[0], CallSite()); },
                {Random(gen, RandomSizes(gen, rank), c.domain)}, gen);
    }
  }
}

TEST(AutogradGradcheckTest, BinaryOpsBroadcast) {
  struct Case {
    const char* name;
    Tensor (*op)(const Tensor&, const Tensor&, CallSite);
    Domain a_domain;
    Domain b_domain;
  };
  const Case cases[] = {
      {"add", &add, Domain::kNormal, Domain::kNormal},
      {"sub", &sub, Domain::kNormal, Domain::kNormal},
      {"mul", &mul, Domain::kNormal, Domain::kNormal},
      {"div", &div, Domain::kNormal, Domain::kAwayFromZero},
      {"pow", &pow, Domain::kPositive, Domain::kNormal},
      {"maximum", &maximum, Domain::kNormal, Domain::kNormal},
      {"minimum", &minimum, Domain::kNormal, Domain::kNormal},
  };
  Generator gen(2);
  for (const Case& c : cases) {
    for (int trial = 0; trial < 6; ++trial) {
      const std::vector<int64_t> out = RandomSizes(gen, 1 + gen.NextBelow(3));
      Input a = Random(gen, BroadcastableTo(gen, out), c.a_domain);
      Input b = Random(gen, BroadcastableTo(gen, out), c.b_domain);
      // Alternate which operand is the broadcast one.
      if (trial % 3 == 1) b = Random(gen, out, c.b_domain);
      if (trial % 3 == 2) a = Random(gen, out, c.a_domain);
      SCOPED_TRACE(absl::StrCat(c.name, " trial ", trial));
      GradCheck([&](const std::vector<Tensor>& x) { return c.op(x[0], x[1], CallSite()); }, {a, b},
                gen);
    }
  }
}

TEST(AutogradGradcheckTest, BinaryOpsWithTheSameOperandTwice) {
  Generator gen(3);
  GradCheck([](const std::vector<Tensor>& x) { return mul(x[0], x[0]); }, {Random(gen, {2, 3})},
            gen);
  GradCheck([](const std::vector<Tensor>& x) { return pow(x[0], x[0]); },
            {Random(gen, {3}, Domain::kPositive)}, gen);
  GradCheck([](const std::vector<Tensor>& x) { return div(x[0], sqrt(x[0])); },
            {Random(gen, {4}, Domain::kPositive)}, gen);
}

TEST(AutogradGradcheckTest, ScalarOperands) {
  Generator gen(4);
  // An integer power of a negative base has a finite gradient in the base.
  GradCheck([](const std::vector<Tensor>& x) { return pow(x[0], Scalar(3)); },
            {Random(gen, {2, 3}, Domain::kAwayFromZero)}, gen);
  GradCheck([](const std::vector<Tensor>& x) { return pow(x[0], Scalar(-1.5)); },
            {Random(gen, {3}, Domain::kPositive)}, gen);
  GradCheck([](const std::vector<Tensor>& x) { return div(Scalar(2.0), x[0]); },
            {Random(gen, {3}, Domain::kAwayFromZero)}, gen);
  GradCheck([](const std::vector<Tensor>& x) { return sub(Scalar(1.0), mul(x[0], 3.0)); },
            {Random(gen, {2, 1})}, gen);
}

TEST(AutogradGradcheckTest, PowAtAZeroBaseStaysFinite) {
  // a = [0, 0, 2], b = [2, 0, 0.5].
  Tensor a = Tensor::from_vector<double>({0, 0, 2}, {3});
  Tensor b = Tensor::from_vector<double>({2, 0, 0.5}, {3});
  a.requires_grad_();
  b.requires_grad_();
  sum(pow(a, b)).backward();
  // d/da = b a^(b-1): 0 at (0, 2); 0 at b == 0 (not 0 * 0^-1).
  EXPECT_THAT(a.grad().to_vector<double>(), Near({0, 0, 0.5 / std::sqrt(2.0)}));
  // d/db = a^b log(a): 0 where a == 0 and b >= 0.
  EXPECT_THAT(b.grad().to_vector<double>(), Near({0, 0, std::sqrt(2.0) * std::log(2.0)}));
}

TEST(AutogradGradcheckTest, KinksTakePyTorchsValues) {
  EXPECT_THAT(GradOfSum([](const Tensor& x) { return abs(x); }, {-2, 0, 3}, {3}), Near({-1, 0, 1}));
  EXPECT_THAT(GradOfSum([](const Tensor& x) { return relu(x); }, {-2, 0, 3}, {3}), Near({0, 0, 1}));
}

TEST(AutogradGradcheckTest, MaximumAndMinimumSplitTiesEvenly) {
  for (bool is_max : {true, false}) {
    SCOPED_TRACE(is_max ? "maximum" : "minimum");
    Tensor a = Tensor::from_vector<double>({1, 2, 3}, {3});
    Tensor b = Tensor::from_vector<double>({1, 5, 3}, {3});
    a.requires_grad_();
    b.requires_grad_();
    sum(is_max ? maximum(a, b) : minimum(a, b)).backward();
    EXPECT_THAT(a.grad().to_vector<double>(), Near({0.5, is_max ? 0.0 : 1.0, 0.5}));
    EXPECT_THAT(b.grad().to_vector<double>(), Near({0.5, is_max ? 1.0 : 0.0, 0.5}));
  }
}

TEST(AutogradGradcheckTest, WhereRoutesGradientByTheCondition) {
  Generator gen(5);
  for (int trial = 0; trial < 3; ++trial) {
    const std::vector<int64_t> out = RandomSizes(gen, 3);
    const std::vector<int64_t> cond_sizes = BroadcastableTo(gen, out);
    std::vector<bool> cond_values;
    for (int64_t i = 0; i < Numel(cond_sizes); ++i) cond_values.push_back(gen.NextBelow(2) == 0);
    const Tensor cond = Tensor::from_vector<bool>(cond_values, cond_sizes);
    SCOPED_TRACE(absl::StrCat("trial ", trial));
    GradCheck([&](const std::vector<Tensor>& x) { return where(cond, x[0], x[1]); },
              {Random(gen, BroadcastableTo(gen, out)), Random(gen, out)}, gen);
  }
  // A condition computed from the differentiable input itself.
  GradCheck(
      [](const std::vector<Tensor>& x) { return where(gt(x[0], 0.0), mul(x[0], x[0]), exp(x[0])); },
      {Random(gen, {2, 3}, Domain::kAwayFromZero)}, gen);
  GradCheck([](const std::vector<Tensor>& x) { return where(lt(x[0], 0.0), x[0], Scalar(2.0)); },
            {Random(gen, {4}, Domain::kAwayFromZero)}, gen);
}

TEST(AutogradGradcheckTest, CastSendsTheGradientBackInTheOperandsDType) {
  Tensor x = Tensor::from_vector<float>({1, 2, 3}, {3});
  x.requires_grad_();
  Tensor w = Tensor::from_vector<double>({0.5, -1, 2}, {3});
  sum(mul(cast(x, DType::kF64), w)).backward();
  EXPECT_EQ(x.grad().dtype(), DType::kF32);
  EXPECT_THAT(x.grad().to_vector<float>(), ElementsAreArray({0.5f, -1.0f, 2.0f}));

  Tensor y = Tensor::from_vector<double>({1, 2}, {2});
  y.requires_grad_();
  Tensor y32 = cast(y, DType::kF32);
  sum(mul(y32, y32)).backward();
  EXPECT_EQ(y.grad().dtype(), DType::kF64);
  EXPECT_THAT(y.grad().to_vector<double>(), Near({2, 4}));
}

TEST(AutogradGradcheckTest, Reductions) {
  using Reduce = Tensor (*)(const Tensor&, std::vector<int64_t>, bool, CallSite);
  const std::pair<const char*, Reduce> ops[] = {
      {"sum", &sum}, {"mean", &mean}, {"prod", &prod}, {"max", &max}, {"min", &min}};
  Generator gen(6);
  for (const auto& [name, op] : ops) {
    for (bool keepdim : {false, true}) {
      const std::vector<int64_t> sizes = RandomSizes(gen, 3);
      const std::vector<std::vector<int64_t>> dim_sets = {{}, {1}, {0, 2}, {-1}};
      for (const std::vector<int64_t>& dims : dim_sets) {
        SCOPED_TRACE(absl::StrCat(name, " keepdim ", keepdim, " dims ", dims.size()));
        GradCheck([&](const std::vector<Tensor>& x) { return op(x[0], dims, keepdim, CallSite()); },
                  {Random(gen, sizes)}, gen);
      }
    }
  }
}

TEST(AutogradGradcheckTest, MaxAndMinShareTheGradientAmongTies) {
  const std::vector<double> x = {1, 3, 3, 2, 2, 2};
  EXPECT_THAT(GradOfSum([](const Tensor& t) { return max(t, {1}); }, x, {2, 3}),
              Near({0, 0.5, 0.5, 1.0 / 3, 1.0 / 3, 1.0 / 3}));
  EXPECT_THAT(GradOfSum([](const Tensor& t) { return max(t, {1}, /*keepdim=*/true); }, x, {2, 3}),
              Near({0, 0.5, 0.5, 1.0 / 3, 1.0 / 3, 1.0 / 3}));
  EXPECT_THAT(GradOfSum([](const Tensor& t) { return max(t); }, x, {2, 3}),
              Near({0, 0.5, 0.5, 0, 0, 0}));
  EXPECT_THAT(GradOfSum([](const Tensor& t) { return min(t, {0}); }, x, {2, 3}),
              Near({1, 0, 0, 0, 1, 1}));
  EXPECT_THAT(GradOfSum([](const Tensor& t) { return min(t); }, {4, 1, 1, 1}, {4}),
              Near({0, 1.0 / 3, 1.0 / 3, 1.0 / 3}));
}

TEST(AutogradGradcheckTest, ProdAtZerosIsTheProductOfTheOtherFactors) {
  // Rows with no zero, one zero and two zeros.
  const std::vector<double> x = {2, -1, 3, 2, 0, 3, 0, 5, 0};
  EXPECT_THAT(GradOfSum([](const Tensor& t) { return prod(t, {1}); }, x, {3, 3}),
              Near({-3, 6, -2, 0, 6, 0, 0, 0, 0}));
  EXPECT_THAT(GradOfSum([](const Tensor& t) { return prod(t, {0}, /*keepdim=*/true); }, x, {3, 3}),
              Near({0, 0, 0, 0, -5, 0, 4, 0, 9}));
  // A product is linear in each factor, so central differences are exact there too.
  Generator gen(17);
  Input with_zeros{{4, 3}, {0, 1.5, -2, 0, 0, 0.5, 1, -1, 2, 0.5, 0, 3}};
  GradCheck([](const std::vector<Tensor>& in) { return prod(in[0], {1}); }, {with_zeros}, gen);
  GradCheck([](const std::vector<Tensor>& in) { return prod(in[0]); }, {with_zeros}, gen);
}

TEST(AutogradGradcheckTest, Matmul) {
  const std::vector<std::pair<std::vector<int64_t>, std::vector<int64_t>>> shapes = {
      {{3, 4}, {4, 2}},       {{1, 4}, {4, 1}}, {{2, 3, 4}, {4, 2}}, {{2, 1, 3, 4}, {3, 4, 2}},
      {{1, 3, 2}, {2, 2, 4}}, {{4}, {4, 2}},    {{3, 4}, {4}},       {{4}, {4}},
      {{2, 3, 4}, {4}},       {{4}, {2, 4, 3}},
  };
  Generator gen(7);
  for (const auto& [a, b] : shapes) {
    SCOPED_TRACE(absl::StrCat(a.size(), "-d x ", b.size(), "-d"));
    GradCheck([](const std::vector<Tensor>& x) { return matmul(x[0], x[1]); },
              {Random(gen, a), Random(gen, b)}, gen);
  }
}

// Transposed operands take their own gradient path (the product in the operand's layout).
TEST(AutogradGradcheckTest, MatmulWithTransposedOperands) {
  Generator gen(17);
  GradCheck([](const std::vector<Tensor>& x) { return matmul(x[0], transpose(x[1], 0, 1)); },
            {Random(gen, {4, 3}), Random(gen, {2, 3})}, gen);
  GradCheck([](const std::vector<Tensor>& x) { return matmul(transpose(x[0], 0, 1), x[1]); },
            {Random(gen, {3, 4}), Random(gen, {3, 2})}, gen);
  GradCheck(
      [](const std::vector<Tensor>& x) {
        return matmul(transpose(x[0], -1, -2), transpose(x[1], -1, -2));
      },
      {Random(gen, {2, 3, 4}), Random(gen, {2, 5, 3})}, gen);
  // Batch broadcasting: the transposed operand has fewer batch dimensions.
  GradCheck([](const std::vector<Tensor>& x) { return matmul(x[0], transpose(x[1], 0, 1)); },
            {Random(gen, {2, 4, 3}), Random(gen, {5, 3})}, gen);
}

// Each way einsum contracts: one matmul, a broadcast product, diagonals, sums in one
// operand, a summed letter of size 1 expanded, and three operands.
TEST(AutogradGradcheckTest, Einsum) {
  const std::vector<std::pair<std::string, std::vector<std::vector<int64_t>>>> cases = {
      {"bij,bkj->bik", {{2, 3, 4}, {2, 5, 4}}}, {"i,ij->ij", {{1}, {3, 2}}},
      {"ii,ij->j", {{3, 3}, {3, 2}}},           {"ijk->kj", {{2, 3, 2}}},
      {"ij,jk->ik", {{3, 1}, {2, 2}}},          {"ij,jk,kl->il", {{2, 3}, {3, 2}, {2, 2}}},
  };
  Generator gen(23);
  for (const auto& [equation, shapes] : cases) {
    SCOPED_TRACE(equation);
    std::vector<Input> inputs;
    for (const auto& sizes : shapes) inputs.push_back(Random(gen, sizes));
    GradCheck([&](const std::vector<Tensor>& x) { return einsum(equation, x); }, inputs, gen);
  }
}

TEST(AutogradGradcheckTest, Diagonal) {
  Generator gen(29);
  for (int64_t offset : {0, 1, -1}) {
    GradCheck([&](const std::vector<Tensor>& x) { return diagonal(x[0], offset, 2, 0); },
              {Random(gen, {3, 2, 4})}, gen);
  }
}

// Through every way conv2d gathers windows: strided, dilated and grouped slices, and the
// reshape of non-overlapping windows.
TEST(AutogradGradcheckTest, Conv2d) {
  const std::vector<std::pair<std::vector<int64_t>, nn::Conv2dOptions>> convs = {
      {{1, 2, 5, 4}, {.stride = {2, 1}, .padding = {1, 1}}},
      {{2, 4, 4, 4}, {.padding = {1, 0}, .dilation = {2, 1}, .groups = 2}},
      {{1, 2, 5, 4}, {.stride = {2, 2}}},
  };
  Generator gen(31);
  for (const auto& [input, options] : convs) {
    const int64_t c = input[1];
    const std::vector<int64_t> weight = {4, c / options.groups, 2, 2};
    GradCheck([&](const std::vector<Tensor>& x) { return nn::conv2d(x[0], x[1], x[2], options); },
              {Random(gen, input), Random(gen, weight), Random(gen, {4})}, gen);
  }
}

TEST(AutogradGradcheckTest, Conv1d) {
  Generator gen(37);
  GradCheck(
      [](const std::vector<Tensor>& x) {
        return nn::conv1d(x[0], x[1], x[2], {.stride = 2, .padding = 1, .groups = 2});
      },
      {Random(gen, {2, 4, 7}), Random(gen, {2, 2, 3}), Random(gen, {2})}, gen);
}

// Through each pooling's windows: padded, strided, dilated and ceil_mode's short last
// ones, avg_pool2d's per-window divisors and adaptive pooling's averaging matrices. (Max
// pooling's gradient at ties is nn_pool_test's; random data has none.)
TEST(AutogradGradcheckTest, Pooling) {
  Generator gen(41);
  GradCheck(
      [](const std::vector<Tensor>& x) {
        return nn::max_pool2d(
            x[0], {3, 2},
            {.stride = {{2, 1}}, .padding = {1, 1}, .dilation = {1, 2}, .ceil_mode = true});
      },
      {Random(gen, {1, 2, 6, 5})}, gen);
  GradCheck(
      [](const std::vector<Tensor>& x) {
        return nn::avg_pool2d(
            x[0], {3, 3},
            {.stride = {{2, 2}}, .padding = {1, 1}, .ceil_mode = true, .count_include_pad = false});
      },
      {Random(gen, {1, 2, 6, 5})}, gen);
  GradCheck(
      [](const std::vector<Tensor>& x) {
        return nn::adaptive_avg_pool2d(x[0], {3, 2});
      },
      {Random(gen, {2, 1, 5, 5})}, gen);
  // Windows side by side: taps indexed in a reshape, ceil_mode's short last one padded.
  GradCheck(
      [](const std::vector<Tensor>& x) {
        return nn::max_pool2d(x[0], {2, 2}, {.ceil_mode = true});
      },
      {Random(gen, {1, 2, 5, 4})}, gen);
  GradCheck(
      [](const std::vector<Tensor>& x) {
        return nn::avg_pool2d(x[0], {2, 2}, {.ceil_mode = true, .count_include_pad = false});
      },
      {Random(gen, {1, 2, 5, 4})}, gen);
}

// Through the batch's statistics (training) with the affine parameters, and through
// group_norm's groups.
TEST(AutogradGradcheckTest, BatchNormAndGroupNorm) {
  Generator gen(43);
  GradCheck(
      [](const std::vector<Tensor>& x) {
        return nn::batch_norm(x[0], Tensor(), Tensor(), x[1], x[2], /*training=*/true);
      },
      {Random(gen, {3, 2, 2, 2}), Random(gen, {2}), Random(gen, {2})}, gen);
  GradCheck([](const std::vector<Tensor>& x) { return nn::group_norm(x[0], 2, x[1], x[2]); },
            {Random(gen, {2, 4, 3}), Random(gen, {4}), Random(gen, {4})}, gen);
}

TEST(AutogradGradcheckTest, ReshapePermuteExpand) {
  Generator gen(8);
  GradCheck(
      [](const std::vector<Tensor>& x) {
        return reshape(x[0], {3, -1});
      },
      {Random(gen, {2, 3, 2})}, gen);
  GradCheck([](const std::vector<Tensor>& x) { return flatten(unsqueeze(x[0], 1), 1); },
            {Random(gen, {2, 3})}, gen);
  GradCheck([](const std::vector<Tensor>& x) { return squeeze(x[0], 0); }, {Random(gen, {1, 3})},
            gen);
  GradCheck(
      [](const std::vector<Tensor>& x) {
        return permute(x[0], {2, 0, 1});
      },
      {Random(gen, {2, 3, 4})}, gen);
  GradCheck([](const std::vector<Tensor>& x) { return transpose(x[0], 0, 1); },
            {Random(gen, {3, 2})}, gen);
  GradCheck(
      [](const std::vector<Tensor>& x) {
        return expand(x[0], {2, 3, 4});
      },
      {Random(gen, {3, 1})}, gen);
  GradCheck(
      [](const std::vector<Tensor>& x) {
        return expand(x[0], {2, -1, 3});
      },
      {Random(gen, {1, 1})}, gen);
  GradCheck(
      [](const std::vector<Tensor>& x) {
        return expand(x[0], {2, 3});
      },
      {Random(gen, {})}, gen);
}

TEST(AutogradGradcheckTest, SliceWithSteps) {
  struct Case {
    int64_t dim, start, end, step;
  };
  const Case cases[] = {
      {0, 1, 5, 1}, {0, 0, 7, 2}, {0, 1, 7, 3}, {0, 2, 6, 3}, {0, -3, 7, 2},
      {1, 0, 3, 2}, {0, 5, 7, 4}, {0, 3, 3, 1}, {1, 1, 2, 1}, {-2, 0, 6, 5},
  };
  Generator gen(9);
  for (const Case& c : cases) {
    SCOPED_TRACE(absl::StrCat("dim ", c.dim, " ", c.start, ":", c.end, ":", c.step));
    GradCheck(
        [&](const std::vector<Tensor>& x) { return slice(x[0], c.dim, c.start, c.end, c.step); },
        {Random(gen, {7, 3})}, gen);
  }
}

TEST(AutogradGradcheckTest, Concat) {
  Generator gen(10);
  GradCheck(
      [](const std::vector<Tensor>& x) {
        return concat({x[0], x[1], x[2]}, 1);
      },
      {Random(gen, {2, 1}), Random(gen, {2, 3}), Random(gen, {2, 2})}, gen);
  GradCheck(
      [](const std::vector<Tensor>& x) {
        return concat({x[0], x[1]}, 0);
      },
      {Random(gen, {1, 2, 2}), Random(gen, {2, 2, 2})}, gen);
  // Only some operands differentiable, and one used twice.
  const Tensor fixed = Upload(Random(gen, {2, 2}));
  GradCheck(
      [&](const std::vector<Tensor>& x) {
        return concat({x[0], fixed, x[0]}, -1);
      },
      {Random(gen, {2, 1})}, gen);
}

TEST(AutogradGradcheckTest, StackSplitAndChunk) {
  Generator gen(12);
  GradCheck(
      [](const std::vector<Tensor>& x) {
        return stack({x[0], x[1], x[0]}, 1);
      },
      {Random(gen, {2, 3}), Random(gen, {2, 3})}, gen);
  // The pieces reassembled in another order, one of them scaled.
  GradCheck(
      [](const std::vector<Tensor>& x) {
        std::vector<Tensor> parts = split(x[0], 2, 1);
        return concat({mul(parts[2], 3.0), parts[0], parts[1]}, 1);
      },
      {Random(gen, {2, 5})}, gen);
  GradCheck(
      [](const std::vector<Tensor>& x) {
        std::vector<Tensor> parts = chunk(x[0], 3, 0);
        return mul(parts[0], parts[1]);  // the third chunk gets no gradient
      },
      {Random(gen, {6, 2})}, gen);
}

TEST(AutogradGradcheckTest, ClampPassesTheGradientInsideItsBoundsIncludingThem) {
  Generator gen(13);
  GradCheck([](const std::vector<Tensor>& x) { return clamp(x[0], -0.5, 0.5); },
            {Random(gen, {3, 4}, Domain::kAwayFromZero)}, gen);
  // Values on a bound keep their whole gradient, as in torch.
  Tensor x = Tensor::from_vector<double>({-2, -1, 0, 1, 2}, {5});
  x.requires_grad_();
  sum(clamp(x, -1, 1)).backward();
  EXPECT_THAT(x.grad().to_vector<double>(), Near({0, 1, 1, 1, 0}));
}

TEST(AutogradGradcheckTest, SiluAndMaskedFill) {
  Generator gen(14);
  GradCheck([](const std::vector<Tensor>& x) { return silu(x[0]); }, {Random(gen, {3, 4})}, gen);
  const Tensor mask = Tensor::from_vector<bool>({true, false, false, true}, {4});
  // The filled positions get no gradient.
  GradCheck([&](const std::vector<Tensor>& x) { return masked_fill(x[0], mask, 2.5); },
            {Random(gen, {3, 4})}, gen);
}

TEST(AutogradGradcheckTest, Variance) {
  Generator gen(15);
  GradCheck([](const std::vector<Tensor>& x) { return var(x[0], {1}); }, {Random(gen, {3, 4})},
            gen);
  GradCheck(
      [](const std::vector<Tensor>& x) {
        return var(x[0], {0, 2}, true, 0);
      },
      {Random(gen, {2, 3, 2})}, gen);
}

TEST(AutogradGradcheckTest, Cumsum) {
  Generator gen(16);
  GradCheck([](const std::vector<Tensor>& x) { return cumsum(x[0], 1); }, {Random(gen, {3, 5})},
            gen);
  // Blocks: a row longer than one masked sum.
  GradCheck([](const std::vector<Tensor>& x) { return cumsum(x[0], 0); }, {Random(gen, {70, 2})},
            gen);
}

TEST(AutogradGradcheckTest, CumprodAlsoAtZeros) {
  Generator gen(18);
  GradCheck([](const std::vector<Tensor>& x) { return cumprod(x[0], 1); },
            {Random(gen, {3, 5}, Domain::kAwayFromZero)}, gen);
  // Rows with one zero and with two: exact, as a running product is linear in each factor.
  Input with_zeros{{2, 4}, {1.5, 0, -2, 0.5, 0, 2, 0, 3}};
  GradCheck([](const std::vector<Tensor>& x) { return cumprod(x[0], 1); }, {with_zeros}, gen);
  // Blocks: a row longer than one masked product, with a zero in it.
  Input column = Random(gen, {70, 2}, Domain::kAwayFromZero);
  for (double& v : column.values) v = v > 0 ? 0.9 + 0.1 * v : -0.9 + 0.1 * v;
  column.values[41] = 0;
  GradCheck([](const std::vector<Tensor>& x) { return cumprod(x[0], 0); }, {column}, gen);
}

TEST(AutogradGradcheckTest, SortAndTopk) {
  Generator gen(17);
  // The gradient goes to the positions the values came from.
  GradCheck([](const std::vector<Tensor>& x) { return sort(x[0], 0).values; },
            {Random(gen, {4, 3})}, gen);
  GradCheck([](const std::vector<Tensor>& x) { return topk(x[0], 2, 1, false).values; },
            {Random(gen, {3, 5})}, gen);
}

TEST(AutogradGradcheckTest, Logsumexp) {
  Generator gen(18);
  GradCheck([](const std::vector<Tensor>& x) { return logsumexp(x[0], {1}); },
            {Random(gen, {3, 4})}, gen);
  GradCheck(
      [](const std::vector<Tensor>& x) {
        return logsumexp(x[0], {0, 2}, true);
      },
      {Random(gen, {2, 3, 2})}, gen);
}

TEST(AutogradGradcheckTest, FlipRollRepeatAndTriangles) {
  Generator gen(19);
  GradCheck(
      [](const std::vector<Tensor>& x) {
        return flip(x[0], {0, 1});
      },
      {Random(gen, {2, 3})}, gen);
  GradCheck(
      [](const std::vector<Tensor>& x) {
        return roll(x[0], {1, -2}, {0, 1});
      },
      {Random(gen, {2, 3})}, gen);
  GradCheck(
      [](const std::vector<Tensor>& x) {
        return repeat(x[0], {2, 1, 2});
      },
      {Random(gen, {2, 3})}, gen);
  GradCheck([](const std::vector<Tensor>& x) { return add(tril(x[0]), triu(x[0], 1)); },
            {Random(gen, {3, 3})}, gen);
}

TEST(AutogradGradcheckTest, Pad) {
  Generator gen(11);
  const std::vector<std::vector<int64_t>> cases = {
      {1, 2}, {0, 1, 2, 0}, {-1, 1}, {1, -2, -1, 0}, {0, 0, 0, 0}};
  for (const std::vector<int64_t>& pads : cases) {
    SCOPED_TRACE(absl::StrCat("pads of length ", pads.size(), " starting ", pads[0]));
    GradCheck([&](const std::vector<Tensor>& x) { return pad(x[0], pads, 1.5); },
              {Random(gen, {3, 4})}, gen);
  }
}

TEST(AutogradGradcheckTest, Gather) {
  Generator gen(12);
  // Index smaller than the input in the other dimension, with repeated sources.
  const Tensor rows = Indices(RandomIndices(gen, 6, 4), {3, 2});
  GradCheck([&](const std::vector<Tensor>& x) { return gather(x[0], 0, rows); },
            {Random(gen, {4, 3})}, gen);
  const Tensor cols = Indices(RandomIndices(gen, 10, 3), {2, 5});
  GradCheck([&](const std::vector<Tensor>& x) { return gather(x[0], -1, cols); },
            {Random(gen, {2, 3})}, gen);
  const Tensor cols32 = Tensor::from_vector<int32_t>({0, 0, 2, 1}, {2, 2});
  GradCheck([&](const std::vector<Tensor>& x) { return gather(x[0], 1, cols32); },
            {Random(gen, {3, 3})}, gen);
}

TEST(AutogradGradcheckTest, IndexSelect) {
  Generator gen(13);
  for (int64_t dim : {0, 1, 2}) {
    const std::vector<int64_t> sizes = {3, 2, 4};
    const Tensor index = Indices(RandomIndices(gen, 5, sizes[dim]), {5});
    SCOPED_TRACE(absl::StrCat("dim ", dim));
    GradCheck([&](const std::vector<Tensor>& x) { return index_select(x[0], dim, index); },
              {Random(gen, sizes)}, gen);
  }
  const Tensor index32 = Tensor::from_vector<int32_t>({1, 1}, {2});
  GradCheck([&](const std::vector<Tensor>& x) { return index_select(x[0], 0, index32); },
            {Random(gen, {3})}, gen);
}

TEST(AutogradGradcheckTest, ScatterAdd) {
  Generator gen(14);
  // Index smaller than src in both dimensions; repeated targets accumulate.
  const Tensor index = Indices(RandomIndices(gen, 4, 3), {2, 2});
  GradCheck([&](const std::vector<Tensor>& x) { return scatter_add(x[0], 0, index, x[1]); },
            {Random(gen, {3, 2}), Random(gen, {3, 3})}, gen);
  const Tensor cols = Indices(RandomIndices(gen, 6, 4), {2, 3});
  GradCheck([&](const std::vector<Tensor>& x) { return scatter_add(x[0], 1, cols, x[1]); },
            {Random(gen, {2, 4}), Random(gen, {2, 3})}, gen);
  // Only src differentiable.
  const Tensor self = Upload(Random(gen, {2, 4}));
  GradCheck([&](const std::vector<Tensor>& x) { return scatter_add(self, 1, cols, x[0]); },
            {Random(gen, {2, 3})}, gen);
}

TEST(AutogradGradcheckTest, SoftmaxAndLogSoftmax) {
  Generator gen(15);
  for (int64_t dim : {0, -1}) {
    SCOPED_TRACE(absl::StrCat("dim ", dim));
    GradCheck([&](const std::vector<Tensor>& x) { return softmax(x[0], dim); },
              {Random(gen, {3, 4})}, gen);
    GradCheck([&](const std::vector<Tensor>& x) { return log_softmax(x[0], dim); },
              {Random(gen, {2, 1, 3})}, gen);
  }
  // The detached max shift keeps large logits finite and the gradient exact.
  Input large = Random(gen, {2, 3});
  for (double& v : large.values) v += 800;
  GradCheck([](const std::vector<Tensor>& x) { return softmax(x[0], 1); }, {large}, gen);
  GradCheck([](const std::vector<Tensor>& x) { return log_softmax(x[0], 1); }, {large}, gen);
}

TEST(AutogradGradcheckTest, MaskedSoftmax) {
  Generator gen(21);
  // Row 1 is fully masked: its output and gradient are zero.
  const std::vector<double> keep = {1, 0, 1, 1, 0, 0, 0, 0, 1, 1, 1, 0};
  const auto masked = [&](const std::vector<Tensor>& x) {
    const Tensor mask = gt(Tensor::from_vector<double>(keep, {3, 4}), 0.5);
    return nn::masked_softmax(x[0], mask, 1);
  };
  GradCheck(masked, {Random(gen, {3, 4})}, gen);
}

TEST(AutogradGradcheckTest, ScaledDotProductAttention) {
  Generator gen(22);
  // q [2, 3, 4], k [2, 5, 4], v [1, 5, 2] (shared by the batch); a causal mask, a bool mask
  // with a query that attends to nothing, and an additive one.
  const std::vector<Input> in = {Random(gen, {2, 3, 4}), Random(gen, {2, 5, 4}),
                                 Random(gen, {1, 5, 2})};
  GradCheck(
      [](const std::vector<Tensor>& x) {
        return nn::scaled_dot_product_attention(x[0], x[1], x[2], Tensor(), 0, true);
      },
      in, gen);
  const std::vector<double> keep = {1, 0, 1, 1, 0, 0, 0, 0, 0, 0, 1, 1, 1, 0, 1};
  GradCheck(
      [&](const std::vector<Tensor>& x) {
        const Tensor mask = gt(Tensor::from_vector<double>(keep, {3, 5}), 0.5);
        return nn::scaled_dot_product_attention(x[0], x[1], x[2], mask);
      },
      in, gen);
  std::vector<Input> with_bias = in;
  with_bias.push_back(Random(gen, {3, 5}));
  GradCheck(
      [](const std::vector<Tensor>& x) {
        return nn::scaled_dot_product_attention(x[0], x[1], x[2], x[3], 0, false, 0.7);
      },
      with_bias, gen);
}

TEST(AutogradGradcheckTest, LayerNorm) {
  Generator gen(16);
  GradCheck([](const std::vector<Tensor>& x) { return layer_norm(x[0], x[1], x[2]); },
            {Random(gen, {2, 4}), Random(gen, {4}), Random(gen, {4})}, gen);
  GradCheck([](const std::vector<Tensor>& x) { return layer_norm(x[0], x[1], x[2], 1e-3); },
            {Random(gen, {2, 2, 3}), Random(gen, {2, 3}), Random(gen, {2, 3})}, gen);
  GradCheck([](const std::vector<Tensor>& x) { return layer_norm(x[0], Tensor(), Tensor()); },
            {Random(gen, {3, 3})}, gen);
  // Weight without bias; a single row (no leading dimensions to sum the weight's over).
  GradCheck([](const std::vector<Tensor>& x) { return layer_norm(x[0], x[1], Tensor()); },
            {Random(gen, {3, 5}), Random(gen, {5})}, gen);
  GradCheck([](const std::vector<Tensor>& x) { return layer_norm(x[0], x[1], x[2]); },
            {Random(gen, {5}), Random(gen, {5}), Random(gen, {5})}, gen);
}

TEST(AutogradGradcheckTest, Gelu) {
  Generator gen(17);
  for (GeluApproximation approximate : {GeluApproximation::kNone, GeluApproximation::kTanh}) {
    SCOPED_TRACE(approximate == GeluApproximation::kNone ? "erf" : "tanh");
    GradCheck([&](const std::vector<Tensor>& x) { return gelu(x[0], approximate); },
              {Random(gen, {2, 3})}, gen);
  }
}

TEST(AutogradGradcheckTest, CrossEntropy) {
  Generator gen(18);
  const Tensor labels = Indices({2, 0, 2, 1}, {4});
  for (Reduction reduction : {Reduction::kMean, Reduction::kSum, Reduction::kNone}) {
    SCOPED_TRACE(static_cast<int>(reduction));
    GradCheck([&](const std::vector<Tensor>& x) { return cross_entropy(x[0], labels, reduction); },
              {Random(gen, {4, 3})}, gen);
  }
}

TEST(AutogradGradcheckTest, Log1pExpm1StdAndRmsNorm) {
  Generator gen(20);
  // Both sides of the |x| = 0.5 switch, and values small enough for the corrections.
  Input x = Random(gen, {2, 4}, Domain::kAwayFromZero);
  x.values[0] = 1e-4;
  x.values[1] = -3e-3;
  for (const auto& f :
       {+[](const Tensor& t) { return log1p(t); }, +[](const Tensor& t) { return expm1(t); }}) {
    GradCheck([&](const std::vector<Tensor>& in) { return f(mul(in[0], 0.5)); }, {x}, gen);
  }
  GradCheck([](const std::vector<Tensor>& in) { return std(in[0], {1}); }, {Random(gen, {3, 4})},
            gen);
  GradCheck(
      [](const std::vector<Tensor>& in) {
        return std(in[0], {0, 2}, true, 0);
      },
      {Random(gen, {2, 3, 2})}, gen);
  GradCheck([](const std::vector<Tensor>& in) { return rms_norm(in[0], in[1], 1e-3); },
            {Random(gen, {3, 4}), Random(gen, {4})}, gen);
  GradCheck([](const std::vector<Tensor>& in) { return rms_norm(in[0]); }, {Random(gen, {2, 5})},
            gen);
}

TEST(AutogradGradcheckTest, ActivationsNormalizeAndLosses) {
  Generator gen(21);
  GradCheck([](const std::vector<Tensor>& in) { return nn::softplus(mul(in[0], 3.0), 1.5, 4); },
            {Random(gen, {3, 4})}, gen);
  GradCheck([](const std::vector<Tensor>& in) { return nn::leaky_relu(in[0], 0.2); },
            {Random(gen, {3, 4}, Domain::kAwayFromZero)}, gen);
  GradCheck([](const std::vector<Tensor>& in) { return nn::normalize(in[0]); },
            {Random(gen, {3, 4})}, gen);
  GradCheck([](const std::vector<Tensor>& in) { return nn::normalize(in[0], 3, 0); },
            {Random(gen, {3, 4}, Domain::kAwayFromZero)}, gen);
  const Tensor targets = Tensor::from_vector<double>({0, 1, 0.25, 1, 0, 0.5}, {2, 3});
  GradCheck(
      [&](const std::vector<Tensor>& in) {
        return nn::binary_cross_entropy_with_logits(in[0], targets);
      },
      {Random(gen, {2, 3})}, gen);
  // Differences away from 0 and from beta, where l1 and smooth l1 have kinks.
  const Tensor zero = Tensor::from_vector<double>(std::vector<double>(6, 0), {2, 3});
  GradCheck([&](const std::vector<Tensor>& in) { return nn::l1_loss(in[0], zero); },
            {Random(gen, {2, 3}, Domain::kAwayFromZero)}, gen);
  GradCheck(
      [&](const std::vector<Tensor>& in) {
        return nn::smooth_l1_loss(mul(in[0], 2.0), zero, Reduction::kNone, 1.3);
      },
      {Random(gen, {2, 3}, Domain::kAwayFromZero)}, gen);
}

TEST(AutogradGradcheckTest, ACompositeExpression) {
  // A small MLP-like expression: shared subexpressions, broadcasting and reductions.
  Generator gen(19);
  GradCheck(
      [](const std::vector<Tensor>& x) {
        Tensor h = tanh(add(matmul(x[0], x[1]), x[2]));
        Tensor s = softmax(mul(h, h), -1);
        return mean(sub(s, mul(h, x[2])), {0});
      },
      {Random(gen, {3, 2}), Random(gen, {2, 4}), Random(gen, {4})}, gen);
}

}  // namespace
}  // namespace kiln
