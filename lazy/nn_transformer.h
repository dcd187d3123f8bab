#pragma once
// nn::TransformerBlock: the pre-LayerNorm transformer encoder block of ViT, named as
// timm's Block ("norm1", "attn", "drop_path1", "norm2", "mlp", "drop_path2"):
//
//   x = x + drop_path1(attn(norm1(x), key_padding_mask))
//   x = x + drop_path2(mlp(norm2(x)))
//
// With dim 192, 3 heads and hidden 768 it has 444,864 parameters, as timm's
// Block(192, num_heads=3, mlp_ratio=4, qkv_bias=True).
#include <cstdint>
#include <memory>

#include "lazy/composite_ops.h"
#include "lazy/generator.h"
#include "lazy/nn_attention.h"
#include "lazy/nn_dropout.h"
#include "lazy/nn_layer_norm.h"
#include "lazy/nn_mlp.h"
#include "lazy/nn_module.h"

namespace kiln::nn {

// A TransformerBlock's regularisation, timm's Block(attn_drop=, proj_drop=, drop_path=).
// All zero (the default): none, and nothing drawn from the generator for it.
struct DropRates {
  double attn = 0;  // dropout of the attention probabilities (attn.attn_drop)
  double proj = 0;  // dropout after attn.proj and after mlp's act and fc2 (proj_drop, drop1, drop2)
  double path = 0;  // stochastic depth of each residual branch (drop_path1, drop_path2)
};

class TransformerBlock : public Module {
 public:
  // norm1/norm2 = LayerNorm({dim}, eps) (eps defaults to ViT's 1e-6), attn =
  // MultiheadSelfAttention(dim, num_heads, qkv_bias), mlp = MLP(dim, mlp_hidden, dim,
  // approximation), with the dropout rates of `drop`. Random weights are drawn from `gen`
  // in the order attn.qkv, attn.proj, mlp.fc1, mlp.fc2, each module's dropout seeds
  // after its weights, the drop paths' last.
  TransformerBlock(int64_t dim, int64_t num_heads, int64_t mlp_hidden, Generator& gen,
                   double eps = 1e-6, GeluApproximation approximation = GeluApproximation::kNone,
                   bool qkv_bias = true, DropRates drop = {});

  // x [B, L, dim] -> [B, L, dim]; key_padding_mask as MultiheadSelfAttention's.
  Tensor forward(const Tensor& x, const Tensor& key_padding_mask = Tensor(),
                 CallSite site = {}) const;

  const std::shared_ptr<LayerNorm>& norm1() const { return norm1_; }
  const std::shared_ptr<MultiheadSelfAttention>& attn() const { return attn_; }
  const std::shared_ptr<LayerNorm>& norm2() const { return norm2_; }
  const std::shared_ptr<MLP>& mlp() const { return mlp_; }
  const std::shared_ptr<DropPath>& drop_path1() const { return drop_path1_; }
  const std::shared_ptr<DropPath>& drop_path2() const { return drop_path2_; }

 private:
  std::shared_ptr<LayerNorm> norm1_;
  std::shared_ptr<MultiheadSelfAttention> attn_;
  std::shared_ptr<DropPath> drop_path1_;
  std::shared_ptr<LayerNorm> norm2_;
  std::shared_ptr<MLP> mlp_;
  std::shared_ptr<DropPath> drop_path2_;
};

}  // namespace kiln::nn
