#pragma once
// One training or evaluation batch as tensors, built from a kiln::Batch of sample ids
// (all padded to the batch's bucket length L):
//
//   tokens      f32  [B, L, F]   patch values, zeros after each sample's h*w tokens
//   mask        bool [B, L]      true for a real token
//   pos_index   i64  [B*L*4]     rows of the flattened G x G position grid to blend
//   pos_weight  f32  [B, L, 4, 1] their bilinear weights (0 for padding)
//   labels      i64  [B]
//   weights     f32  [B]         1 per real sample, 0 per filler (-1 id)
//
// The position grid is resampled to each image's own h x w grid with bilinear
// interpolation (align_corners = false) as a gather of 4 grid rows per token with
// per-token weights computed here on the host, so the graph's shapes depend on (B, L)
// only, never on h and w.
#include <cstdint>
#include <vector>

#include "examples/naflex_vit/dataset.h"
#include "lazy/bucketing.h"
#include "lazy/tensor.h"

namespace naflex {

struct ModelBatch {
  int64_t bucket = 0;
  int64_t batch_size = 0;
  int64_t valid_tokens = 0;
  kiln::Tensor tokens, mask, pos_index, pos_weight, labels, weights;
};

// The 4 grid rows (into a grid x grid grid, flattened row-major) and weights that
// bilinearly resample the grid at token (row, col) of a grid_h x grid_w image, as
// torch.nn.functional.interpolate(mode="bilinear", align_corners=False).
void BilinearTaps(int64_t grid, int64_t grid_h, int64_t grid_w, int64_t row, int64_t col,
                  int64_t index[4], float weight[4]);

// A batch's contents on the host, before they become tensors: what can be made on
// another thread while a step runs (tensors are made on the thread that traces).
struct HostBatch {
  int64_t bucket = 0;
  int64_t token_features = 0;
  int64_t valid_tokens = 0;
  std::vector<std::vector<float>> sequences;  // per sample: its tokens' patch values
  std::vector<int64_t> pos_index, labels;
  std::vector<float> pos_weight, weights;
};

// The host contents for `batch` (ids into `data`; -1 is an empty filler sample).
HostBatch MakeHostBatch(const Dataset& data, const kiln::Batch& batch, int64_t position_grid);
ModelBatch ToModelBatch(HostBatch host);

// The batch for `batch`: ToModelBatch(MakeHostBatch(...)).
ModelBatch MakeBatch(const Dataset& data, const kiln::Batch& batch, int64_t position_grid);

// Samples already made (fillers: an empty Sample with label 0).
ModelBatch MakeBatchFromSamples(const std::vector<Sample>& samples, const std::vector<float>& weights,
                                int64_t bucket, int64_t token_features, int64_t position_grid);

// A batch of the right shapes for `bucket` with arbitrary contents: what precompile traces.
ModelBatch SyntheticBatch(int64_t bucket, int64_t batch_size, int64_t token_features,
                          int64_t position_grid);

}  // namespace naflex
