// nn::Dropout and nn::DropPath modules, and the dropout of nn::MLP: the functional forms
// with a stream seeded from the generator, following train() / eval().
#include "lazy/nn_dropout.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "lazy/creation.h"
#include "lazy/nn_functional.h"
#include "lazy/nn_mlp.h"
#include "lazy/ops.h"
#include "tests/lazy/op_test_util.h"

namespace kiln::nn {
namespace {

using ::kiln::testing::ErrorOf;
using ::testing::HasSubstr;

TEST(NnDropoutModuleTest, IsTheFunctionalFormWithAStreamSeededFromTheGenerator) {
  Generator gen(31);
  Dropout dropout(0.3, gen);
  DropPath drop_path(0.6, gen);
  Generator seeds(31);
  Generator dropout_stream(seeds.NextU64());
  Generator path_stream(seeds.NextU64());
  Tensor x = randn({64, 5}, gen);
  for (int call = 0; call < 2; ++call) {  // each forward advances the stream
    EXPECT_EQ(dropout.forward(x).to_vector<float>(),
              nn::dropout(x, 0.3, dropout_stream).to_vector<float>());
    EXPECT_EQ(drop_path.forward(x).to_vector<float>(),
              nn::drop_path(x, 0.6, path_stream).to_vector<float>());
  }
  EXPECT_EQ(dropout.p(), 0.3);
  EXPECT_EQ(drop_path.p(), 0.6);
  EXPECT_EQ(dropout.state_dict().size(), 0u);
  dropout.eval();
  drop_path.eval();
  EXPECT_EQ(dropout.forward(x).impl(), x.impl());
  EXPECT_EQ(drop_path.forward(x).impl(), x.impl());
}

TEST(NnDropoutModuleTest, ARateOfZeroDrawsNothingFromTheGenerator) {
  Generator gen(32);
  Generator same(32);
  Dropout dropout(0, gen);
  DropPath drop_path(0, gen);
  MLP mlp(4, 8, 4, gen);
  MLP reference(4, 8, 4, same);
  EXPECT_EQ(mlp.fc2()->weight().to_vector<float>(), reference.fc2()->weight().to_vector<float>());
  EXPECT_EQ(gen.NextU64(), same.NextU64());
  Tensor x = randn({3, 4}, gen);
  EXPECT_EQ(dropout.forward(x).impl(), x.impl());
  EXPECT_EQ(drop_path.forward(x).impl(), x.impl());
}

// timm's Mlp(drop=): dropout after the activation and after fc2, seeded after the weights.
TEST(NnDropoutModuleTest, MlpDropsAfterTheActivationAndAfterFc2) {
  constexpr double kP = 0.25;
  Generator gen(33);
  MLP mlp(6, 12, 5, gen, GeluApproximation::kNone, kP);
  Generator probe(33);
  MLP plain(6, 12, 5, probe);
  Generator drop1(probe.NextU64());
  Generator drop2(probe.NextU64());
  Tensor x = randn({7, 6}, gen);
  const Tensor hidden = nn::dropout(gelu(plain.fc1()->forward(x)), kP, drop1);
  const Tensor expected = nn::dropout(plain.fc2()->forward(hidden), kP, drop2);
  EXPECT_EQ(mlp.forward(x).to_vector<float>(), expected.to_vector<float>());
  mlp.eval();
  EXPECT_EQ(mlp.forward(x).to_vector<float>(), plain.forward(x).to_vector<float>());
}

TEST(NnDropoutModuleTest, RatesOutsideZeroToOneAreRejectedBeforeAnythingIsDrawn) {
  Generator gen(34);
  Generator untouched(34);
  EXPECT_THAT(ErrorOf([&] { Dropout(1.5, gen); }),
              HasSubstr("Dropout: expected a dropout rate p in [0, 1], got 1.5"));
  EXPECT_THAT(ErrorOf([&] { DropPath(-0.5, gen); }),
              HasSubstr("DropPath: expected a dropout rate p in [0, 1], got -0.5"));
  EXPECT_THAT(ErrorOf([&] { MLP(4, 8, 4, gen, GeluApproximation::kNone, 2); }),
              HasSubstr("MLP: expected a dropout rate drop in [0, 1], got 2"));
  EXPECT_EQ(gen.NextU64(), untouched.NextU64());
}

// A model's streams by name, saved and loaded: after a load the model draws again the
// masks it drew after the save.
TEST(NnDropoutModuleTest, RngStateNamesEveryStreamAndReplaysTheMasks) {
  Generator gen(35);
  MLP mlp(6, 12, 5, gen, GeluApproximation::kNone, 0.4);
  std::vector<std::string> keys;
  for (const auto& [name, tensor] : mlp.rng_state()) {
    keys.push_back(name);
    EXPECT_EQ(tensor.shape().ToString(), "i64[6]");
  }
  EXPECT_THAT(keys, ::testing::ElementsAre("drop1.generator", "drop2.generator"));
  EXPECT_EQ(mlp.named_generators().size(), 2u);
  EXPECT_EQ(mlp.state_dict().count("drop1.generator"), 0u);  // not among the weights

  const Tensor x = randn({7, 6}, gen);
  mlp.forward(x).to_vector<float>();
  const StateDict saved = mlp.rng_state();
  const std::vector<float> first = mlp.forward(x).to_vector<float>();
  const std::vector<float> second = mlp.forward(x).to_vector<float>();
  EXPECT_NE(first, second);
  mlp.load_rng_state(saved);
  EXPECT_EQ(mlp.forward(x).to_vector<float>(), first);
  EXPECT_EQ(mlp.forward(x).to_vector<float>(), second);
}

TEST(NnDropoutModuleTest, RngStatesThatDoNotFitChangeNothing) {
  Generator gen(36);
  MLP mlp(6, 12, 5, gen, GeluApproximation::kNone, 0.4);
  const Tensor x = randn({7, 6}, gen);
  const StateDict saved = mlp.rng_state();
  const auto with = [&](const std::string& key, const Tensor& value) {
    StateDict state = saved;
    if (value.defined()) {
      state[key] = value;
    } else {
      state.erase(key);
    }
    return state;
  };
  // A new drop1 and a drop2 no generator can have: the load is all or nothing.
  const Generator::State other = Generator(5).state();
  StateDict bad_drop2 =
      with("drop2.generator", Tensor::from_vector<int64_t>({0, 0, 0, 0, 0, 0}, {6}));
  bad_drop2["drop1.generator"] =
      Tensor::from_vector<int64_t>(std::vector<int64_t>(other.begin(), other.end()), {6});
  EXPECT_THAT(ErrorOf([&] { mlp.load_rng_state(bad_drop2); }),
              HasSubstr("MLP::load_rng_state: 'drop2.generator': Generator::set_state: the four "
                        "stream words are all zero"));
  EXPECT_THAT(ErrorOf([&] { mlp.load_rng_state(with("drop1.generator", Tensor())); }),
              HasSubstr("MLP::load_rng_state: missing keys 'drop1.generator'"));
  EXPECT_THAT(ErrorOf([&] {
                mlp.load_rng_state(
                    with("drop1.generator", Tensor::from_vector<int64_t>({1, 2, 3, 4}, {4})));
              }),
              HasSubstr("mismatch for 'drop1.generator': the model has i64[6], the state dict "
                        "has i64[4]"));
  EXPECT_THAT(ErrorOf([&] { mlp.load_rng_state(mlp.state_dict()); }),
              HasSubstr("unexpected keys 'fc1.bias'"));
  EXPECT_EQ(mlp.rng_state().at("drop1.generator").to_vector<int64_t>(),
            saved.at("drop1.generator").to_vector<int64_t>());
  EXPECT_THAT(ErrorOf([&] {
                Generator stream(1);
                mlp.register_generator("drop1", stream);
              }),
              HasSubstr("MLP: cannot register generator 'drop1': the name is already taken"));
}

}  // namespace
}  // namespace kiln::nn
