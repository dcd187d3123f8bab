#pragma once
// Shared by the optimizer tests: random host data, a quadratic loss, and scalar
// reimplementations of torch.optim.SGD and torch.optim.AdamW in plain doubles, written
// the way PyTorch writes them (first momentum buffer = a copy of the gradient, lerp for
// the first moment), so the lazy optimizers are checked against an independent account.
#include <gmock/gmock.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "lazy/ops.h"
#include "lazy/tensor.h"

namespace kiln::testing {

// `n` standard-normal doubles from a generator seeded with `seed`.
inline std::vector<double> RandomVector(int64_t n, uint32_t seed) {
  std::mt19937 gen(seed);
  std::normal_distribution<double> normal;
  std::vector<double> v(n);
  for (double& x : v) x = normal(gen);
  return v;
}

// An f64 leaf that requires grad.
inline Tensor F64Param(const std::vector<double>& values, std::vector<int64_t> sizes) {
  Tensor t = Tensor::from_vector<double>(values, std::move(sizes));
  t.requires_grad_();
  return t;
}

// sum_i sum((params[i] - targets[i])^2); the gradient of params[i] is 2 (p - t).
inline Tensor QuadraticLoss(const std::vector<Tensor>& params, const std::vector<Tensor>& targets) {
  Tensor loss;
  for (size_t i = 0; i < params.size(); ++i) {
    const Tensor d = sub(params[i], targets[i]);
    const Tensor term = sum(mul(d, d));
    loss = loss.defined() ? add(loss, term) : term;
  }
  return loss;
}

// The host gradient of QuadraticLoss for one parameter.
inline std::vector<double> QuadraticGrad(const std::vector<double>& p,
                                         const std::vector<double>& t) {
  std::vector<double> g(p.size());
  for (size_t i = 0; i < p.size(); ++i) g[i] = 2 * (p[i] - t[i]);
  return g;
}

// torch.optim.SGD (dampening 0) for one parameter.
struct ReferenceSgd {
  double momentum = 0;
  double weight_decay = 0;
  bool nesterov = false;
  std::vector<double> buf = {};  // empty until the first step

  void Step(std::vector<double>& p, const std::vector<double>& grad, double lr) {
    std::vector<double> d_p = grad;
    for (size_t i = 0; i < p.size(); ++i) d_p[i] += weight_decay * p[i];
    if (momentum != 0) {
      if (buf.empty()) {
        buf = d_p;
      } else {
        for (size_t i = 0; i < p.size(); ++i) buf[i] = momentum * buf[i] + d_p[i];
      }
      for (size_t i = 0; i < p.size(); ++i) {
        d_p[i] = nesterov ? d_p[i] + momentum * buf[i] : buf[i];
      }
    }
    for (size_t i = 0; i < p.size(); ++i) p[i] -= lr * d_p[i];
  }
};

// torch.optim.AdamW (amsgrad off) for one parameter.
struct ReferenceAdamW {
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 1e-2;
  std::vector<double> exp_avg = {};
  std::vector<double> exp_avg_sq = {};
  int64_t step = 0;

  void Step(std::vector<double>& p, const std::vector<double>& grad, double lr) {
    if (exp_avg.empty()) {
      exp_avg.assign(p.size(), 0.0);
      exp_avg_sq.assign(p.size(), 0.0);
    }
    ++step;
    const double bias_correction1 = 1 - std::pow(beta1, step);
    const double bias_correction2 = 1 - std::pow(beta2, step);
    for (size_t i = 0; i < p.size(); ++i) {
      p[i] *= 1 - lr * weight_decay;
      exp_avg[i] += (grad[i] - exp_avg[i]) * (1 - beta1);  // lerp
      exp_avg_sq[i] = exp_avg_sq[i] * beta2 + (1 - beta2) * grad[i] * grad[i];
      const double denom = std::sqrt(exp_avg_sq[i]) / std::sqrt(bias_correction2) + eps;
      p[i] += -(lr / bias_correction1) * exp_avg[i] / denom;
    }
  }
};

// Element-wise comparison of doubles with a tolerance relative to max(1, |expected|).
inline ::testing::Matcher<std::vector<double>> NearF64(const std::vector<double>& expected,
                                                       double tolerance = 1e-12) {
  std::vector<::testing::Matcher<double>> each;
  for (double e : expected) {
    each.push_back(::testing::DoubleNear(e, tolerance * std::max(1.0, std::abs(e))));
  }
  return ::testing::ElementsAreArray(each);
}

}  // namespace kiln::testing
