// batch_norm and group_norm against loops written from torch's definitions on fresh random
// data; BatchNorm's running averages (updated in the step's graph, one compile), its
// evaluation mode and its buffers as torch names them.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "lazy/graph_executor.h"
#include "lazy/nn_batch_norm.h"
#include "lazy/nn_group_norm.h"
#include "lazy/ops.h"
#include "lazy/tensor.h"
#include "util/metrics.h"

namespace kiln::nn {
namespace {

using ::testing::ElementsAre;

std::vector<double> Random(int64_t count, std::mt19937& rng, double mean = 0, double sd = 1) {
  std::normal_distribution<double> normal(mean, sd);
  std::vector<double> v(count);
  for (double& x : v) x = normal(rng);
  return v;
}

void ExpectNear(const std::vector<double>& actual, const std::vector<double>& expected,
                double tolerance = 1e-12) {
  ASSERT_EQ(actual.size(), expected.size());
  for (size_t i = 0; i < actual.size(); ++i) {
    EXPECT_NEAR(actual[i], expected[i], tolerance * (1 + std::abs(expected[i]))) << "element " << i;
  }
}

// x [n, c, m] (m: the positions): each channel's mean and biased variance over n and m.
struct ChannelStats {
  std::vector<double> mean, var;
};
ChannelStats LoopStats(const std::vector<double>& x, int64_t n, int64_t c, int64_t m) {
  ChannelStats s{std::vector<double>(c, 0.0), std::vector<double>(c, 0.0)};
  for (int64_t ch = 0; ch < c; ++ch) {
    for (int64_t i = 0; i < n; ++i) {
      for (int64_t j = 0; j < m; ++j) s.mean[ch] += x[(i * c + ch) * m + j];
    }
    s.mean[ch] /= n * m;
    for (int64_t i = 0; i < n; ++i) {
      for (int64_t j = 0; j < m; ++j)
        s.var[ch] += std::pow(x[(i * c + ch) * m + j] - s.mean[ch], 2);
    }
    s.var[ch] /= n * m;
  }
  return s;
}

std::vector<double> LoopNormalize(const std::vector<double>& x, int64_t n, int64_t c, int64_t m,
                                  const std::vector<double>& mean, const std::vector<double>& var,
                                  const std::vector<double>& w, const std::vector<double>& b,
                                  double eps) {
  std::vector<double> y(x.size());
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t ch = 0; ch < c; ++ch) {
      for (int64_t j = 0; j < m; ++j) {
        const int64_t at = (i * c + ch) * m + j;
        y[at] = (x[at] - mean[ch]) / std::sqrt(var[ch] + eps) * w[ch] + b[ch];
      }
    }
  }
  return y;
}

TEST(NnBatchNormTest, TrainingNormalisesByTheBatchAndUpdatesTheRunningAverages) {
  const int64_t n = 4, c = 3, h = 5, w = 2;
  std::mt19937 rng(21);
  const std::vector<double> x = Random(n * c * h * w, rng, 1.5, 2);
  const std::vector<double> weight = Random(c, rng), bias = Random(c, rng);
  const std::vector<double> rm0 = Random(c, rng), rv0 = {0.5, 1.5, 2.0};
  Tensor running_mean = Tensor::from_vector<double>(rm0, {c});
  Tensor running_var = Tensor::from_vector<double>(rv0, {c});
  const Tensor y = batch_norm(Tensor::from_vector<double>(x, {n, c, h, w}), running_mean,
                              running_var, Tensor::from_vector<double>(weight, {c}),
                              Tensor::from_vector<double>(bias, {c}), /*training=*/true,
                              /*momentum=*/0.25, /*eps=*/1e-3);
  const ChannelStats s = LoopStats(x, n, c, h * w);
  ExpectNear(y.to_vector<double>(),
             LoopNormalize(x, n, c, h * w, s.mean, s.var, weight, bias, 1e-3));
  // The caller's tensors hold the update: the unbiased variance, as torch's.
  std::vector<double> mean_after, var_after;
  for (int64_t ch = 0; ch < c; ++ch) {
    mean_after.push_back(0.75 * rm0[ch] + 0.25 * s.mean[ch]);
    var_after.push_back(0.75 * rv0[ch] + 0.25 * s.var[ch] * (n * h * w) / (n * h * w - 1));
  }
  ExpectNear(running_mean.to_vector<double>(), mean_after);
  ExpectNear(running_var.to_vector<double>(), var_after);

  // Evaluation: the running averages, which stay as they are.
  const Tensor e = batch_norm(Tensor::from_vector<double>(x, {n, c, h * w}), running_mean,
                              running_var, Tensor(), Tensor(), /*training=*/false);
  ExpectNear(e.to_vector<double>(),
             LoopNormalize(x, n, c, h * w, mean_after, var_after, {1, 1, 1}, {0, 0, 0}, 1e-5));
  ExpectNear(running_mean.to_vector<double>(), mean_after);
}

// Gradients flow through the batch's statistics: for y = batch_norm(x), sum(y * g) has
// dx = (g - mean(g) - xhat mean(g xhat)) / sqrt(var + eps) per channel.
TEST(NnBatchNormTest, TheGradientGoesThroughTheBatchStatistics) {
  const int64_t n = 3, c = 2, m = 4;
  std::mt19937 rng(22);
  const std::vector<double> xv = Random(n * c * m, rng), g = Random(n * c * m, rng);
  const Tensor x = Tensor::from_vector<double>(xv, {n, c, m}).requires_grad_();
  sum(mul(batch_norm(x, Tensor(), Tensor(), Tensor(), Tensor(), true, 0.1, 1e-5),
          Tensor::from_vector<double>(g, {n, c, m})))
      .backward();
  const ChannelStats s = LoopStats(xv, n, c, m);
  std::vector<double> expected(xv.size());
  for (int64_t ch = 0; ch < c; ++ch) {
    const double inv = 1 / std::sqrt(s.var[ch] + 1e-5);
    double mean_g = 0, mean_gx = 0;
    for (int64_t i = 0; i < n; ++i) {
      for (int64_t j = 0; j < m; ++j) {
        const int64_t at = (i * c + ch) * m + j;
        mean_g += g[at] / (n * m);
        mean_gx += g[at] * (xv[at] - s.mean[ch]) * inv / (n * m);
      }
    }
    for (int64_t i = 0; i < n; ++i) {
      for (int64_t j = 0; j < m; ++j) {
        const int64_t at = (i * c + ch) * m + j;
        expected[at] = (g[at] - mean_g - (xv[at] - s.mean[ch]) * inv * mean_gx) * inv;
      }
    }
  }
  ExpectNear(x.grad().to_vector<double>(), expected, 1e-9);
}

TEST(NnBatchNormTest, ModuleBuffersTrainAndEvalAsTorch) {
  BatchNorm2d bn(3);
  EXPECT_THAT(bn.named_parameters().size(), 2u);
  std::vector<std::string> buffers;
  for (const auto& [name, t] : bn.named_buffers()) buffers.push_back(name);
  EXPECT_THAT(buffers, ElementsAre("running_mean", "running_var", "num_batches_tracked"));
  EXPECT_EQ(bn.num_batches_tracked().shape().ToString(), "i64[]");
  EXPECT_EQ(bn.running_var().to_vector<float>(), std::vector<float>({1, 1, 1}));

  std::mt19937 rng(23);
  std::vector<double> xv = Random(2 * 3 * 4 * 4, rng, -1, 3);
  const Tensor x =
      Tensor::from_vector<float>(std::vector<float>(xv.begin(), xv.end()), {2, 3, 4, 4});
  const int64_t compiles = metrics::counter("UncachedCompile");
  const int64_t hits = metrics::counter("CachedCompile");
  for (int step = 0; step < 3; ++step) {
    Tensor y = bn.forward(x);
    mark_step();
  }
  // One graph, three runs: the update is part of it and the buffers keep their shapes.
  EXPECT_EQ(metrics::counter("UncachedCompile") - compiles, 1);
  EXPECT_EQ(metrics::counter("CachedCompile") - hits, 2);
  EXPECT_EQ(static_cast<int64_t>(bn.num_batches_tracked().item()), 3);
  // Three updates at momentum 0.1 from 0: 1 - 0.9^3 of the batch mean.
  const ChannelStats s = LoopStats(xv, 2, 3, 16);
  const std::vector<float> mean = bn.running_mean().to_vector<float>();
  for (int ch = 0; ch < 3; ++ch) {
    EXPECT_NEAR(mean[ch], (1 - std::pow(0.9, 3)) * s.mean[ch], 1e-5);
  }
  // Evaluation uses them: y = (x - running_mean) / sqrt(running_var + eps).
  bn.eval();
  const std::vector<float> var = bn.running_var().to_vector<float>();
  const std::vector<float> y = bn.forward(x).to_vector<float>();
  EXPECT_NEAR(y[0], (static_cast<float>(xv[0]) - mean[0]) / std::sqrt(var[0] + 1e-5), 1e-5);
  EXPECT_EQ(static_cast<int64_t>(bn.num_batches_tracked().item()), 3);

  // momentum absent: the cumulative average, so two batches average to their mean.
  BatchNorm1d cumulative(2, {.momentum = std::nullopt});
  const Tensor a = Tensor::from_vector<double>({1, 2, 3, 4}, {2, 2}).to(DType::kF32);
  cumulative.forward(a);
  cumulative.forward(add(a, 10.0));
  EXPECT_EQ(cumulative.running_mean().to_vector<float>(), std::vector<float>({7, 8}));

  // Without running statistics: the batch's, in evaluation too; no buffers.
  BatchNorm1d untracked(2, {.affine = false, .track_running_stats = false});
  untracked.eval();
  EXPECT_TRUE(untracked.named_buffers().empty());
  EXPECT_TRUE(untracked.parameters().empty());
  ExpectNear(untracked.forward(a.to(DType::kF64)).to_vector<double>(), {-1, -1, 1, 1}, 1e-4);
}

TEST(NnGroupNormTest, EqualsTheLoopOverEveryGroup) {
  const int64_t n = 2, c = 6, m = 5;
  std::mt19937 rng(24);
  const std::vector<double> x = Random(n * c * m, rng, 0.5, 2);
  const std::vector<double> w = Random(c, rng), b = Random(c, rng);
  for (int64_t groups : {1, 2, 3, 6}) {
    SCOPED_TRACE(groups);
    const Tensor y =
        group_norm(Tensor::from_vector<double>(x, {n, c, m}), groups,
                   Tensor::from_vector<double>(w, {c}), Tensor::from_vector<double>(b, {c}), 1e-4);
    // Each sample's group is a "channel" of [n * groups, 1, c / groups * m].
    const int64_t per_group = c / groups * m;
    const ChannelStats s = LoopStats(x, 1, n * groups, per_group);
    std::vector<double> expected(x.size());
    for (int64_t i = 0; i < n; ++i) {
      for (int64_t ch = 0; ch < c; ++ch) {
        const int64_t group = i * groups + ch / (c / groups);
        for (int64_t j = 0; j < m; ++j) {
          const int64_t at = (i * c + ch) * m + j;
          expected[at] = (x[at] - s.mean[group]) / std::sqrt(s.var[group] + 1e-4) * w[ch] + b[ch];
        }
      }
    }
    ExpectNear(y.to_vector<double>(), expected, 1e-10);
  }
  GroupNorm norm(3, 6);
  EXPECT_EQ(norm.weight().shape().ToString(), "f32[6]");
  const Tensor x4 = Tensor::from_vector<double>(Random(2 * 6 * 2 * 3, rng), {2, 6, 2, 3});
  EXPECT_EQ(norm.forward(x4.to(DType::kF32)).shape().ToString(), "f32[2,6,2,3]");
}

}  // namespace
}  // namespace kiln::nn
