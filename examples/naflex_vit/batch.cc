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

namespace {

HostBatch HostBatchFromSamples(std::vector<Sample> samples, std::vector<float> weights,
                               int64_t bucket, int64_t token_features, int64_t position_grid) {
  const int64_t b = static_cast<int64_t>(samples.size());
  HostBatch out;
  out.bucket = bucket;
  out.token_features = token_features;
  out.weights = std::move(weights);
  out.pos_index.assign(static_cast<size_t>(b * bucket * 4), 0);
  out.pos_weight.assign(static_cast<size_t>(b * bucket * 4), 0.0f);
  for (int64_t i = 0; i < b; ++i) {
    Sample& s = samples[static_cast<size_t>(i)];
    out.labels.push_back(s.info.label);
    out.valid_tokens += s.info.num_tokens();
    for (int64_t t = 0; t < s.info.num_tokens(); ++t) {
      const size_t at = static_cast<size_t>((i * bucket + t) * 4);
      BilinearTaps(position_grid, s.info.grid_h, s.info.grid_w, t / s.info.grid_w,
                   t % s.info.grid_w, &out.pos_index[at], &out.pos_weight[at]);
    }
    out.sequences.push_back(std::move(s.tokens));
  }
  return out;
}

}  // namespace

ModelBatch ToModelBatch(HostBatch host) {
  const int64_t b = static_cast<int64_t>(host.sequences.size());
  ModelBatch out;
  out.bucket = host.bucket;
  out.batch_size = b;
  out.valid_tokens = host.valid_tokens;
  kiln::PaddedSequences padded =
      kiln::pad_sequences(host.sequences, host.token_features, host.bucket);
  out.tokens = std::move(padded.values);
  out.mask = std::move(padded.mask);
  out.pos_index = kiln::Tensor::from_vector<int64_t>(host.pos_index, {b * host.bucket * 4});
  out.pos_weight = kiln::Tensor::from_vector<float>(host.pos_weight, {b, host.bucket, 4, 1});
  out.labels = kiln::Tensor::from_vector<int64_t>(host.labels, {b});
  out.weights = kiln::Tensor::from_vector<float>(host.weights, {b});
  return out;
}

ModelBatch MakeBatchFromSamples(const std::vector<Sample>& samples,
                                const std::vector<float>& weights, int64_t bucket,
                                int64_t token_features, int64_t position_grid) {
  return ToModelBatch(
      HostBatchFromSamples(samples, weights, bucket, token_features, position_grid));
}

HostBatch MakeHostBatch(const Dataset& data, const kiln::Batch& batch, int64_t position_grid) {
  std::vector<Sample> samples;
  samples.reserve(batch.ids.size());
  for (int64_t id : batch.ids) samples.push_back(id < 0 ? Sample{} : data.Make(id));
  return HostBatchFromSamples(std::move(samples), batch.weights(), batch.bucket,
                              data.token_features(), position_grid);
}

ModelBatch MakeBatch(const Dataset& data, const kiln::Batch& batch, int64_t position_grid) {
  return ToModelBatch(MakeHostBatch(data, batch, position_grid));
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
