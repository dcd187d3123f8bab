// nn::TransformerBlock: two pre-norm residual branches.
#include "lazy/nn_transformer.h"

#include "lazy/ops.h"

namespace kiln::nn {

TransformerBlock::TransformerBlock(int64_t dim, int64_t num_heads, int64_t mlp_hidden,
                                   Generator& gen, double eps, GeluApproximation approximation,
                                   bool qkv_bias)
    : Module("TransformerBlock") {
  norm1_ = register_module("norm1", std::make_shared<LayerNorm>(std::vector<int64_t>{dim}, eps));
  attn_ = register_module("attn",
                          std::make_shared<MultiheadSelfAttention>(dim, num_heads, gen, qkv_bias));
  norm2_ = register_module("norm2", std::make_shared<LayerNorm>(std::vector<int64_t>{dim}, eps));
  mlp_ = register_module("mlp", std::make_shared<MLP>(dim, mlp_hidden, dim, gen, approximation));
}

Tensor TransformerBlock::forward(const Tensor& x, const Tensor& key_padding_mask,
                                 CallSite site) const {
  Tensor h = add(x, attn_->forward(norm1_->forward(x, site), key_padding_mask, site), site);
  return add(h, mlp_->forward(norm2_->forward(h, site), site), site);
}

}  // namespace kiln::nn
