#include "examples/naflex_vit/dataset.h"

namespace naflex {

uint64_t SampleSeed(uint64_t seed, uint64_t stream, int64_t id) {
  uint64_t z = seed * 0x9E3779B97F4A7C15ULL ^ (stream + 0x632BE59BD9B4E019ULL) * 0xBF58476D1CE4E5B9ULL ^
               static_cast<uint64_t>(id) * 0x94D049BB133111EBULL;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

std::vector<float> Patchify(const std::vector<float>& pixels, int64_t height, int64_t width,
                            int64_t patch) {
  const int64_t gh = height / patch;
  const int64_t gw = width / patch;
  std::vector<float> tokens(static_cast<size_t>(height * width * 3));
  size_t k = 0;
  for (int64_t py = 0; py < gh; ++py) {
    for (int64_t px = 0; px < gw; ++px) {
      for (int64_t dy = 0; dy < patch; ++dy) {
        const float* row = &pixels[static_cast<size_t>(((py * patch + dy) * width + px * patch) * 3)];
        for (int64_t i = 0; i < patch * 3; ++i) tokens[k++] = row[i];
      }
    }
  }
  return tokens;
}

}  // namespace naflex
