#pragma once
// What the NaFlex ViT example trains on: images at their own aspect ratio, each cut into
// a grid of P x P patches (P = 16 in the spec), one token of P*P*3 values per patch.
//
//   sample id -> SampleInfo {grid_h 5, grid_w 12, label 3}      (cheap: no pixels)
//             -> Sample {info, tokens: 5*12 tokens x 768 values} (pixels made now)
//
// The batcher only needs each sample's token count, so a sample's pixels are made when
// its batch is complete. Everything is a pure function of (seed, split, id): the same id
// gives the same sample whatever was drawn before.
#include <cstdint>
#include <optional>
#include <vector>

namespace naflex {

// The patch grid and label of one sample.
struct SampleInfo {
  int64_t grid_h = 0;
  int64_t grid_w = 0;
  int64_t label = 0;
  int64_t num_tokens() const { return grid_h * grid_w; }
};

// One sample as tokens: grid_h * grid_w rows of patch * patch * 3 values, row-major over
// the grid, each token's values ordered (row in patch, column in patch, channel) as
// timm's NaFlex patchifier.
struct Sample {
  SampleInfo info;
  std::vector<float> tokens;
};

class Dataset {
 public:
  virtual ~Dataset() = default;
  virtual SampleInfo Info(int64_t id) const = 0;
  virtual Sample Make(int64_t id) const = 0;
  // The number of samples of a finite split (ids 0..n-1); nullopt for an endless stream.
  virtual std::optional<int64_t> size() const { return std::nullopt; }
  // Values per token.
  virtual int64_t token_features() const = 0;
};

// A 64-bit seed for sample `id` of the stream `(seed, stream)`: SplitMix64 finalisation
// of the mixed inputs, so neighbouring ids give unrelated generators.
uint64_t SampleSeed(uint64_t seed, uint64_t stream, int64_t id);

// Normalisation of a pixel in [0, 1] (the spec's (p - 0.5) / 0.25).
inline float NormalizePixel(double p) { return static_cast<float>((p - 0.5) / 0.25); }

// Tokens of an image `pixels` (height x width x 3, row-major, already normalised) whose
// sides are multiples of `patch`.
std::vector<float> Patchify(const std::vector<float>& pixels, int64_t height, int64_t width,
                            int64_t patch);

}  // namespace naflex
