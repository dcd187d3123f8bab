// Scaled dot-product attention, and nn::MultiheadSelfAttention: head split, attention,
// merge.
#include "lazy/nn_attention.h"

#include <cmath>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/strings/str_cat.h"
#include "lazy/nn_functional.h"
#include "lazy/op_utils.h"
#include "lazy/ops.h"
#include "lazy/scalar_tensor.h"
#include "util/error.h"

namespace kiln::nn {
namespace {

using internal::ThrowOpError;

// softmax(q k^T + additive) over the keys where `mask` is true, weights through `drop`,
// times v. q is already scaled; either mask may be undefined.
Tensor Attend(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& mask,
              const Tensor& additive, absl::FunctionRef<Tensor(const Tensor&)> drop,
              const CallSite& site) {
  Tensor scores = matmul(q, transpose(k, -2, -1, site), site);  // [..., L, S]
  if (additive.defined()) scores = add(scores, additive, site);
  return matmul(drop(masked_softmax(scores, mask, -1, site)), v, site);
}

}  // namespace

Tensor scaled_dot_product_attention(const Tensor& q, const Tensor& k, const Tensor& v,
                                    const Tensor& attn_mask, double dropout_p, bool is_causal,
                                    std::optional<double> scale, Generator* gen, CallSite site) {
  constexpr std::string_view kOp = "scaled_dot_product_attention";
  const Shape& qs = internal::CheckOperand(kOp, q, "query");
  const Shape& ks = internal::CheckOperand(kOp, k, "key");
  const Shape& vs = internal::CheckOperand(kOp, v, "value");
  const auto shapes = [&] {
    return absl::StrCat("query ", qs.ToString(), ", key ", ks.ToString(), ", value ",
                        vs.ToString());
  };
  if (!IsFloating(qs.dtype()) || ks.dtype() != qs.dtype() || vs.dtype() != qs.dtype()) {
    ThrowOpError(kOp, ": expected floating query, key and value of one dtype, got ", shapes());
  }
  if (qs.rank() < 2 || ks.rank() < 2 || vs.rank() < 2 ||
      qs.size(qs.rank() - 1) != ks.size(ks.rank() - 1) ||
      ks.size(ks.rank() - 2) != vs.size(vs.rank() - 2)) {
    ThrowOpError(kOp, ": expected query [..., L, E], key [..., S, E] and value [..., S, Ev], got ",
                 shapes());
  }
  const auto batch = [](const Shape& s) {
    return Shape(s.dtype(), Sizes(s.sizes().begin(), s.sizes().end() - 2));
  };
  const Shape qb = batch(qs), kb = batch(ks), vb = batch(vs);
  Sizes scores;
  try {
    scores = internal::BroadcastOrThrow(kOp, {&qb, &kb, &vb});
  } catch (const Error&) {
    ThrowOpError(kOp, ": the batch dimensions of ", shapes(), " do not broadcast");
  }
  const int64_t length = qs.size(qs.rank() - 2);
  const int64_t keys = ks.size(ks.rank() - 2);
  scores.push_back(length);
  scores.push_back(keys);
  internal::CheckSameBackend(kOp, {&q, &k, &v, &attn_mask});
  Tensor mask, additive;
  if (attn_mask.defined()) {
    const Shape& ms = internal::CheckOperand(kOp, attn_mask, "attn_mask");
    if (is_causal) ThrowOpError(kOp, ": is_causal and an attn_mask cannot both be given");
    bool fits = ms.dtype() == DType::kBool || ms.dtype() == qs.dtype();
    fits = fits && ms.rank() <= static_cast<int64_t>(scores.size());
    for (int64_t d = 1; fits && d <= ms.rank(); ++d) {
      const int64_t m = ms.size(ms.rank() - d);
      fits = m == 1 || m == scores[scores.size() - d];
    }
    if (!fits) {
      ThrowOpError(kOp, ": expected a bool or ", DTypeName(qs.dtype()),
                   " attn_mask that broadcasts to the scores ", internal::SizesToString(scores),
                   " of ", shapes(), ", got ", ms.ToString());
    }
    (ms.dtype() == DType::kBool ? mask : additive) = attn_mask;
  }
  CheckDropRate(kOp, "dropout_p", dropout_p);
  if (dropout_p > 0 && gen == nullptr) {
    ThrowOpError(kOp, ": dropout_p ", dropout_p, " needs a generator");
  }
  if (is_causal) {  // key j <= query i
    const Tensor query_at =
        unsqueeze(internal::ArangeTensor(length, DType::kI64, q, site), 1, site);
    mask = le(internal::ArangeTensor(keys, DType::kI64, q, site), query_at, site);
  }
  const int64_t features = qs.size(qs.rank() - 1);
  const double factor =
      scale.value_or(features > 0 ? 1 / std::sqrt(static_cast<double>(features)) : 1.0);
  return Attend(
      mul(q, Scalar(factor), site), k, v, mask, additive,
      [&](const Tensor& weights) {
        return dropout_p > 0 ? dropout(weights, dropout_p, *gen, true, site) : weights;
      },
      site);
}

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
  Tensor out = Attend(
      q, heads(1), heads(2), key_mask, Tensor(),
      [&](const Tensor& weights) { return attn_drop_->forward(weights, site); },
      site);  // [B, heads, L, head_dim]
  out = reshape(permute(out, {0, 2, 1, 3}, site), {batch, length, dim_}, site);
  return proj_drop_->forward(proj_->forward(out, site), site);
}

}  // namespace kiln::nn
