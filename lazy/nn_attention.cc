// nn::MultiheadSelfAttention: head split, masked scaled dot-product attention, merge.
#include "lazy/nn_attention.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "lazy/nn_functional.h"
#include "lazy/ops.h"
#include "util/error.h"

namespace kiln::nn {

MultiheadSelfAttention::MultiheadSelfAttention(int64_t dim, int64_t num_heads, Generator& gen,
                                               bool qkv_bias, double attn_drop, double proj_drop)
    : Module("MultiheadSelfAttention"), dim_(dim), num_heads_(num_heads) {
  if (dim <= 0 || num_heads <= 0 || dim % num_heads != 0) {
    throw Error(absl::StrCat("MultiheadSelfAttention: dim ", dim,
                             " must be positive and divisible by num_heads ", num_heads));
  }
  CheckDropRate("MultiheadSelfAttention", "attn_drop", attn_drop);
  CheckDropRate("MultiheadSelfAttention", "proj_drop", proj_drop);
  qkv_ = register_module("qkv", std::make_shared<Linear>(dim, 3 * dim, gen, qkv_bias));
  auto proj = std::make_shared<Linear>(dim, dim, gen);
  attn_drop_ = register_module("attn_drop", std::make_shared<Dropout>(attn_drop, gen));
  proj_ = register_module("proj", std::move(proj));
  proj_drop_ = register_module("proj_drop", std::make_shared<Dropout>(proj_drop, gen));
}

Tensor MultiheadSelfAttention::forward(const Tensor& x, const Tensor& key_padding_mask,
                                       CallSite site) const {
  const std::string who =
      absl::StrCat("MultiheadSelfAttention(dim ", dim_, ", heads ", num_heads_, ")");
  if (!x.defined()) throw Error(absl::StrCat(who, ": the input is undefined"));
  if (x.dim() != 3 || x.size(2) != dim_) {
    throw Error(
        absl::StrCat(who, ": expected an input [B, L, ", dim_, "], got ", x.shape().ToString()));
  }
  const int64_t batch = x.size(0);
  const int64_t length = x.size(1);
  Tensor key_mask;
  if (key_padding_mask.defined()) {
    if (key_padding_mask.dtype() != DType::kBool || key_padding_mask.dim() != 2 ||
        key_padding_mask.size(0) != batch || key_padding_mask.size(1) != length) {
      throw Error(absl::StrCat(who, ": expected a bool key padding mask [B, L] = [", batch, ",",
                               length, "] for input ", x.shape().ToString(), ", got ",
                               key_padding_mask.shape().ToString()));
    }
    key_mask = reshape(key_padding_mask, {batch, 1, 1, length}, site);
  }
  const int64_t head_dim = dim_ / num_heads_;
  Tensor qkv = qkv_->forward(x, site);
  // Part p (q, k or v) as [B, heads, L, head_dim].
  const auto heads = [&](int64_t part) {
    Tensor features = slice(qkv, 2, part * dim_, (part + 1) * dim_, 1, site);
    return permute(reshape(features, {batch, length, num_heads_, head_dim}, site), {0, 2, 1, 3},
                   site);
  };
  Tensor q = mul(heads(0), Scalar(1.0 / std::sqrt(static_cast<double>(head_dim))), site);
  Tensor k = heads(1);
  Tensor v = heads(2);
  Tensor scores = matmul(q, transpose(k, 2, 3, site), site);  // [B, heads, L, L]
  Tensor attn = attn_drop_->forward(masked_softmax(scores, key_mask, -1, site), site);
  Tensor out = matmul(attn, v, site);  // [B, heads, L, head_dim]
  out = reshape(permute(out, {0, 2, 1, 3}, site), {batch, length, dim_}, site);
  return proj_drop_->forward(proj_->forward(out, site), site);
}

}  // namespace kiln::nn
