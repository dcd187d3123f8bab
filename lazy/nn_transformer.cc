// nn::TransformerBlock: two pre-norm residual branches.
#include "lazy/nn_transformer.h"

#include "lazy/ops.h"

namespace kiln::nn {

TransformerBlock::TransformerBlock(int64_t dim, int64_t num_heads, int64_t mlp_hidden,
                                   Generator& gen, double eps, GeluApproximation approximation,
                                   bool qkv_bias, DropRates drop)
    : Module("TransformerBlock") {
  CheckDropRate("TransformerBlock", "drop.attn", drop.attn);
  CheckDropRate("TransformerBlock", "drop.proj", drop.proj);
  CheckDropRate("TransformerBlock", "drop.path", drop.path);
  norm1_ = register_module("norm1", std::make_shared<LayerNorm>(std::vector<int64_t>{dim}, eps));
  attn_ = register_module("attn", std::make_shared<MultiheadSelfAttention>(
                                      dim, num_heads, gen, qkv_bias, drop.attn, drop.proj));
  auto mlp = std::make_shared<MLP>(dim, mlp_hidden, dim, gen, approximation, drop.proj);
  drop_path1_ = register_module("drop_path1", std::make_shared<DropPath>(drop.path, gen));
  norm2_ = register_module("norm2", std::make_shared<LayerNorm>(std::vector<int64_t>{dim}, eps));
  mlp_ = register_module("mlp", std::move(mlp));
  drop_path2_ = register_module("drop_path2", std::make_shared<DropPath>(drop.path, gen));
}

Tensor TransformerBlock::forward(const Tensor& x, const Tensor& key_padding_mask,
                                 CallSite site) const {
  const Tensor attended = attn_->forward(norm1_->forward(x, site), key_padding_mask, site);
  const Tensor h = add(x, drop_path1_->forward(attended, site), site);
  return add(h, drop_path2_->forward(mlp_->forward(norm2_->forward(h, site), site), site), site);
}

}  // namespace kiln::nn
