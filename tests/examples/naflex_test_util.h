#pragma once
// A tiny NaFlex ViT configuration for tests: 4x4 patches (48 values per token), grids of
// 4..8 patches a side (16..64 tokens), buckets {32, 64}, one transformer block of width
// 32, so a training step takes milliseconds and a compile a few seconds.
#include "examples/naflex_vit/trainer.h"

namespace naflex::testing {

inline TrainOptions TinyOptions() {
  TrainOptions o;
  o.steps = 40;
  o.buckets = {32, 64};
  o.token_budget = 512;
  o.lr = 3e-3;
  o.warmup_steps = 5;
  o.patch = 4;
  o.min_side = 4;
  o.max_side = 8;
  o.eval_batches = 2;
  o.model.dim = 32;
  o.model.depth = 1;
  o.model.heads = 2;
  o.model.mlp_hidden = 64;
  o.model.position_grid = 8;
  o.model.token_features = 4 * 4 * 3;
  return o;
}

// TinyOptions with the example's regularisation on: dropout, attention dropout and drop
// path, over two blocks (so that the blocks' drop path rates differ).
inline TrainOptions TinyRegularisedOptions() {
  TrainOptions o = TinyOptions();
  o.model.depth = 2;
  o.model.dropout = 0.1;
  o.model.drop_path = 0.2;
  o.model.attn_dropout = 0.1;
  return o;
}

}  // namespace naflex::testing
