// Optimizer::state_dict / load_state_dict and optimizer checkpoints: the names torch
// gives the state, training resumed from files continuing bit for bit (and compiling
// nothing), and loads that do not fit changing nothing.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "lazy/composite_ops.h"
#include "lazy/creation.h"
#include "lazy/generator.h"
#include "lazy/graph_executor.h"
#include "lazy/nn_linear.h"
#include "lazy/nn_mlp.h"
#include "lazy/optim_adamw.h"
#include "lazy/optim_param_groups.h"
#include "lazy/optim_sgd.h"
#include "lazy/safetensors.h"
#include "tests/lazy/op_test_util.h"
#include "tests/lazy/optim_test_util.h"
#include "util/metrics.h"

namespace kiln::optim {
namespace {

using ::kiln::testing::ErrorOf;
using ::kiln::testing::F64Param;
using ::kiln::testing::RandomVector;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr int64_t kSteps = 6;

std::string TempPath(const std::string& name) {
  return (std::filesystem::temp_directory_path() /
          ("kiln_optim_state_test_" + std::to_string(::getpid()) + "_" + name))
      .string();
}

std::vector<std::string> Keys(const StateDict& state) {
  std::vector<std::string> keys;
  for (const auto& [name, tensor] : state) keys.push_back(name);
  return keys;
}

// A classifier's training steps [from, to) on fixed data, the lr changing every step.
class Classifier {
 public:
  explicit Classifier(uint64_t seed, double weight_decay = 0.1, double dropout = 0)
      : gen_(seed),
        model_(4, 16, 3, gen_, GeluApproximation::kNone, dropout),
        opt_(DecayGroupsByRank(model_.named_parameters(), weight_decay), {.lr = 0.05}) {}

  void Train(int64_t from, int64_t to) {
    Generator data(77);
    const Tensor x = randn({32, 4}, data);
    const Tensor labels = Tensor::from_vector<int64_t>(
        std::vector<int64_t>{0, 1, 2, 2, 1, 0, 1, 2, 0, 0, 1, 2, 2, 2, 1, 0,
                             1, 1, 0, 2, 0, 1, 2, 0, 2, 1, 1, 0, 0, 2, 1, 2},
        {32});
    for (int64_t step = from; step < to; ++step) {
      opt_.zero_grad();
      opt_.set_lr(0.05 * static_cast<double>(kSteps - step) / kSteps);
      Tensor loss = cross_entropy(model_.forward(x), labels);
      loss.backward();
      opt_.step();
      mark_step();
    }
  }

  std::vector<std::vector<float>> Weights() const {
    std::vector<std::vector<float>> out;
    for (const Tensor& p : model_.parameters()) out.push_back(p.to_vector<float>());
    return out;
  }

  nn::MLP& model() { return model_; }
  AdamW& opt() { return opt_; }

 private:
  Generator gen_;
  nn::MLP model_;
  AdamW opt_;
};

TEST(OptimStateTest, StateDictNamesTheStateAsTorch) {
  Tensor w = F64Param(RandomVector(6, 1), {2, 3});
  Tensor b = F64Param(RandomVector(3, 2), {3});
  AdamW adam({ParamGroup{.params = {w}, .weight_decay = 0.1}, ParamGroup{.params = {b}}},
             {.lr = 0.01, .weight_decay = 0});
  sum(mul(w, w)).backward();  // only w has a gradient: only its count moves
  adam.step();
  mark_step();
  const StateDict state = adam.state_dict();
  EXPECT_THAT(
      Keys(state),
      ElementsAre("param_groups.0.lr", "param_groups.0.weight_decay", "param_groups.1.lr",
                  "param_groups.1.weight_decay", "state.0.exp_avg", "state.0.exp_avg_sq",
                  "state.0.step", "state.1.exp_avg", "state.1.exp_avg_sq", "state.1.step", "step"));
  EXPECT_EQ(state.at("state.0.exp_avg").shape().ToString(), "f64[2,3]");
  EXPECT_EQ(state.at("state.0.exp_avg").impl(), adam.state(0, 0).exp_avg.impl());  // live
  EXPECT_EQ(state.at("step").shape().ToString(), "i64[]");
  EXPECT_EQ(state.at("step").to_vector<int64_t>(), std::vector<int64_t>{1});
  EXPECT_EQ(state.at("state.0.step").to_vector<int64_t>(), std::vector<int64_t>{1});
  EXPECT_EQ(state.at("state.1.step").to_vector<int64_t>(), std::vector<int64_t>{0});
  EXPECT_EQ(state.at("param_groups.0.weight_decay").to_vector<double>(), std::vector<double>{0.1});
  EXPECT_EQ(state.at("param_groups.1.lr").to_vector<double>(), std::vector<double>{0.01});

  SGD momentum({w, b}, {.lr = 0.1, .momentum = 0.9});
  EXPECT_THAT(Keys(momentum.state_dict()),
              ElementsAre("param_groups.0.lr", "param_groups.0.weight_decay",
                          "state.0.momentum_buffer", "state.1.momentum_buffer", "step"));
  SGD plain({w, b}, {.lr = 0.1});
  EXPECT_THAT(Keys(plain.state_dict()),
              ElementsAre("param_groups.0.lr", "param_groups.0.weight_decay", "step"));
}

TEST(OptimStateTest, TrainingResumedFromCheckpointsIsTheUninterruptedRun) {
  Classifier whole(5);
  whole.Train(0, kSteps);

  Classifier first_half(5);
  first_half.Train(0, kSteps / 2);
  const std::string model_path = TempPath("model.safetensors");
  const std::string opt_path = TempPath("optimizer.safetensors");
  save_checkpoint(model_path, first_half.model());
  save_checkpoint(opt_path, first_half.opt(), {{"step", "3"}});

  // Other weights, other weight decay: the checkpoints replace both.
  Classifier resumed(99, /*weight_decay=*/0.5);
  load_checkpoint(model_path, resumed.model());
  SafetensorsMetadata metadata;
  load_checkpoint(opt_path, resumed.opt(), &metadata);
  EXPECT_EQ(metadata.at("step"), "3");
  EXPECT_EQ(resumed.opt().step_count(), kSteps / 2);
  EXPECT_EQ(resumed.opt().state(0, 0).step, kSteps / 2);
  EXPECT_EQ(resumed.opt().weight_decay(0), 0.1);
  const int64_t compiles = metrics::counter("UncachedCompile");
  resumed.Train(kSteps / 2, kSteps);
  EXPECT_EQ(metrics::counter("UncachedCompile"), compiles);  // the graph compiled before
  EXPECT_EQ(resumed.Weights(), whole.Weights());             // bit for bit

  // The weights alone do not resume the run: the moments and the step count matter.
  Classifier weights_only(99, 0.1);
  load_checkpoint(model_path, weights_only.model());
  weights_only.Train(kSteps / 2, kSteps);
  EXPECT_NE(weights_only.Weights(), whole.Weights());
  std::filesystem::remove(model_path);
  std::filesystem::remove(opt_path);
}

TEST(OptimStateTest, LoadsThatDoNotFitChangeNothing) {
  Classifier run(6);
  run.Train(0, 2);
  AdamW& opt = run.opt();
  const std::vector<float> exp_avg = opt.state(0, 0).exp_avg.to_vector<float>();
  const auto state_with = [&](const std::string& key, const Tensor& value) {
    StateDict state = opt.state_dict();
    if (value.defined()) {
      state[key] = value;
    } else {
      state.erase(key);
    }
    return state;
  };
  const Tensor zeros_like_moment = zeros({16, 4});
  EXPECT_THAT(ErrorOf([&] { opt.load_state_dict(state_with("state.0.exp_avg", Tensor())); }),
              HasSubstr("AdamW::load_state_dict: missing keys 'state.0.exp_avg'"));
  EXPECT_THAT(
      ErrorOf([&] { opt.load_state_dict(state_with("state.9.exp_avg", zeros_like_moment)); }),
      HasSubstr("AdamW::load_state_dict: unexpected keys 'state.9.exp_avg'"));
  EXPECT_THAT(ErrorOf([&] {
                opt.load_state_dict(state_with("state.0.exp_avg", zeros({4, 16})));
              }),
              HasSubstr("mismatch for 'state.0.exp_avg': the optimizer has f32[16,4], the state "
                        "dict has f32[4,16]"));
  EXPECT_THAT(
      ErrorOf([&] {
        opt.load_state_dict(state_with("state.2.step", Tensor::from_vector<int64_t>({-1}, {})));
      }),
      HasSubstr("AdamW::load_state_dict: 'state.2.step' must be >= 0, got -1"));
  EXPECT_THAT(ErrorOf([&] {
                opt.load_state_dict(state_with("step", Tensor::from_vector<double>({2}, {})));
              }),
              HasSubstr("mismatch for 'step': the optimizer has i64[], the state dict has f64[]"));
  EXPECT_THAT(
      ErrorOf([&] {
        opt.load_state_dict(
            state_with("param_groups.1.lr", Tensor::from_vector<double>({-0.5}, {})));
      }),
      HasSubstr("AdamW: load_state_dict: 'param_groups.1.lr' must be in [0, inf), got -0.5"));
  // Another kind of optimizer's state, and a model checkpoint given as an optimizer's.
  SGD sgd(run.model().parameters(), {.lr = 0.1, .momentum = 0.9});
  EXPECT_THAT(ErrorOf([&] { opt.load_state_dict(sgd.state_dict()); }),
              HasSubstr("unexpected keys 'state.0.momentum_buffer'"));
  const std::string path = TempPath("weights.safetensors");
  save_checkpoint(path, run.model());
  EXPECT_THAT(ErrorOf([&] { load_checkpoint(path, opt); }),
              HasSubstr(path + ": AdamW::load_state_dict: missing keys"));
  std::filesystem::remove(path);

  EXPECT_EQ(opt.step_count(), 2);
  EXPECT_EQ(opt.state(1, 0).step, 2);  // "state.2": the first of group 1
  EXPECT_EQ(opt.lr(1), 0.05 * (kSteps - 1) / kSteps);
  EXPECT_EQ(opt.state(0, 0).exp_avg.to_vector<float>(), exp_avg);
}

// With dropout, the weights and the optimizer are not enough: the masks go on from the
// streams' states, which the training state holds beside the optimizer's.
TEST(OptimStateTest, TrainingStateResumesARunWithDropoutExactly) {
  constexpr double kDropout = 0.3;
  Classifier whole(5, 0.1, kDropout);
  whole.Train(0, kSteps);

  Classifier first_half(5, 0.1, kDropout);
  first_half.Train(0, kSteps / 2);
  const std::string model_path = TempPath("dropout_model.safetensors");
  const std::string state_path = TempPath("dropout.train.safetensors");
  const std::string opt_path = TempPath("dropout_optimizer.safetensors");
  save_checkpoint(model_path, first_half.model());
  save_training_state(state_path, first_half.model(), first_half.opt(), {{"step", "3"}});
  save_checkpoint(opt_path, first_half.opt());
  const TensorMap file = load_safetensors(state_path);
  EXPECT_EQ(file.size(), first_half.opt().state_dict().size() + 2);
  EXPECT_EQ(file.count("optimizer.state.0.exp_avg"), 1u);
  EXPECT_EQ(file.count("rng.drop1.generator"), 1u);
  EXPECT_EQ(file.count("rng.drop2.generator"), 1u);

  Classifier resumed(99, 0.5, kDropout);
  load_checkpoint(model_path, resumed.model());
  SafetensorsMetadata metadata;
  load_training_state(state_path, resumed.model(), resumed.opt(), &metadata);
  EXPECT_EQ(metadata.at("step"), "3");
  EXPECT_EQ(resumed.opt().step_count(), kSteps / 2);
  const int64_t compiles = metrics::counter("UncachedCompile");
  resumed.Train(kSteps / 2, kSteps);
  EXPECT_EQ(metrics::counter("UncachedCompile"), compiles);
  EXPECT_EQ(resumed.Weights(), whole.Weights());  // bit for bit

  // The same seed and the optimizer's file, but the streams back at their seeds.
  Classifier optimizer_only(5, 0.1, kDropout);
  load_checkpoint(model_path, optimizer_only.model());
  load_checkpoint(opt_path, optimizer_only.opt());
  optimizer_only.Train(kSteps / 2, kSteps);
  EXPECT_NE(optimizer_only.Weights(), whole.Weights());
  for (const std::string& path : {model_path, state_path, opt_path}) std::filesystem::remove(path);
}

TEST(OptimStateTest, TrainingStatesThatDoNotFitChangeNothing) {
  Classifier trained(7, 0.1, 0.3);
  trained.Train(0, 2);
  Classifier fresh(8, 0.1, 0.3);
  const StateDict streams = fresh.model().rng_state();
  const auto same_streams = [&] {
    for (const auto& [name, tensor] : fresh.model().rng_state()) {
      if (tensor.to_vector<int64_t>() != streams.at(name).to_vector<int64_t>()) return false;
    }
    return true;
  };
  // The streams fit and would load; the optimizer's state is another kind's.
  const std::string path = TempPath("sgd.train.safetensors");
  SGD sgd(trained.model().parameters(), {.lr = 0.1, .momentum = 0.9});
  save_training_state(path, trained.model(), sgd);
  EXPECT_THAT(ErrorOf([&] { load_training_state(path, fresh.model(), fresh.opt()); }),
              HasSubstr(path + ": AdamW::load_state_dict: missing keys"));
  EXPECT_TRUE(same_streams());
  EXPECT_EQ(fresh.opt().step_count(), 0);

  save_safetensors(path, {{"weights.fc1", zeros({2})}});
  EXPECT_THAT(ErrorOf([&] { load_training_state(path, fresh.model(), fresh.opt()); }),
              HasSubstr(path + ": unexpected key 'weights.fc1' in a training state"));
  Generator gen(9);
  nn::Linear linear(4, 3, gen);  // no dropout modules: no streams
  save_training_state(path, linear, trained.opt());
  EXPECT_THAT(ErrorOf([&] { load_training_state(path, fresh.model(), fresh.opt()); }),
              HasSubstr("MLP::load_rng_state: missing keys 'drop1.generator', 'drop2.generator'"));
  EXPECT_TRUE(same_streams());
  EXPECT_EQ(fresh.opt().step_count(), 0);
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace kiln::optim
