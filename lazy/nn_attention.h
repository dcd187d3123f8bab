#pragma once
// nn::MultiheadSelfAttention: multi-head scaled dot-product self-attention with a fused
// query/key/value projection, named as timm's Attention ("qkv", "proj"), so state dict
// keys and weight layouts match timm checkpoints:
//
//   qkv = x Wqkv^T + b        [B, L, 3D]; features [0, D) are q, [D, 2D) k, [2D, 3D) v,
//                             each split into heads of D / heads features
//   attn = attn_drop(masked_softmax(q k^T / sqrt(D / heads), key mask))   [B, heads, L, L]
//   out = proj_drop(proj(attn v, heads merged back))                      [B, L, D]
//
// The optional key padding mask [B, L] is bool with true for a valid token. Padded keys
// get no attention weight, so the valid tokens' outputs equal those of the unpadded
// sequence. A sample whose tokens are all padding attends to nothing: its attention
// weights are zeros (never NaN) and its output is proj's bias, with finite gradients.
#include <cstdint>
#include <memory>
#include <optional>

#include "lazy/generator.h"
#include "lazy/nn_dropout.h"
#include "lazy/nn_linear.h"
#include "lazy/nn_module.h"

namespace kiln::nn {

// torch.nn.functional.scaled_dot_product_attention:
//
//   softmax(q k^T * scale + mask) v     q [..., L, E], k [..., S, E], v [..., S, Ev]
//                                       -> [..., L, Ev], batch dimensions broadcast
//
// `attn_mask` is undefined, bool (true: the query may attend to the key; masked_softmax,
// so a query with no key to attend to gets zeros, not NaN) or of q's dtype (added to the
// scores), broadcastable to [..., L, S]. `is_causal`: query i attends to keys 0..i (no
// attn_mask then). `scale` defaults to 1 / sqrt(E). With dropout_p > 0 the attention
// weights go through dropout(p, *gen), which `gen` must then be given for. Floating
// inputs of one dtype; throws kiln::Error naming the op and the shapes otherwise.
Tensor scaled_dot_product_attention(const Tensor& q, const Tensor& k, const Tensor& v,
                                    const Tensor& attn_mask = Tensor(), double dropout_p = 0,
                                    bool is_causal = false,
                                    std::optional<double> scale = std::nullopt,
                                    Generator* gen = nullptr, CallSite site = {});

class MultiheadSelfAttention : public Module {
 public:
  // qkv = Linear(dim, 3 dim, qkv_bias), proj = Linear(dim, dim), initialised as Linear
  // (trunc normal std 0.02 weights, zero biases) from `gen` in that order; then attn_drop
  // = Dropout(attn_drop, gen) and proj_drop = Dropout(proj_drop, gen) (timm's Attention
  // arguments). dim must be divisible by num_heads.
  MultiheadSelfAttention(int64_t dim, int64_t num_heads, Generator& gen, bool qkv_bias = true,
                         double attn_drop = 0, double proj_drop = 0);

  // x [B, L, dim] -> [B, L, dim]; `key_padding_mask` is undefined or bool [B, L]. Throws
  // kiln::Error naming the module and the shapes on any other input.
  Tensor forward(const Tensor& x, const Tensor& key_padding_mask = Tensor(),
                 CallSite site = {}) const;

  int64_t dim() const { return dim_; }
  int64_t num_heads() const { return num_heads_; }
  const std::shared_ptr<Linear>& qkv() const { return qkv_; }
  const std::shared_ptr<Linear>& proj() const { return proj_; }
  const std::shared_ptr<Dropout>& attn_drop() const { return attn_drop_; }
  const std::shared_ptr<Dropout>& proj_drop() const { return proj_drop_; }

 private:
  int64_t dim_;
  int64_t num_heads_;
  std::shared_ptr<Linear> qkv_;
  std::shared_ptr<Dropout> attn_drop_;
  std::shared_ptr<Linear> proj_;
  std::shared_ptr<Dropout> proj_drop_;
};

}  // namespace kiln::nn
