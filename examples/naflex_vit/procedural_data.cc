#include "examples/naflex_vit/procedural_data.h"

#include <algorithm>
#include <cmath>
#include <numbers>

#include "lazy/generator.h"

namespace naflex {
namespace {

double Uniform(kiln::Generator& gen, double lo, double hi) {
  return lo + (hi - lo) * gen.NextDouble();
}

// A sample's grid and label: always the first draws of its generator, so Info and
// Image agree without making the image.
SampleInfo DrawInfo(const ProceduralOptions& options, kiln::Generator& gen) {
  const uint64_t sides = static_cast<uint64_t>(options.max_side - options.min_side + 1);
  SampleInfo info;
  info.grid_h = options.min_side + static_cast<int64_t>(gen.NextBelow(sides));
  info.grid_w = options.min_side + static_cast<int64_t>(gen.NextBelow(sides));
  info.label = static_cast<int64_t>(gen.NextBelow(10));
  return info;
}

}  // namespace

void HsvToRgb(double h, double s, double v, double rgb[3]) {
  h = h - std::floor(h);
  const double f = h * 6;
  const int sector = std::min(static_cast<int>(f), 5);
  const double frac = f - sector;
  const double p = v * (1 - s);
  const double q = v * (1 - s * frac);
  const double t = v * (1 - s * (1 - frac));
  const double table[6][3] = {{v, t, p}, {q, v, p}, {p, v, t}, {p, q, v}, {t, p, v}, {v, p, q}};
  for (int c = 0; c < 3; ++c) rgb[c] = table[sector][c];
}

ProceduralDataset::ProceduralDataset(ProceduralOptions options) : options_(options) {}

SampleInfo ProceduralDataset::Info(int64_t id) const {
  kiln::Generator gen(SampleSeed(options_.seed, options_.stream, id));
  return DrawInfo(options_, gen);
}

std::vector<float> ProceduralDataset::Image(int64_t id, SampleInfo* info_out) const {
  // The draws that Info makes come first, then the nuisances.
  kiln::Generator gen(SampleSeed(options_.seed, options_.stream, id));
  const SampleInfo info = DrawInfo(options_, gen);
  *info_out = info;

  const double hue = 0.2 * static_cast<double>(info.label % 5) + Uniform(gen, -0.04, 0.04);
  const double saturation = Uniform(gen, 0.6, 1.0);
  const double value = Uniform(gen, 0.6, 1.0);
  const double background = Uniform(gen, 0.0, 0.35);
  // Vertical stripes vary along x (angle 0), horizontal ones along y (90 degrees).
  const double angle = (info.label / 5 == 0 ? 0.0 : 90.0) + Uniform(gen, -10.0, 10.0);
  const double period = Uniform(gen, 8.0, 14.0);
  const double phase = Uniform(gen, 0.0, 2 * std::numbers::pi);
  const double contrast = Uniform(gen, 0.7, 1.0);
  const int64_t height = info.grid_h * options_.patch;
  const int64_t width = info.grid_w * options_.patch;
  const double radius =
      Uniform(gen, 0.05, 0.20) * static_cast<double>(std::min(height, width));
  const double disk_y = Uniform(gen, 0.0, static_cast<double>(height));
  const double disk_x = Uniform(gen, 0.0, static_cast<double>(width));
  double disk_rgb[3];
  HsvToRgb(gen.NextDouble(), Uniform(gen, 0.3, 1.0), Uniform(gen, 0.3, 1.0), disk_rgb);
  double rgb[3];
  HsvToRgb(hue, saturation, value, rgb);

  const double radians = angle * std::numbers::pi / 180.0;
  const double cx = std::cos(radians);
  const double sy = std::sin(radians);
  const double k = 2 * std::numbers::pi / period;
  std::vector<float> pixels(static_cast<size_t>(height * width * 3));
  size_t i = 0;
  for (int64_t y = 0; y < height; ++y) {
    for (int64_t x = 0; x < width; ++x) {
      const double u = static_cast<double>(x) * cx + static_cast<double>(y) * sy;
      const double stripe = 0.5 + 0.5 * contrast * std::sin(k * u + phase);
      const double dy = static_cast<double>(y) + 0.5 - disk_y;
      const double dx = static_cast<double>(x) + 0.5 - disk_x;
      const bool in_disk = dx * dx + dy * dy <= radius * radius;
      for (int c = 0; c < 3; ++c) {
        double p = in_disk ? disk_rgb[c] : background + (rgb[c] - background) * stripe;
        p += 0.05 * gen.NextNormal();
        pixels[i++] = NormalizePixel(std::clamp(p, 0.0, 1.0));
      }
    }
  }
  return pixels;
}

Sample ProceduralDataset::Make(int64_t id) const {
  Sample sample;
  const std::vector<float> pixels = Image(id, &sample.info);
  sample.tokens = Patchify(pixels, sample.info.grid_h * options_.patch,
                           sample.info.grid_w * options_.patch, options_.patch);
  return sample;
}

}  // namespace naflex
