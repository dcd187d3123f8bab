// nn::Dropout and nn::DropPath modules, and the dropout of nn::MLP: the functional forms
// with a stream seeded from the generator, following train() / eval().
#include "lazy/nn_dropout.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

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

}  // namespace
}  // namespace kiln::nn
