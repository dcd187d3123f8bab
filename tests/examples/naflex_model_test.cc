// The NaFlex ViT model: timm's parameter names, weight decay on Linear weights only, and
// masking: a sample's logits do not depend on the bucket it is padded to or on the other
// samples of its batch.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <string>

#include "examples/naflex_vit/model.h"
#include "examples/naflex_vit/procedural_data.h"
#include "lazy/graph_executor.h"
#include "lazy/nn_dropout.h"
#include "tests/examples/naflex_test_util.h"

namespace naflex {
namespace {

using ::testing::Contains;
using ::testing::Not;

TEST(NaFlexModelTest, ParametersAreNamedAsTimm) {
  kiln::Generator gen(0);
  const NaFlexViT model(ModelConfig{}, gen);
  std::vector<std::string> names;
  for (const auto& [name, t] : model.named_parameters()) names.push_back(name);
  EXPECT_THAT(names, Contains("patch_embed.weight"));
  EXPECT_THAT(names, Contains("pos_embed"));
  EXPECT_THAT(names, Contains("blocks.0.attn.qkv.weight"));
  EXPECT_THAT(names, Contains("blocks.5.mlp.fc2.bias"));
  EXPECT_THAT(names, Contains("norm.weight"));
  EXPECT_THAT(names, Contains("head.bias"));
  EXPECT_EQ(model.state_dict().at("pos_embed").sizes(), (kiln::Sizes{16, 16, 192}));
  // 768*192+192 + 16*16*192 + 6 blocks * 444864 + 2*192 + 192*10+10.
  EXPECT_EQ(model.num_parameters(), 147648 + 49152 + 6 * 444864 + 384 + 1930);
}

TEST(NaFlexModelTest, WeightDecayOnLinearWeightsOnly) {
  kiln::Generator gen(0);
  const NaFlexViT model(testing::TinyOptions().model, gen);
  const std::vector<kiln::optim::ParamGroup> groups = model.ParamGroups(0.05);
  ASSERT_EQ(groups.size(), 2u);
  EXPECT_EQ(*groups[0].weight_decay, 0.05);
  EXPECT_EQ(*groups[1].weight_decay, 0.0);
  // Linear weights: patch_embed, qkv, proj, fc1, fc2, head.
  EXPECT_EQ(groups[0].params.size(), 6u);
  for (const kiln::Tensor& p : groups[0].params) EXPECT_EQ(p.dim(), 2);
  const kiln::Tensor pos = model.state_dict().at("pos_embed");
  for (const kiln::Tensor& p : groups[0].params) EXPECT_NE(p.impl(), pos.impl());
  EXPECT_EQ(groups[0].params.size() + groups[1].params.size(), model.parameters().size());
}

// timm's rule: drop path rates rise linearly over the blocks; dropout is proj_drop.
TEST(NaFlexModelTest, RegularisationRatesAsTimm) {
  ModelConfig config = testing::TinyOptions().model;
  config.depth = 3;
  config.dropout = 0.1;
  config.attn_dropout = 0.05;
  config.drop_path = 0.3;
  kiln::Generator gen(2);
  const NaFlexViT model(config, gen);
  std::map<std::string, double> rates;
  for (const auto& [name, module] : model.named_modules()) {
    if (auto path = std::dynamic_pointer_cast<kiln::nn::DropPath>(module)) rates[name] = path->p();
    if (auto drop = std::dynamic_pointer_cast<kiln::nn::Dropout>(module)) rates[name] = drop->p();
  }
  EXPECT_EQ(rates.at("blocks.0.drop_path1"), 0.0);
  EXPECT_EQ(rates.at("blocks.1.drop_path2"), 0.15);
  EXPECT_EQ(rates.at("blocks.2.drop_path1"), 0.3);
  EXPECT_EQ(rates.at("blocks.2.attn.proj_drop"), 0.1);
  EXPECT_EQ(rates.at("blocks.2.attn.attn_drop"), 0.05);
  EXPECT_EQ(rates.at("blocks.0.mlp.drop2"), 0.1);
  EXPECT_EQ(rates.size(), 3u * 6);
  // Nothing of it is state: the checkpoint keys are the spec model's.
  kiln::Generator plain_gen(2);
  const NaFlexViT plain(testing::TinyOptions().model, plain_gen);
  EXPECT_EQ(model.state_dict().size(),
            plain.state_dict().size() + 2 * 12);  // two more blocks of 12 tensors
}

TEST(NaFlexModelTest, LogitsDoNotDependOnTheBucket) {
  const TrainOptions o = testing::TinyOptions();
  kiln::Generator gen(1);
  const NaFlexViT model(o.model, gen);
  const ProceduralDataset data({.seed = 3, .stream = 1, .patch = 4, .min_side = 4, .max_side = 8});
  // A sample of at most 32 tokens, and two others of up to 64.
  int64_t id = 0;
  while (data.Info(id).num_tokens() > 32) ++id;
  const Sample s = data.Make(id);
  const Sample other = data.Make(id + 1);
  const Sample third = data.Make(id + 2);
  const auto logits_of_s = [&](const std::vector<Sample>& samples, int64_t bucket, size_t at) {
    const ModelBatch mb = MakeBatchFromSamples(samples, std::vector<float>(samples.size(), 1.0f),
                                               bucket, 48, o.model.position_grid);
    const std::vector<float> all = model.forward(mb).to_vector<float>();
    return std::vector<float>(all.begin() + static_cast<std::ptrdiff_t>(at * 10),
                              all.begin() + static_cast<std::ptrdiff_t>(at * 10 + 10));
  };
  std::vector<Sample> small = {s};
  if (other.info.num_tokens() <= 32) small.push_back(other);
  const std::vector<float> in32 = logits_of_s(small, 32, 0);
  const std::vector<float> in64 = logits_of_s({other, third, s}, 64, 2);
  ASSERT_EQ(in32.size(), 10u);
  for (size_t k = 0; k < 10; ++k) EXPECT_NEAR(in32[k], in64[k], 1e-4) << "class " << k;
  EXPECT_THAT(in32, Not(Contains(0.0f)));  // real logits, not a padded row
}

}  // namespace
}  // namespace naflex
