// nn::Module: registration and naming, modes, zero_grad, state_dict save/load and its
// errors, and the Sequential / ModuleList containers.
#include "lazy/nn_module.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "lazy/creation.h"
#include "lazy/generator.h"
#include "lazy/nn_activations.h"
#include "lazy/nn_layer_norm.h"
#include "lazy/nn_linear.h"
#include "lazy/nn_mlp.h"
#include "lazy/nn_module_list.h"
#include "lazy/nn_sequential.h"
#include "lazy/ops.h"
#include "tests/lazy/op_test_util.h"

namespace kiln::nn {
namespace {

using ::kiln::testing::ErrorOf;
using ::kiln::testing::Near;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

std::vector<std::string> Names(const std::vector<std::pair<std::string, Tensor>>& named) {
  std::vector<std::string> names;
  for (const auto& [name, tensor] : named) names.push_back(name);
  return names;
}

// A module with its own parameter registered after a submodule, and a buffer.
class Toy : public Module {
 public:
  explicit Toy(Generator& gen) : Module("Toy") {
    head_ = register_module("head", std::make_shared<Linear>(3, 2, gen));
    scale_ = register_parameter("scale", randn({2}, gen));
    steps_ = register_buffer("steps", zeros({1}, DType::kI64));
  }
  Tensor forward(const Tensor& x) const { return mul(head_->forward(x), scale_); }

  std::shared_ptr<Linear> head_;
  Tensor scale_;
  Tensor steps_;
};

TEST(NnModuleTest, NamesAreHierarchicalAndOwnParametersComeFirst) {
  Generator gen(1);
  auto toy = std::make_shared<Toy>(gen);
  EXPECT_THAT(Names(toy->named_parameters()), ElementsAre("scale", "head.weight", "head.bias"));
  EXPECT_THAT(Names(toy->named_parameters(/*recurse=*/false)), ElementsAre("scale"));
  EXPECT_THAT(Names(toy->named_buffers()), ElementsAre("steps"));
  EXPECT_EQ(toy->parameters().size(), 3u);
  EXPECT_EQ(toy->num_parameters(), 2 + 3 * 2 + 2);
  for (const Tensor& p : toy->parameters()) EXPECT_TRUE(p.requires_grad());
  EXPECT_FALSE(toy->buffers()[0].requires_grad());
  // The registered tensors are the members themselves, not copies.
  EXPECT_EQ(toy->parameters()[1].impl(), toy->head_->weight().impl());
  ASSERT_EQ(toy->named_modules().size(), 1u);
  EXPECT_EQ(toy->named_modules()[0].first, "head");
  EXPECT_EQ(toy->children()[0], toy->head_);
  // The state dict holds parameters and buffers, sorted by name.
  std::vector<std::string> keys;
  for (const auto& [name, tensor] : toy->state_dict()) keys.push_back(name);
  EXPECT_THAT(keys, ElementsAre("head.bias", "head.weight", "scale", "steps"));
}

TEST(NnModuleTest, RegistrationErrorsNameTheModule) {
  Generator gen(2);
  Module m("Custom");
  m.register_parameter("w", randn({2}, gen));
  EXPECT_THAT(ErrorOf([&] { m.register_parameter("w", randn({2}, gen)); }),
              HasSubstr("Custom: cannot register parameter 'w': the name is already taken"));
  EXPECT_THAT(ErrorOf([&] { m.register_buffer("w", zeros({1})); }),
              HasSubstr("cannot register buffer 'w'"));
  EXPECT_THAT(ErrorOf([&] { m.register_parameter("a.b", randn({2}, gen)); }),
              HasSubstr("Custom: parameter name 'a.b' must be non-empty and contain no '.'"));
  EXPECT_THAT(ErrorOf([&] { m.register_parameter("i", zeros({2}, DType::kI64)); }),
              HasSubstr("Custom: parameter 'i' must be floating, got i64[2]"));
  EXPECT_THAT(ErrorOf([&] { m.register_parameter("u", Tensor()); }),
              HasSubstr("parameter 'u' is an undefined tensor"));
  EXPECT_THAT(ErrorOf([&] { m.register_module<Module>("child", nullptr); }),
              HasSubstr("submodule 'child' is null"));
  EXPECT_EQ(m.parameters().size(), 1u);
}

TEST(NnModuleTest, TrainAndEvalAreRecursive) {
  Generator gen(3);
  MLP mlp(4, 8, 2, gen);
  EXPECT_TRUE(mlp.is_training());
  mlp.eval();
  EXPECT_FALSE(mlp.is_training());
  EXPECT_FALSE(mlp.fc1()->is_training());
  EXPECT_FALSE(mlp.act()->is_training());
  EXPECT_FALSE(mlp.fc2()->is_training());
  mlp.train();
  EXPECT_TRUE(mlp.fc2()->is_training());
  mlp.fc1()->eval();  // a child alone
  EXPECT_TRUE(mlp.is_training());
  EXPECT_FALSE(mlp.fc1()->is_training());
}

TEST(NnModuleTest, ZeroGradDropsEveryGradient) {
  Generator gen(4);
  Module m("Custom");
  Tensor a = m.register_parameter("a", randn({3}, gen));
  auto child = m.register_module("child", std::make_shared<Module>("Child"));
  Tensor b = child->register_parameter("b", randn({3}, gen));
  sum(add(mul(a, a), mul(a, b))).backward();
  std::vector<float> av = a.to_vector<float>();
  std::vector<float> bv = b.to_vector<float>();
  // d/da = 2a + b, d/db = a.
  EXPECT_THAT(a.grad().to_vector<float>(),
              Near({2 * av[0] + bv[0], 2 * av[1] + bv[1], 2 * av[2] + bv[2]}));
  EXPECT_THAT(b.grad().to_vector<float>(), Near(av));
  m.zero_grad();
  EXPECT_FALSE(a.grad().defined());
  EXPECT_FALSE(b.grad().defined());
}

// Two MLPs with different seeds: their outputs differ until one loads the other's state.
TEST(NnModuleTest, StateDictRoundTripReproducesTheOutputs) {
  Generator gen_a(10);
  Generator gen_b(11);
  Generator gen_x(12);
  auto a = std::make_shared<MLP>(6, 12, 3, gen_a);
  auto b = std::make_shared<MLP>(6, 12, 3, gen_b);
  Tensor x = randn({2, 4, 6}, gen_x);
  std::vector<float> ya = a->forward(x).to_vector<float>();
  EXPECT_THAT(b->forward(x).to_vector<float>(), Not(Near(ya)));

  Tensor b_fc1_weight = b->fc1()->weight();
  b->load_state_dict(a->state_dict());
  EXPECT_THAT(b->forward(x).to_vector<float>(), Near(ya, 1e-6f));
  // Loading keeps the parameters' identity and their requires_grad.
  EXPECT_EQ(b_fc1_weight.impl(), b->fc1()->weight().impl());
  EXPECT_TRUE(b_fc1_weight.requires_grad());
  EXPECT_TRUE(b_fc1_weight.is_leaf());
  EXPECT_EQ(b_fc1_weight.to_vector<float>(), a->fc1()->weight().to_vector<float>());
}

TEST(NnModuleTest, LoadStateDictErrorsLeaveTheModelUnchanged) {
  Generator gen_a(20);
  Generator gen_b(21);
  Generator gen_x(22);
  auto a = std::make_shared<MLP>(4, 8, 2, gen_a);
  auto b = std::make_shared<MLP>(4, 8, 2, gen_b);
  Tensor x = randn({3, 4}, gen_x);
  const std::vector<float> before = b->forward(x).to_vector<float>();

  StateDict missing = a->state_dict();
  missing.erase("fc2.bias");
  EXPECT_THAT(ErrorOf([&] { b->load_state_dict(missing); }),
              HasSubstr("MLP::load_state_dict: missing keys 'fc2.bias'"));

  StateDict unexpected = a->state_dict();
  unexpected.emplace("fc3.weight", zeros({2}));
  EXPECT_THAT(ErrorOf([&] { b->load_state_dict(unexpected); }),
              HasSubstr("MLP::load_state_dict: unexpected keys 'fc3.weight'"));

  StateDict wrong_shape = a->state_dict();
  wrong_shape["fc1.weight"] = zeros({4, 8});
  EXPECT_THAT(ErrorOf([&] { b->load_state_dict(wrong_shape); }),
              HasSubstr("mismatch for 'fc1.weight': the model has f32[8,4], the state dict has "
                        "f32[4,8]"));

  StateDict wrong_dtype = a->state_dict();
  wrong_dtype["fc2.bias"] = zeros({2}, DType::kF64);
  EXPECT_THAT(ErrorOf([&] { b->load_state_dict(wrong_dtype); }),
              HasSubstr("mismatch for 'fc2.bias': the model has f32[2], the state dict has "
                        "f64[2]"));

  // Several problems are reported together.
  StateDict both = a->state_dict();
  both.erase("fc1.bias");
  both.emplace("extra", zeros({1}));
  const std::string message = ErrorOf([&] { b->load_state_dict(both); });
  EXPECT_THAT(message, HasSubstr("missing keys 'fc1.bias'"));
  EXPECT_THAT(message, HasSubstr("unexpected keys 'extra'"));

  // Every failed load (even those whose other entries were fine) changed nothing.
  EXPECT_THAT(b->forward(x).to_vector<float>(), Near(before, 0));
}

TEST(NnModuleTest, BuffersAreSavedAndLoaded) {
  Generator gen(30);
  auto a = std::make_shared<Toy>(gen);
  auto b = std::make_shared<Toy>(gen);
  {
    Tensor steps = a->steps_;
    steps.assign_(full({1}, int64_t{7}, DType::kI64));
  }
  b->load_state_dict(a->state_dict());
  EXPECT_THAT(b->steps_.to_vector<int64_t>(), ElementsAre(7));
}

TEST(NnSequentialTest, RunsChildrenInOrderWithPositionalNames) {
  Generator gen(40);
  Generator gen_x(41);
  auto seq = std::make_shared<Sequential>();
  auto fc1 = seq->push_back(std::make_shared<Linear>(3, 5, gen));
  seq->push_back(std::make_shared<GELU>());
  auto fc2 = seq->push_back("out", std::make_shared<Linear>(5, 2, gen));
  EXPECT_EQ(seq->size(), 3u);
  EXPECT_THAT(Names(seq->named_parameters()),
              ElementsAre("0.weight", "0.bias", "out.weight", "out.bias"));
  EXPECT_EQ((*seq)[2], fc2);
  Tensor x = randn({4, 3}, gen_x);
  EXPECT_THAT(seq->forward(x).to_vector<float>(),
              Near(fc2->forward(gelu(fc1->forward(x))).to_vector<float>(), 1e-6f));
  EXPECT_THAT(ErrorOf([&] { (void)(*seq)[3]; }),
              HasSubstr("Sequential: index 3 is out of range for 3 modules"));
  // Nested containers name through.
  auto outer = std::make_shared<Sequential>();
  outer->push_back(seq);
  EXPECT_EQ(Names(outer->named_parameters())[2], "0.out.weight");
  auto empty = std::make_shared<Sequential>();
  EXPECT_EQ(empty->forward(x).impl(), x.impl());
}

TEST(NnModuleListTest, IndexesAndNamesItsElements) {
  Generator gen(50);
  auto root = std::make_shared<Module>("Root");
  auto blocks = root->register_module("blocks", std::make_shared<ModuleList>());
  blocks->push_back(std::make_shared<Linear>(2, 2, gen));
  blocks->push_back(std::make_shared<LayerNorm>(std::vector<int64_t>{2}));
  EXPECT_EQ(blocks->size(), 2u);
  EXPECT_THAT(Names(root->named_parameters()),
              ElementsAre("blocks.0.weight", "blocks.0.bias", "blocks.1.weight", "blocks.1.bias"));
  EXPECT_EQ(blocks->at<Linear>(0)->in_features(), 2);
  EXPECT_EQ((*blocks)[1]->type_name(), "LayerNorm");
  EXPECT_THAT(ErrorOf([&] { (void)blocks->at<Linear>(1); }),
              HasSubstr("ModuleList: element 1 is a LayerNorm, not the requested type"));
  EXPECT_THAT(ErrorOf([&] { (void)(*blocks)[2]; }),
              HasSubstr("ModuleList: index 2 is out of range for 2 modules"));
  int count = 0;
  for (const auto& module : *blocks) count += module != nullptr;
  EXPECT_EQ(count, 2);
}

}  // namespace
}  // namespace kiln::nn
