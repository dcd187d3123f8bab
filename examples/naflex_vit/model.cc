#include "examples/naflex_vit/model.h"

#include "lazy/composite_ops.h"
#include "lazy/creation.h"
#include "lazy/nn_init.h"
#include "lazy/nn_loss.h"
#include "lazy/nn_transformer.h"
#include "lazy/ops.h"

namespace naflex {

using kiln::Tensor;
namespace nn = kiln::nn;

NaFlexViT::NaFlexViT(const ModelConfig& config, kiln::Generator& gen)
    : Module("NaFlexViT"), config_(config) {
  patch_embed_ = register_module(
      "patch_embed", std::make_shared<nn::Linear>(config.token_features, config.dim, gen));
  pos_embed_ = register_parameter(
      "pos_embed",
      kiln::full_data({config.position_grid, config.position_grid, config.dim}, 0.0));
  nn::init::trunc_normal_(pos_embed_, 0.02, gen);
  blocks_ = register_module("blocks", std::make_shared<nn::ModuleList>());
  for (int64_t i = 0; i < config.depth; ++i) {
    // timm's linspace(0, drop_path, depth).
    const double path = config.depth > 1 ? config.drop_path * i / (config.depth - 1) : 0.0;
    blocks_->push_back(std::make_shared<nn::TransformerBlock>(
        config.dim, config.heads, config.mlp_hidden, gen, /*eps=*/1e-6,
        kiln::GeluApproximation::kTanh, /*qkv_bias=*/true,
        nn::DropRates{.attn = config.attn_dropout, .proj = config.dropout, .path = path}));
  }
  norm_ = register_module("norm", std::make_shared<nn::LayerNorm>(std::vector<int64_t>{config.dim}, 1e-6));
  head_ = register_module("head", std::make_shared<nn::Linear>(config.dim, config.classes, gen));
}

Tensor NaFlexViT::forward(const ModelBatch& batch) const {
  const int64_t b = batch.batch_size;
  const int64_t l = batch.bucket;
  const int64_t d = config_.dim;
  Tensor x = patch_embed_->forward(batch.tokens);
  // Bilinear resampling of the grid: 4 gathered rows per token, blended on the host's weights.
  const Tensor grid = pos_embed_.reshape({config_.position_grid * config_.position_grid, d});
  const Tensor taps = kiln::index_select(grid, 0, batch.pos_index).reshape({b, l, 4, d});
  x = x + kiln::sum(taps * batch.pos_weight, {2});
  for (size_t i = 0; i < blocks_->size(); ++i) {
    x = blocks_->at<nn::TransformerBlock>(i)->forward(x, batch.mask);
  }
  x = norm_->forward(x);
  const Tensor valid = batch.mask.to(kiln::DType::kF32).unsqueeze(-1);  // [B, L, 1]
  const Tensor count = kiln::maximum(kiln::sum(valid, {1}), 1.0);     // [B, 1]
  const Tensor pooled = kiln::sum(x * valid, {1}) / count;             // [B, D]
  return head_->forward(pooled);
}

Tensor NaFlexViT::loss(const ModelBatch& batch) const {
  return nn::cross_entropy(forward(batch), batch.labels, batch.weights);
}

std::vector<kiln::optim::ParamGroup> NaFlexViT::ParamGroups(double weight_decay) const {
  kiln::optim::ParamGroup decay{.weight_decay = weight_decay};
  kiln::optim::ParamGroup no_decay{.weight_decay = 0.0};
  std::vector<const Tensor*> linear_weights;
  for (const auto& [name, module] : named_modules()) {
    if (const auto* linear = dynamic_cast<const nn::Linear*>(module.get())) {
      linear_weights.push_back(&linear->weight());
    }
  }
  for (const Tensor& p : parameters()) {
    bool is_linear_weight = false;
    for (const Tensor* w : linear_weights) is_linear_weight = is_linear_weight || w->impl() == p.impl();
    (is_linear_weight ? decay : no_decay).params.push_back(p);
  }
  return {decay, no_decay};
}

}  // namespace naflex
