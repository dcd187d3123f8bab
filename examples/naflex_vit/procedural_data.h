#pragma once
// The spec's procedural data set (shared/specs/vit_naflex.md): 10 classes = hue family
// (class mod 5: hues 0, 0.2, ..., 0.8) x stripe orientation (class div 5: vertical or
// horizontal sinusoidal stripes), with nuisances so that colour alone gives at most 50%
// accuracy and orientation needs the structure inside patches:
//
//   pixel = background + (colour - background) * (0.5 + 0.5 * contrast * sin(2 pi u / period
//           + phase)),   u = the coordinate across the stripes (orientation +-10 degrees)
//   then a disk of random colour, noise N(0, 0.05), clip to [0, 1], (p - 0.5) / 0.25.
//
// Every random number comes from kiln::Generator (not std:: distributions), seeded per
// sample, so the data are the same on every compiler and platform.
#include <cstdint>

#include "examples/naflex_vit/dataset.h"

namespace naflex {

struct ProceduralOptions {
  uint64_t seed = 0;
  // Separate streams for training and evaluation (held out: never the same samples).
  uint64_t stream = 0;
  int64_t patch = 16;
  // Patch grid sides are drawn uniformly from [min_side, max_side].
  int64_t min_side = 4;
  int64_t max_side = 16;
};

class ProceduralDataset : public Dataset {
 public:
  explicit ProceduralDataset(ProceduralOptions options);

  SampleInfo Info(int64_t id) const override;
  Sample Make(int64_t id) const override;
  int64_t token_features() const override { return options_.patch * options_.patch * 3; }

  // The image of sample `id` before patchifying: (grid_h * patch) x (grid_w * patch) x 3,
  // normalised.
  std::vector<float> Image(int64_t id, SampleInfo* info) const;

 private:
  ProceduralOptions options_;
};

// HSV in [0, 1] to RGB in [0, 1].
void HsvToRgb(double h, double s, double v, double rgb[3]);

}  // namespace naflex
