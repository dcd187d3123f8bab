#include "examples/naflex_vit/batch.h"

#include <algorithm>
#include <cmath>
#include <utility>

namespace naflex {
namespace {

// Source coordinate and its two neighbours along one axis (align_corners = false).
void AxisTaps(int64_t grid, int64_t out, int64_t dst, int64_t* i0, int64_t* i1, double* frac) {
  double s = (static_cast<double>(dst) + 0.5) * static_cast<double>(grid) / static_cast<double>(out) - 0.5;
  s = std::max(s, 0.0);
  *i0 = std::min(static_cast<int64_t>(s), grid - 1);
  *i1 = std::min(*i0 + 1, grid - 1);
  *frac = s - static_cast<double>(*i0);
}

}  // namespace

void BilinearTaps(int64_t grid, int64_t grid_h, int64_t grid_w, int64_t row, int64_t col,
                  int64_t index[4], float weight[4]) {
  int64_t y0, y1, x0, x1;
  double ly, lx;
  AxisTaps(grid, grid_h, row, &y0, &y1, &ly);
  AxisTaps(grid, grid_w, col, &x0, &x1, &lx);
  index[0] = y0 * grid + x0;
  index[1] = y0 * grid + x1;
  index[2] = y1 * grid + x0;
  index[3] = y1 * grid + x1;
  weight[0] = static_cast<float>((1 - ly) * (1 - lx));
  weight[1] = static_cast<float>((1 - ly) * lx);
  weight[2] = static_cast<float>(ly * (1 - lx));
  weight[3] = static_cast<float>(ly * lx);
}

ModelBatch MakeBatchFromSamples(const std::vector<Sample>& samples, const std::vector<float>& weights,
                                int64_t bucket, int64_t token_features, int64_t position_grid) {
  const int64_t b = static_cast<int64_t>(samples.size());
  ModelBatch out;
  out.bucket = bucket;
  out.batch_size = b;
  std::vector<std::vector<float>> sequences;
  sequences.reserve(samples.size());
  std::vector<int64_t> pos_index(static_cast<size_t>(b * bucket * 4), 0);
  std::vector<float> pos_weight(static_cast<size_t>(b * bucket * 4), 0.0f);
  std::vector<int64_t> labels;
  for (int64_t i = 0; i < b; ++i) {
    const Sample& s = samples[static_cast<size_t>(i)];
    sequences.push_back(s.tokens);
    labels.push_back(s.info.label);
    out.valid_tokens += s.info.num_tokens();
    for (int64_t t = 0; t < s.info.num_tokens(); ++t) {
      const size_t at = static_cast<size_t>((i * bucket + t) * 4);
      BilinearTaps(position_grid, s.info.grid_h, s.info.grid_w, t / s.info.grid_w,
                   t % s.info.grid_w, &pos_index[at], &pos_weight[at]);
    }
  }
  kiln::PaddedSequences padded = kiln::pad_sequences(sequences, token_features, bucket);
  out.tokens = std::move(padded.values);
  out.mask = std::move(padded.mask);
  out.pos_index = kiln::Tensor::from_vector<int64_t>(pos_index, {b * bucket * 4});
  out.pos_weight = kiln::Tensor::from_vector<float>(pos_weight, {b, bucket, 4, 1});
  out.labels = kiln::Tensor::from_vector<int64_t>(labels, {b});
  out.weights = kiln::Tensor::from_vector<float>(weights, {b});
  return out;
}

ModelBatch MakeBatch(const Dataset& data, const kiln::Batch& batch, int64_t position_grid) {
  std::vector<Sample> samples;
  samples.reserve(batch.ids.size());
  for (int64_t id : batch.ids) samples.push_back(id < 0 ? Sample{} : data.Make(id));
  return MakeBatchFromSamples(samples, batch.weights(), batch.bucket, data.token_features(),
                              position_grid);
}

ModelBatch SyntheticBatch(int64_t bucket, int64_t batch_size, int64_t token_features,
                          int64_t position_grid) {
  // Every sample fills its bucket (a 1 x bucket grid); the values never matter.
  std::vector<Sample> samples(static_cast<size_t>(batch_size));
  for (Sample& s : samples) {
    s.info.grid_h = 1;
    s.info.grid_w = bucket;
    s.tokens.assign(static_cast<size_t>(bucket * token_features), 0.0f);
  }
  return MakeBatchFromSamples(samples, std::vector<float>(samples.size(), 1.0f), bucket,
                              token_features, position_grid);
}

}  // namespace naflex
