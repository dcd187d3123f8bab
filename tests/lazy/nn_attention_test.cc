// masked_softmax, MultiheadSelfAttention (against a loop reference, and padded against
// unpadded sequences) and TransformerBlock (wiring, names and parameter counts of a
// timm-style ViT encoder).
#include "lazy/nn_attention.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "lazy/creation.h"
#include "lazy/generator.h"
#include "lazy/graph_executor.h"
#include "lazy/nn_functional.h"
#include "lazy/nn_init.h"
#include "lazy/nn_layer_norm.h"
#include "lazy/nn_module_list.h"
#include "lazy/nn_transformer.h"
#include "lazy/ops.h"
#include "tests/lazy/op_test_util.h"
#include "util/metrics.h"

namespace kiln::nn {
namespace {

using ::kiln::testing::ErrorOf;
using ::kiln::testing::Near;
using ::testing::Each;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

bool AllFinite(const std::vector<float>& v) {
  for (float f : v) {
    if (!std::isfinite(f)) return false;
  }
  return true;
}

// Self-attention of one sample x [L, D] in double, straight from the definition; the
// attention probabilities times `drop` [heads, L, L] (dropout's mask and scale) if given.
std::vector<float> RefAttention(const std::vector<float>& x, const std::vector<bool>& valid,
                                const MultiheadSelfAttention& attn,
                                const std::vector<float>& drop = {}) {
  const int64_t d = attn.dim();
  const int64_t heads = attn.num_heads();
  const int64_t hd = d / heads;
  const int64_t length = static_cast<int64_t>(x.size()) / d;
  const std::vector<float> wqkv = attn.qkv()->weight().to_vector<float>();
  const std::vector<float> bqkv = attn.qkv()->bias().to_vector<float>();
  const std::vector<float> wp = attn.proj()->weight().to_vector<float>();
  const std::vector<float> bp = attn.proj()->bias().to_vector<float>();
  std::vector<double> qkv(length * 3 * d);
  for (int64_t t = 0; t < length; ++t) {
    for (int64_t o = 0; o < 3 * d; ++o) {
      double acc = bqkv[o];
      for (int64_t i = 0; i < d; ++i) acc += double{x[t * d + i]} * wqkv[o * d + i];
      qkv[t * 3 * d + o] = acc;
    }
  }
  const auto at = [&](int64_t part, int64_t t, int64_t h, int64_t e) {
    return qkv[t * 3 * d + part * d + h * hd + e];
  };
  std::vector<double> merged(length * d, 0.0);
  for (int64_t h = 0; h < heads; ++h) {
    for (int64_t i = 0; i < length; ++i) {
      std::vector<double> score(length, 0.0);
      double best = -std::numeric_limits<double>::infinity();
      for (int64_t j = 0; j < length; ++j) {
        if (!valid[j]) continue;
        for (int64_t e = 0; e < hd; ++e) score[j] += at(0, i, h, e) * at(1, j, h, e);
        score[j] /= std::sqrt(static_cast<double>(hd));
        best = std::max(best, score[j]);
      }
      double total = 0;
      for (int64_t j = 0; j < length; ++j) {
        score[j] = valid[j] ? std::exp(score[j] - best) : 0.0;
        total += score[j];
      }
      for (int64_t j = 0; j < length; ++j) {
        if (total == 0) break;  // no valid key: the output row is 0
        const double keep = drop.empty() ? 1.0 : drop[(h * length + i) * length + j];
        for (int64_t e = 0; e < hd; ++e) {
          merged[i * d + h * hd + e] += score[j] / total * keep * at(2, j, h, e);
        }
      }
    }
  }
  std::vector<float> out;
  for (int64_t t = 0; t < length; ++t) {
    for (int64_t o = 0; o < d; ++o) {
      double acc = bp[o];
      for (int64_t i = 0; i < d; ++i) acc += merged[t * d + i] * wp[o * d + i];
      out.push_back(static_cast<float>(acc));
    }
  }
  return out;
}

// Rows [begin, end) of sample `sample` of x [B, L, D], flattened.
std::vector<float> Rows(const Tensor& x, int64_t sample, int64_t begin, int64_t end) {
  return slice(slice(x, 0, sample, sample + 1), 1, begin, end).to_vector<float>();
}

// Attention with random (non-zero) biases.
std::shared_ptr<MultiheadSelfAttention> MakeAttention(int64_t dim, int64_t heads, Generator& gen) {
  auto attn = std::make_shared<MultiheadSelfAttention>(dim, heads, gen);
  init::normal_(attn->qkv()->weight(), 0, 0.5, gen);
  init::normal_(attn->qkv()->bias(), 0, 0.5, gen);
  init::normal_(attn->proj()->bias(), 0, 0.5, gen);
  return attn;
}

TEST(NnMaskedSoftmaxTest, ValuesAndAFullyMaskedRow) {
  Tensor x = Tensor::from_vector<float>({1, 2, 3, 1, 2, 3, 5, -7, 9}, {3, 3});
  Tensor mask =
      Tensor::from_vector<bool>({true, true, false, false, false, false, true, true, true}, {3, 3});
  // Row 0: softmax(1, 2) = (1 / (1 + e), e / (1 + e)); row 2: plain softmax.
  const double e = std::exp(1.0);
  const double z = std::exp(5.0) + std::exp(-7.0) + std::exp(9.0);
  EXPECT_THAT(masked_softmax(x, mask, 1).to_vector<float>(),
              Near({static_cast<float>(1 / (1 + e)), static_cast<float>(e / (1 + e)), 0, 0, 0, 0,
                    static_cast<float>(std::exp(5.0) / z), static_cast<float>(std::exp(-7.0) / z),
                    static_cast<float>(std::exp(9.0) / z)}));
  // A broadcast mask, along dim 0.
  Tensor column_mask = Tensor::from_vector<bool>({true, false, true}, {3, 1});
  std::vector<float> by_column = masked_softmax(x, column_mask, 0).to_vector<float>();
  EXPECT_NEAR(by_column[0], 1 / (1 + std::exp(4.0)), 1e-6);
  EXPECT_EQ(by_column[3], 0.0f);
  // Large masked values never leak in (they are not even exponentiated).
  Tensor big = Tensor::from_vector<float>({0, 1e30f}, {1, 2});
  Tensor first = Tensor::from_vector<bool>({true, false}, {1, 2});
  EXPECT_THAT(masked_softmax(big, first, -1).to_vector<float>(), ElementsAre(1.0f, 0.0f));
  // An undefined mask is softmax.
  EXPECT_THAT(masked_softmax(x, Tensor(), 1).to_vector<float>(),
              Near(softmax(x, 1).to_vector<float>()));
}

TEST(NnMaskedSoftmaxTest, GradientIsZeroForMaskedEntriesAndFullyMaskedRows) {
  Generator gen(1);
  Tensor x = randn({3, 4}, gen);
  x.requires_grad_();
  Tensor mask = Tensor::from_vector<bool>(
      {true, false, true, true, false, false, false, false, true, true, true, true}, {3, 4});
  Tensor g = randn({3, 4}, gen);
  Tensor y = masked_softmax(x, mask, -1);
  sum(mul(y, g)).backward();
  const std::vector<float> yv = y.to_vector<float>();
  const std::vector<float> gv = g.to_vector<float>();
  const std::vector<bool> mv = {true,  false, true, true, false, false,
                                false, false, true, true, true,  true};
  std::vector<float> expected(12, 0);
  for (int r = 0; r < 3; ++r) {
    double dot = 0;
    for (int c = 0; c < 4; ++c) dot += double{yv[r * 4 + c]} * gv[r * 4 + c];
    for (int c = 0; c < 4; ++c) {
      if (mv[r * 4 + c])
        expected[r * 4 + c] = static_cast<float>(yv[r * 4 + c] * (gv[r * 4 + c] - dot));
    }
  }
  std::vector<float> grad = x.grad().to_vector<float>();
  EXPECT_THAT(grad, Near(expected));
  EXPECT_THAT(std::vector<float>(grad.begin() + 4, grad.begin() + 8), Each(0.0f));
}

TEST(NnMaskedSoftmaxTest, Errors) {
  Tensor x = zeros({2, 3});
  EXPECT_THAT(ErrorOf([&] {
                masked_softmax(x, zeros({2, 3}), 1);
              }),
              HasSubstr("masked_softmax: expected a bool mask, got f32[2,3]"));
  EXPECT_THAT(ErrorOf([&] {
                masked_softmax(x, zeros({4, 2, 3}, DType::kBool), 1);
              }),
              HasSubstr("masked_softmax: mask bool[4,2,3] must broadcast to the input f32[2,3]"));
}

TEST(NnAttentionTest, MatchesTheReferenceWithoutAMask) {
  Generator gen(2);
  auto attn = MakeAttention(4, 2, gen);
  Tensor x = randn({2, 3, 4}, gen);
  Tensor y = attn->forward(x);
  EXPECT_EQ(y.sizes(), (Sizes{2, 3, 4}));
  std::vector<float> expected = RefAttention(Rows(x, 0, 0, 3), {true, true, true}, *attn);
  std::vector<float> second = RefAttention(Rows(x, 1, 0, 3), {true, true, true}, *attn);
  expected.insert(expected.end(), second.begin(), second.end());
  EXPECT_THAT(y.to_vector<float>(), Near(expected, 1e-5f));
}

// Sample 0 has 5 valid tokens and sample 1 has 3, both padded to 8 with random junk.
TEST(NnAttentionTest, PaddedKeysAreIgnored) {
  Generator gen(3);
  auto attn = MakeAttention(6, 3, gen);
  Tensor x = randn({2, 8, 6}, gen);
  std::vector<bool> m(16, false);
  for (int t = 0; t < 5; ++t) m[t] = true;
  for (int t = 0; t < 3; ++t) m[8 + t] = true;
  Tensor mask = Tensor::from_vector<bool>(m, {2, 8});
  Tensor padded = attn->forward(x, mask);

  Tensor only0 = attn->forward(slice(slice(x, 0, 0, 1), 1, 0, 5));
  Tensor only1 = attn->forward(slice(slice(x, 0, 1, 2), 1, 0, 3));
  EXPECT_THAT(Rows(padded, 0, 0, 5), Near(only0.to_vector<float>(), 1e-5f));
  EXPECT_THAT(Rows(padded, 1, 0, 3), Near(only1.to_vector<float>(), 1e-5f));
  // And the reference agrees (padded queries too: they attend to the valid keys only).
  EXPECT_THAT(
      Rows(padded, 0, 0, 8),
      Near(RefAttention(Rows(x, 0, 0, 8), std::vector<bool>(m.begin(), m.begin() + 8), *attn),
           1e-5f));
  EXPECT_TRUE(AllFinite(padded.to_vector<float>()));
}

TEST(NnAttentionTest, AFullyPaddedSampleGivesTheBiasAndFiniteGradients) {
  Generator gen(4);
  auto attn = MakeAttention(4, 2, gen);
  Tensor x = randn({2, 3, 4}, gen);
  x.requires_grad_();
  Tensor mask = Tensor::from_vector<bool>({true, true, false, false, false, false}, {2, 3});
  Tensor y = attn->forward(x, mask);
  const std::vector<float> bias = attn->proj()->bias().to_vector<float>();
  std::vector<float> three_biases;
  for (int t = 0; t < 3; ++t) three_biases.insert(three_biases.end(), bias.begin(), bias.end());
  // Attention weights of 0 leave only proj's bias.
  EXPECT_THAT(Rows(y, 1, 0, 3), Near(three_biases, 1e-6f));

  Tensor g = randn({2, 3, 4}, gen);
  sum(mul(y, g)).backward();
  std::vector<float> dx = x.grad().to_vector<float>();
  EXPECT_TRUE(AllFinite(dx));
  // Nothing of the fully padded sample reaches its output.
  EXPECT_THAT(std::vector<float>(dx.begin() + 12, dx.end()), Each(0.0f));
  for (const auto& [name, p] : attn->named_parameters()) {
    EXPECT_TRUE(AllFinite(p.grad().to_vector<float>())) << name;
  }
}

// Dropout sits on the attention probabilities (timm's attn_drop), drawing from a stream
// seeded from the generator right after the weights; proj_drop on the output.
TEST(NnAttentionTest, AttentionDropoutScalesTheProbabilities) {
  constexpr double kP = 0.4;
  const int64_t batch = 2, length = 5, dim = 6, heads = 3;
  Generator probe(11);
  MultiheadSelfAttention(dim, heads, probe);  // the same weight draws, then the seed
  Generator stream(probe.NextU64());
  Generator gen(11);
  MultiheadSelfAttention attn(dim, heads, gen, /*qkv_bias=*/true, kP);
  init::normal_(attn.qkv()->weight(), 0, 0.5, gen);
  init::normal_(attn.proj()->bias(), 0, 0.5, gen);
  Tensor x = randn({batch, length, dim}, gen);
  Tensor y = attn.forward(x);
  // The module's next mask, reproduced: rand_like from the same stream, kept below 1 - p.
  const std::vector<float> u =
      rand_like(zeros({batch, heads, length, length}), stream).to_vector<float>();
  std::vector<float> drop;
  for (float v : u) drop.push_back(v < 1 - kP ? static_cast<float>(1 / (1 - kP)) : 0.0f);
  const int64_t per_sample = heads * length * length;
  std::vector<float> expected;
  for (int64_t b = 0; b < batch; ++b) {
    const std::vector<float> sample = RefAttention(
        Rows(x, b, 0, length), std::vector<bool>(length, true), attn,
        std::vector<float>(drop.begin() + b * per_sample, drop.begin() + (b + 1) * per_sample));
    expected.insert(expected.end(), sample.begin(), sample.end());
  }
  EXPECT_THAT(y.to_vector<float>(), Near(expected, 1e-5f));
  // The next forward draws another mask; in eval mode there is none.
  EXPECT_NE(attn.forward(x).to_vector<float>(), y.to_vector<float>());
  attn.eval();
  EXPECT_THAT(
      Rows(attn.forward(x), 0, 0, length),
      Near(RefAttention(Rows(x, 0, 0, length), std::vector<bool>(length, true), attn), 1e-5f));
  // proj_drop = 1 leaves nothing of the output.
  MultiheadSelfAttention dropped(dim, heads, gen, true, 0, /*proj_drop=*/1);
  EXPECT_THAT(dropped.forward(x).to_vector<float>(), Each(0.0f));
}

TEST(NnAttentionTest, BadInputNamesTheModuleAndShapes) {
  Generator gen(5);
  EXPECT_THAT(ErrorOf([&] { MultiheadSelfAttention(10, 3, gen); }),
              HasSubstr("MultiheadSelfAttention: dim 10 must be positive and divisible by "
                        "num_heads 3"));
  // Rates are checked before any weight is drawn: the generator is left as it was.
  Generator untouched(5);
  EXPECT_THAT(ErrorOf([&] { MultiheadSelfAttention(8, 2, gen, true, 1.5); }),
              HasSubstr("MultiheadSelfAttention: expected a dropout rate attn_drop in [0, 1], "
                        "got 1.5"));
  EXPECT_THAT(ErrorOf([&] { MultiheadSelfAttention(8, 2, gen, true, 0, -0.1); }),
              HasSubstr("expected a dropout rate proj_drop in [0, 1], got -0.1"));
  EXPECT_EQ(gen.NextU64(), untouched.NextU64());
  MultiheadSelfAttention attn(8, 2, gen);
  Tensor x = zeros({2, 5, 8});
  EXPECT_THAT(ErrorOf([&] {
                attn.forward(x, zeros({2, 4}, DType::kBool));
              }),
              HasSubstr("MultiheadSelfAttention(dim 8, heads 2): expected a bool key padding mask "
                        "[B, L] = [2,5] for input f32[2,5,8], got bool[2,4]"));
  EXPECT_THAT(ErrorOf([&] { attn.forward(x, zeros({2, 5})); }), HasSubstr("got f32[2,5]"));
  EXPECT_THAT(ErrorOf([&] {
                attn.forward(zeros({2, 5, 6}));
              }),
              HasSubstr("MultiheadSelfAttention(dim 8, heads 2): expected an input [B, L, 8], got "
                        "f32[2,5,6]"));
  EXPECT_THAT(ErrorOf([&] { attn.forward(zeros({5, 8})); }), HasSubstr("got f32[5,8]"));
}

// scaled_dot_product_attention of q [B, L, E], k [B, S, E], v [B, S, Ev] (host values) in
// double, straight from the definition: `allowed(b, i, j)` says whether query i of batch b
// may attend to key j (none: a zero row), `added(b, i, j)` is added to its score, and
// `keep(b, i, j)` scales its weight (dropout).
struct SdpaCase {
  int64_t batch, length, keys, features, value_features;
  std::vector<float> q, k, v;
};

std::vector<float> RefSdpa(const SdpaCase& c, double scale,
                           const std::function<bool(int64_t, int64_t, int64_t)>& allowed,
                           const std::function<double(int64_t, int64_t, int64_t)>& added,
                           const std::function<double(int64_t, int64_t, int64_t)>& keep) {
  std::vector<float> out;
  for (int64_t b = 0; b < c.batch; ++b) {
    for (int64_t i = 0; i < c.length; ++i) {
      std::vector<double> w(c.keys, 0.0);
      double best = -std::numeric_limits<double>::infinity(), total = 0;
      for (int64_t j = 0; j < c.keys; ++j) {
        if (!allowed(b, i, j)) continue;
        for (int64_t e = 0; e < c.features; ++e) {
          w[j] += double{c.q[(b * c.length + i) * c.features + e]} *
                  c.k[(b * c.keys + j) * c.features + e];
        }
        w[j] = w[j] * scale + added(b, i, j);
        best = std::max(best, w[j]);
      }
      for (int64_t j = 0; j < c.keys; ++j) {
        w[j] = allowed(b, i, j) ? std::exp(w[j] - best) : 0.0;
        total += w[j];
      }
      for (int64_t e = 0; e < c.value_features; ++e) {
        double acc = 0;
        for (int64_t j = 0; j < c.keys && total > 0; ++j) {
          acc += w[j] / total * keep(b, i, j) * c.v[(b * c.keys + j) * c.value_features + e];
        }
        out.push_back(static_cast<float>(acc));
      }
    }
  }
  return out;
}

SdpaCase RandomSdpaCase(Generator& gen) {
  SdpaCase c{6, 4, 7, 5, 3, {}, {}, {}};
  c.q = randn({c.batch, c.length, c.features}, gen).to_vector<float>();
  c.k = randn({c.batch, c.keys, c.features}, gen).to_vector<float>();
  c.v = randn({c.batch, c.keys, c.value_features}, gen).to_vector<float>();
  return c;
}

// The case's tensors with the batch of 6 as [2, 3] (two batch dimensions).
std::vector<Tensor> SdpaInputs(const SdpaCase& c) {
  return {Tensor::from_vector<float>(c.q, {2, 3, c.length, c.features}),
          Tensor::from_vector<float>(c.k, {2, 3, c.keys, c.features}),
          Tensor::from_vector<float>(c.v, {2, 3, c.keys, c.value_features})};
}

const auto kEverything = [](int64_t, int64_t, int64_t) { return true; };
const auto kNothing = [](int64_t, int64_t, int64_t) { return 0.0; };
const auto kKeepAll = [](int64_t, int64_t, int64_t) { return 1.0; };

TEST(NnScaledDotProductAttentionTest, MatchesTheDefinition) {
  Generator gen(41);
  const SdpaCase c = RandomSdpaCase(gen);
  const std::vector<Tensor> in = SdpaInputs(c);
  Tensor y = scaled_dot_product_attention(in[0], in[1], in[2]);
  EXPECT_EQ(y.shape().ToString(), "f32[2,3,4,3]");
  EXPECT_THAT(y.to_vector<float>(),
              Near(RefSdpa(c, 1 / std::sqrt(5.0), kEverything, kNothing, kKeepAll), 1e-5f));
  Tensor scaled = scaled_dot_product_attention(in[0], in[1], in[2], Tensor(), 0, false, 0.3);
  EXPECT_THAT(scaled.to_vector<float>(),
              Near(RefSdpa(c, 0.3, kEverything, kNothing, kKeepAll), 1e-5f));
  // Keys and values shared by the first batch dimension broadcast to it.
  SdpaCase shared = c;
  std::copy_n(c.k.begin(), 3 * c.keys * c.features, shared.k.begin() + 3 * c.keys * c.features);
  std::copy_n(c.v.begin(), 3 * c.keys * c.value_features,
              shared.v.begin() + 3 * c.keys * c.value_features);
  Tensor broadcast =
      scaled_dot_product_attention(in[0], slice(in[1], 0, 0, 1), slice(in[2], 0, 0, 1));
  EXPECT_EQ(broadcast.shape().ToString(), "f32[2,3,4,3]");
  EXPECT_THAT(broadcast.to_vector<float>(),
              Near(RefSdpa(shared, 1 / std::sqrt(5.0), kEverything, kNothing, kKeepAll), 1e-5f));
}

TEST(NnScaledDotProductAttentionTest, BoolAdditiveAndCausalMasks) {
  Generator gen(42);
  const SdpaCase c = RandomSdpaCase(gen);
  const std::vector<Tensor> in = SdpaInputs(c);
  const double scale = 1 / std::sqrt(5.0);
  // A bool mask [L, S] for every batch element; query 2 may attend to nothing.
  std::vector<bool> allowed(c.length * c.keys);
  for (int64_t i = 0; i < c.length; ++i) {
    for (int64_t j = 0; j < c.keys; ++j) allowed[i * c.keys + j] = i != 2 && (i + j) % 3 != 0;
  }
  Tensor mask = Tensor::from_vector<bool>(allowed, {c.length, c.keys});
  Tensor masked = scaled_dot_product_attention(in[0], in[1], in[2], mask);
  const std::vector<float> want = RefSdpa(
      c, scale, [&](int64_t, int64_t i, int64_t j) { return allowed[i * c.keys + j]; }, kNothing,
      kKeepAll);
  EXPECT_THAT(masked.to_vector<float>(), Near(want, 1e-5f));
  // Float masks [2, 1, L, S] are added to the scores.
  const std::vector<float> bias = randn({2, 1, c.length, c.keys}, gen).to_vector<float>();
  Tensor added = scaled_dot_product_attention(
      in[0], in[1], in[2], Tensor::from_vector<float>(bias, {2, 1, c.length, c.keys}));
  EXPECT_THAT(added.to_vector<float>(),
              Near(RefSdpa(
                       c, scale, kEverything,
                       [&](int64_t b, int64_t i, int64_t j) {
                         return double{bias[((b / 3) * c.length + i) * c.keys + j]};
                       },
                       kKeepAll),
                   1e-5f));
  // Causal: query i attends to keys 0..i (of 7).
  Tensor causal = scaled_dot_product_attention(in[0], in[1], in[2], Tensor(), 0, true);
  EXPECT_THAT(
      causal.to_vector<float>(),
      Near(RefSdpa(
               c, scale, [](int64_t, int64_t i, int64_t j) { return j <= i; }, kNothing, kKeepAll),
           1e-5f));
}

TEST(NnScaledDotProductAttentionTest, DropoutScalesTheWeights) {
  constexpr double kP = 0.3;
  Generator gen(43);
  const SdpaCase c = RandomSdpaCase(gen);
  const std::vector<Tensor> in = SdpaInputs(c);
  Generator stream(7);
  Generator replay = stream;
  Tensor y =
      scaled_dot_product_attention(in[0], in[1], in[2], Tensor(), kP, false, std::nullopt, &stream);
  // The weights' mask, drawn as dropout draws it from the same stream.
  const std::vector<float> u =
      rand_like(zeros({2, 3, c.length, c.keys}), replay).to_vector<float>();
  const auto keep = [&](int64_t b, int64_t i, int64_t j) {
    return u[(b * c.length + i) * c.keys + j] < 1 - kP ? 1 / (1 - kP) : 0.0;
  };
  EXPECT_THAT(y.to_vector<float>(),
              Near(RefSdpa(c, 1 / std::sqrt(5.0), kEverything, kNothing, keep), 1e-5f));
}

TEST(NnScaledDotProductAttentionTest, BadInputNamesTheOpAndShapes) {
  const Tensor q = zeros({2, 4, 5}), k = zeros({2, 6, 5}), v = zeros({2, 6, 3});
  Generator gen(1);
  EXPECT_THAT(ErrorOf([&] {
                scaled_dot_product_attention(q, zeros({2, 6, 4}), v);
              }),
              HasSubstr("scaled_dot_product_attention: expected query [..., L, E], key [..., S, "
                        "E] and value [..., S, Ev], got query f32[2,4,5], key f32[2,6,4], value "
                        "f32[2,6,3]"));
  EXPECT_THAT(ErrorOf([&] {
                scaled_dot_product_attention(q, k, zeros({2, 5, 3}));
              }),
              HasSubstr("value f32[2,5,3]"));
  EXPECT_THAT(ErrorOf([&] {
                scaled_dot_product_attention(q, k, zeros({2, 6, 3}, DType::kF64));
              }),
              HasSubstr("expected floating query, key and value of one dtype"));
  EXPECT_THAT(ErrorOf([&] {
                scaled_dot_product_attention(q, zeros({3, 6, 5}), v);
              }),
              HasSubstr("scaled_dot_product_attention: the batch dimensions of query f32[2,4,5], "
                        "key f32[3,6,5], value f32[2,6,3] do not broadcast"));
  EXPECT_THAT(ErrorOf([&] {
                scaled_dot_product_attention(q, k, v, zeros({4, 5}, DType::kBool));
              }),
              HasSubstr("expected a bool or f32 attn_mask that broadcasts to the scores [2,4,6] "
                        "of query f32[2,4,5], key f32[2,6,5], value f32[2,6,3], got bool[4,5]"));
  EXPECT_THAT(ErrorOf([&] {
                scaled_dot_product_attention(q, k, v, zeros({4, 6}, DType::kI64));
              }),
              HasSubstr("got i64[4,6]"));
  EXPECT_THAT(ErrorOf([&] {
                scaled_dot_product_attention(q, k, v, zeros({4, 6}, DType::kBool), 0, true);
              }),
              HasSubstr("is_causal and an attn_mask cannot both be given"));
  EXPECT_THAT(ErrorOf([&] { scaled_dot_product_attention(q, k, v, Tensor(), 0.1); }),
              HasSubstr("scaled_dot_product_attention: dropout_p 0.1 needs a generator"));
  EXPECT_THAT(ErrorOf([&] {
                scaled_dot_product_attention(q, k, v, Tensor(), 1.5, false, std::nullopt, &gen);
              }),
              HasSubstr("expected a dropout rate dropout_p in [0, 1], got 1.5"));
  EXPECT_THAT(ErrorOf([&] { scaled_dot_product_attention(Tensor(), k, v); }),
              HasSubstr("scaled_dot_product_attention: query is an undefined tensor"));
}

// A timm-style ViT encoder body: blocks = ModuleList of pre-LN blocks, then a final norm.
class Encoder : public Module {
 public:
  Encoder(int64_t depth, int64_t dim, int64_t heads, int64_t hidden, Generator& gen)
      : Module("Encoder") {
    blocks_ = register_module("blocks", std::make_shared<ModuleList>());
    for (int64_t i = 0; i < depth; ++i) {
      blocks_->push_back(std::make_shared<TransformerBlock>(dim, heads, hidden, gen));
    }
    norm_ = register_module("norm", std::make_shared<LayerNorm>(std::vector<int64_t>{dim}, 1e-6));
  }
  Tensor forward(const Tensor& x, const Tensor& mask = Tensor()) const {
    Tensor h = x;
    for (size_t i = 0; i < blocks_->size(); ++i)
      h = blocks_->at<TransformerBlock>(i)->forward(h, mask);
    return norm_->forward(h);
  }

  std::shared_ptr<ModuleList> blocks_;
  std::shared_ptr<LayerNorm> norm_;
};

TEST(NnTransformerTest, VitParameterNamesAndCountsMatchTimm) {
  Generator gen(6);
  Encoder encoder(6, 192, 3, 768, gen);
  // timm's Block(dim=192, num_heads=3, mlp_ratio=4, qkv_bias=True).
  EXPECT_EQ(encoder.blocks_->at<TransformerBlock>(0)->num_parameters(), 444864);
  EXPECT_EQ(encoder.num_parameters(), 6 * 444864 + 2 * 192);
  const auto named = encoder.named_parameters();
  ASSERT_EQ(named.size(), 6u * 12 + 2);
  const std::vector<std::pair<std::string, std::vector<int64_t>>> block0 = {
      {"norm1.weight", {192}},          {"norm1.bias", {192}},
      {"attn.qkv.weight", {576, 192}},  {"attn.qkv.bias", {576}},
      {"attn.proj.weight", {192, 192}}, {"attn.proj.bias", {192}},
      {"norm2.weight", {192}},          {"norm2.bias", {192}},
      {"mlp.fc1.weight", {768, 192}},   {"mlp.fc1.bias", {768}},
      {"mlp.fc2.weight", {192, 768}},   {"mlp.fc2.bias", {192}},
  };
  for (int b = 0; b < 6; ++b) {
    for (size_t i = 0; i < block0.size(); ++i) {
      const auto& [name, tensor] = named[b * 12 + i];
      EXPECT_EQ(name, absl::StrCat("blocks.", b, ".", block0[i].first));
      EXPECT_EQ(std::vector<int64_t>(tensor.sizes().begin(), tensor.sizes().end()),
                block0[i].second)
          << name;
    }
  }
  EXPECT_EQ(named[72].first, "norm.weight");
  EXPECT_EQ(named[73].first, "norm.bias");
  // Blocks draw different weights from the one generator.
  EXPECT_NE(encoder.blocks_->at<TransformerBlock>(0)->attn()->qkv()->weight().to_vector<float>(),
            encoder.blocks_->at<TransformerBlock>(1)->attn()->qkv()->weight().to_vector<float>());
}

TEST(NnTransformerTest, BlockIsTwoPreNormResidualBranches) {
  Generator gen(7);
  TransformerBlock block(8, 2, 16, gen);
  init::normal_(block.norm1()->weight(), 1, 0.3, gen);
  init::normal_(block.norm2()->bias(), 0, 0.3, gen);
  Tensor x = randn({2, 3, 8}, gen);
  Tensor mask = Tensor::from_vector<bool>({true, true, true, true, false, false}, {2, 3});
  Tensor h = add(x, block.attn()->forward(block.norm1()->forward(x), mask));
  Tensor expected = add(h, block.mlp()->forward(block.norm2()->forward(h)));
  EXPECT_THAT(block.forward(x, mask).to_vector<float>(), Near(expected.to_vector<float>(), 1e-6f));
}

TEST(NnTransformerTest, DropRatesAreTimmsRegularisationAndAddNoState) {
  Generator gen(12);
  TransformerBlock block(8, 2, 16, gen, 1e-6, GeluApproximation::kNone, /*qkv_bias=*/true,
                         DropRates{.attn = 0.1, .proj = 0.2, .path = 0.3});
  std::vector<std::string> names;
  for (const auto& [name, module] : block.named_modules()) names.push_back(name);
  EXPECT_THAT(names, ElementsAre("norm1", "attn", "attn.qkv", "attn.attn_drop", "attn.proj",
                                 "attn.proj_drop", "drop_path1", "norm2", "mlp", "mlp.fc1",
                                 "mlp.act", "mlp.drop1", "mlp.fc2", "mlp.drop2", "drop_path2"));
  EXPECT_EQ(block.attn()->attn_drop()->p(), 0.1);
  EXPECT_EQ(block.attn()->proj_drop()->p(), 0.2);
  EXPECT_EQ(block.mlp()->drop1()->p(), 0.2);
  EXPECT_EQ(block.mlp()->drop2()->p(), 0.2);
  EXPECT_EQ(block.drop_path1()->p(), 0.3);
  EXPECT_EQ(block.drop_path2()->p(), 0.3);
  EXPECT_EQ(block.state_dict().size(), 12u);

  // In eval mode it is the plain block with the same weights.
  Generator other(13);
  TransformerBlock plain(8, 2, 16, other);
  plain.load_state_dict(block.state_dict());
  Tensor x = randn({2, 3, 8}, gen);
  Tensor mask = Tensor::from_vector<bool>({true, true, true, true, false, false}, {2, 3});
  const std::vector<float> reference = plain.forward(x, mask).to_vector<float>();
  block.eval();
  EXPECT_EQ(block.forward(x, mask).to_vector<float>(), reference);
  block.train();
  EXPECT_NE(block.forward(x, mask).to_vector<float>(), reference);
  // A path rate of 1 drops both residual branches: the block passes x through.
  TransformerBlock skipped(8, 2, 16, gen, 1e-6, GeluApproximation::kNone, true,
                           DropRates{.path = 1});
  EXPECT_EQ(skipped.forward(x, mask).to_vector<float>(), x.to_vector<float>());

  // Training steps draw new masks every time and compile once.
  Tensor g = randn({2, 3, 8}, gen);
  const auto step = [&] {
    block.zero_grad();
    Tensor loss = sum(mul(block.forward(x, mask), g));
    loss.backward();
    mark_step();
    return loss.item();
  };
  const double first = step();
  const int64_t compiles = metrics::counter("UncachedCompile");
  std::vector<double> losses;
  for (int i = 0; i < 3; ++i) losses.push_back(step());
  EXPECT_EQ(metrics::counter("UncachedCompile"), compiles);
  EXPECT_NE(losses[0], first);
  EXPECT_NE(losses[1], losses[0]);
  for (const auto& [name, p] : block.named_parameters()) {
    EXPECT_TRUE(AllFinite(p.grad().to_vector<float>())) << name;
  }
  EXPECT_THAT(ErrorOf([&] {
                TransformerBlock(8, 2, 16, gen, 1e-6, GeluApproximation::kNone, true,
                                 DropRates{.path = 2});
              }),
              HasSubstr("TransformerBlock: expected a dropout rate drop.path in [0, 1], got 2"));
}

// The NaFlex case: a padded batch through a small encoder gives the unpadded outputs for
// the valid tokens, and the state dict of one encoder reproduces it in another.
TEST(NnTransformerTest, PaddedEncoderMatchesUnpaddedAndRoundTrips) {
  Generator gen_a(8);
  Generator gen_b(9);
  Generator gen_x(10);
  Encoder a(2, 8, 2, 32, gen_a);
  Encoder b(2, 8, 2, 32, gen_b);
  Tensor x = randn({2, 6, 8}, gen_x);
  Tensor mask = Tensor::from_vector<bool>(
      {true, true, true, true, false, false, true, true, true, true, true, true}, {2, 6});
  Tensor padded = a.forward(x, mask);
  Tensor unpadded = a.forward(slice(slice(x, 0, 0, 1), 1, 0, 4));
  EXPECT_THAT(Rows(padded, 0, 0, 4), Near(unpadded.to_vector<float>(), 1e-5f));
  EXPECT_THAT(Rows(padded, 1, 0, 6), Near(a.forward(slice(x, 0, 1, 2)).to_vector<float>(), 1e-5f));

  b.load_state_dict(a.state_dict());
  EXPECT_THAT(b.forward(x, mask).to_vector<float>(), Near(padded.to_vector<float>(), 1e-6f));
}

}  // namespace
}  // namespace kiln::nn
