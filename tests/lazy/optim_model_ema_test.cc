// optim::ModelEma: the averages against a host account of the same steps, one compiled
// step with a decay that changes every step, copy_to and load_state_dict, and errors.
#include "lazy/optim_model_ema.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <vector>

#include "lazy/composite_ops.h"
#include "lazy/creation.h"
#include "lazy/generator.h"
#include "lazy/graph_executor.h"
#include "lazy/nn_mlp.h"
#include "lazy/optim_sgd.h"
#include "tests/lazy/op_test_util.h"
#include "util/metrics.h"

namespace kiln::optim {
namespace {

using ::kiln::testing::ErrorOf;
using ::kiln::testing::Near;
using ::testing::HasSubstr;

TEST(ModelEmaTest, AveragesTheWeightsOfEveryStepInTheStepsGraph) {
  Generator gen(3);
  nn::MLP model(4, 8, 2, gen);
  SGD opt(model.parameters(), {.lr = 0.1});
  ModelEma ema(model, 0.9);
  const Tensor x = randn({16, 4}, gen);
  const Tensor labels = Tensor::from_vector<int64_t>(
      std::vector<int64_t>{0, 1, 1, 0, 1, 0, 0, 1, 1, 1, 0, 0, 1, 0, 1, 0}, {16});
  // The host's account: the averages start at the initial weights.
  std::vector<std::vector<double>> expected;
  for (const Tensor& p : model.parameters()) {
    const std::vector<float> v = p.to_vector<float>();
    expected.emplace_back(v.begin(), v.end());
  }
  int64_t compiles = 0;
  for (int step = 0; step < 5; ++step) {
    const double decay = step < 2 ? 0.5 + 0.1 * step : 0.9;  // a warm-up: no recompile
    opt.zero_grad();
    cross_entropy(model.forward(x), labels).backward();
    opt.step();
    ema.update(model, decay);
    mark_step();
    if (step == 0) compiles = metrics::counter("UncachedCompile");
    const std::vector<Tensor> params = model.parameters();
    for (size_t i = 0; i < params.size(); ++i) {
      const std::vector<float> v = params[i].to_vector<float>();
      for (size_t j = 0; j < v.size(); ++j) {
        expected[i][j] = decay * expected[i][j] + (1 - decay) * v[j];
      }
    }
  }
  EXPECT_EQ(metrics::counter("UncachedCompile"), compiles);
  const std::vector<std::pair<std::string, Tensor>> named = model.named_parameters();
  for (size_t i = 0; i < named.size(); ++i) {
    const std::vector<float> want(expected[i].begin(), expected[i].end());
    EXPECT_THAT(ema.state_dict().at(named[i].first).to_vector<float>(), Near(want, 1e-6f))
        << named[i].first;
  }
  // The averages are not the weights, and copy_to gives a model that computes with them.
  EXPECT_NE(ema.state_dict().at("fc1.weight").to_vector<float>(),
            model.fc1()->weight().to_vector<float>());
  Generator other(4);
  nn::MLP averaged(4, 8, 2, other);
  ema.copy_to(averaged);
  EXPECT_EQ(averaged.fc2()->bias().to_vector<float>(),
            ema.state_dict().at("fc2.bias").to_vector<float>());
  // Decay 1 keeps the averages; decay 0 takes the weights.
  const std::vector<float> kept = ema.state_dict().at("fc1.bias").to_vector<float>();
  ema.update(model, 1.0);
  EXPECT_EQ(ema.state_dict().at("fc1.bias").to_vector<float>(), kept);
  ema.update(model, 0.0);
  EXPECT_EQ(ema.state_dict().at("fc1.bias").to_vector<float>(),
            model.fc1()->bias().to_vector<float>());
}

TEST(ModelEmaTest, LoadStateDictAndErrorsThatChangeNothing) {
  Generator gen(5);
  nn::MLP model(4, 8, 2, gen);
  ModelEma ema(model);
  EXPECT_EQ(ema.decay(), 0.9999);
  nn::MLP other(4, 8, 2, gen);
  ema.load_state_dict(other.state_dict());
  EXPECT_EQ(ema.state_dict().at("fc1.weight").to_vector<float>(),
            other.fc1()->weight().to_vector<float>());
  const std::vector<float> before = ema.state_dict().at("fc1.weight").to_vector<float>();

  EXPECT_THAT(ErrorOf([&] { ModelEma(model, 1.5); }),
              HasSubstr("ModelEma: decay must be in [0, 1], got 1.5"));
  EXPECT_THAT(ErrorOf([&] { ema.update(model, -0.1); }),
              HasSubstr("ModelEma: decay must be in [0, 1], got -0.1"));
  nn::MLP wider(4, 16, 2, gen);
  EXPECT_THAT(ErrorOf([&] { ema.update(wider); }),
              HasSubstr("ModelEma::update: mismatch for 'fc1.bias': the average has f32[8], the "
                        "state dict has f32[16]; mismatch for 'fc1.weight'"));
  StateDict missing = model.state_dict();
  missing.erase("fc2.bias");
  EXPECT_THAT(ErrorOf([&] { ema.load_state_dict(missing); }),
              HasSubstr("ModelEma::load_state_dict: missing keys 'fc2.bias'"));
  EXPECT_EQ(ema.state_dict().at("fc1.weight").to_vector<float>(), before);
}

}  // namespace
}  // namespace kiln::optim
