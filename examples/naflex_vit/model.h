#pragma once
// The NaFlex ViT of the spec (shared/specs/vit_naflex.md), named as timm's ViT so its
// checkpoints read naturally ("patch_embed.weight", "blocks.0.attn.qkv.weight", "head.bias"):
//
//   x = patch_embed(tokens) + bilinear(pos_embed, h x w)     [B, L, 192]
//   x = blocks[0..5](x, mask)       pre-LayerNorm, 3 heads, GELU (tanh), eps 1e-6
//   logits = head(masked_mean(norm(x), mask))                [B, 10]
//
// Padded tokens are zeros with zero position weight; attention gives them no weight as
// keys and pooling ignores them, so a sample's logits do not depend on its bucket.
#include <cstdint>
#include <memory>
#include <vector>

#include "examples/naflex_vit/batch.h"
#include "lazy/generator.h"
#include "lazy/nn_layer_norm.h"
#include "lazy/nn_linear.h"
#include "lazy/nn_module.h"
#include "lazy/nn_module_list.h"
#include "lazy/optim_param_groups.h"

namespace naflex {

struct ModelConfig {
  int64_t token_features = 768;  // patch 16 x 16 x 3
  int64_t dim = 192;
  int64_t depth = 6;
  int64_t heads = 3;
  int64_t mlp_hidden = 768;
  int64_t classes = 10;
  int64_t position_grid = 16;  // the learned grid is position_grid x position_grid x dim
  // Regularisation, off in the spec: dropout after attn.proj and in the MLPs (timm's
  // proj_drop), of the attention probabilities (attn_drop), and stochastic depth rising
  // linearly from 0 at the first block to drop_path at the last (timm's drop_path_rate).
  double dropout = 0;
  double attn_dropout = 0;
  double drop_path = 0;
};

class NaFlexViT : public kiln::nn::Module {
 public:
  // Weights trunc_normal(std 0.02, cut at +-2 std), biases zeros, LayerNorm scales ones,
  // position grid trunc_normal(std 0.02), all drawn from `gen`.
  NaFlexViT(const ModelConfig& config, kiln::Generator& gen);

  // Logits [B, classes] of a batch (batch.h).
  kiln::Tensor forward(const ModelBatch& batch) const;
  // Weighted mean cross entropy of forward(batch) (fillers have weight 0).
  kiln::Tensor loss(const ModelBatch& batch) const;

  // AdamW groups: weight decay on the Linear weights only (not the position grid,
  // biases or LayerNorm parameters).
  std::vector<kiln::optim::ParamGroup> ParamGroups(double weight_decay) const;

  const ModelConfig& config() const { return config_; }

 private:
  ModelConfig config_;
  std::shared_ptr<kiln::nn::Linear> patch_embed_;
  kiln::Tensor pos_embed_;
  std::shared_ptr<kiln::nn::ModuleList> blocks_;
  std::shared_ptr<kiln::nn::LayerNorm> norm_;
  std::shared_ptr<kiln::nn::Linear> head_;
};

}  // namespace naflex
