#include "examples/naflex_vit/fashion_mnist.h"

#include <zlib.h>

#include <algorithm>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "lazy/generator.h"
#include "util/error.h"

namespace naflex {
namespace {

using kiln::Error;

uint32_t BigEndian32(const std::string& bytes, size_t at) {
  return (static_cast<uint32_t>(static_cast<uint8_t>(bytes[at])) << 24) |
         (static_cast<uint32_t>(static_cast<uint8_t>(bytes[at + 1])) << 16) |
         (static_cast<uint32_t>(static_cast<uint8_t>(bytes[at + 2])) << 8) |
         static_cast<uint32_t>(static_cast<uint8_t>(bytes[at + 3]));
}

// Bilinear sample (align_corners = false, edges clamped) of a rows x cols grey image at
// output pixel (y, x) of an out_h x out_w resize.
double Bilinear(const uint8_t* image, int64_t rows, int64_t cols, int64_t y, int64_t x,
                int64_t out_h, int64_t out_w) {
  const auto source = [](int64_t dst, int64_t in, int64_t out, int64_t* i0, int64_t* i1) {
    double s = (static_cast<double>(dst) + 0.5) * static_cast<double>(in) / static_cast<double>(out) - 0.5;
    s = std::max(s, 0.0);
    *i0 = std::min(static_cast<int64_t>(s), in - 1);
    *i1 = std::min(*i0 + 1, in - 1);
    return s - static_cast<double>(*i0);
  };
  int64_t y0, y1, x0, x1;
  const double ly = source(y, rows, out_h, &y0, &y1);
  const double lx = source(x, cols, out_w, &x0, &x1);
  const auto at = [&](int64_t r, int64_t c) { return static_cast<double>(image[r * cols + c]); };
  return (1 - ly) * ((1 - lx) * at(y0, x0) + lx * at(y0, x1)) +
         ly * ((1 - lx) * at(y1, x0) + lx * at(y1, x1));
}

}  // namespace

std::string ReadMaybeGzip(const std::string& path) {
  gzFile file = gzopen(path.c_str(), "rb");  // reads plain files unchanged too
  if (file == nullptr) throw Error(absl::StrCat(path, ": cannot open"));
  std::string out;
  char buffer[1 << 16];
  while (true) {
    const int n = gzread(file, buffer, sizeof(buffer));
    if (n < 0) {
      int code = 0;
      const std::string message = gzerror(file, &code);
      gzclose(file);
      throw Error(absl::StrCat(path, ": cannot decompress: ", message));
    }
    if (n == 0) break;
    out.append(buffer, static_cast<size_t>(n));
  }
  gzclose(file);
  return out;
}

std::vector<uint8_t> ParseIdx(const std::string& bytes, int expected_dims,
                              std::vector<int64_t>* dims, const std::string& what) {
  const size_t header = 4 + 4 * static_cast<size_t>(expected_dims);
  if (bytes.size() < header) throw Error(absl::StrCat(what, ": too short for an IDX header"));
  const uint32_t magic = BigEndian32(bytes, 0);
  const uint32_t expected_magic = 0x00000800u | static_cast<uint32_t>(expected_dims);
  if (magic != expected_magic) {
    throw Error(absl::StrCat(what, ": IDX magic ", magic, ", expected ", expected_magic,
                             " (unsigned bytes, ", expected_dims, " dimensions)"));
  }
  dims->clear();
  uint64_t count = 1;
  for (int d = 0; d < expected_dims; ++d) {
    dims->push_back(BigEndian32(bytes, 4 + 4 * static_cast<size_t>(d)));
    count *= static_cast<uint64_t>(dims->back());
  }
  if (bytes.size() - header != count) {
    throw Error(absl::StrCat(what, ": ", bytes.size() - header, " data bytes, the header says ",
                             count));
  }
  return std::vector<uint8_t>(bytes.begin() + static_cast<std::ptrdiff_t>(header), bytes.end());
}

FashionMnist LoadFashionMnist(const std::string& dir, const std::string& split) {
  const auto locate = [&](const std::string& name) {
    const std::string plain = (std::filesystem::path(dir) / name).string();
    if (std::filesystem::exists(plain + ".gz")) return plain + ".gz";
    if (std::filesystem::exists(plain)) return plain;
    throw Error(absl::StrCat("Fashion-MNIST: ", plain, ".gz not found (on Debian: apt-get "
                             "install dataset-fashion-mnist)"));
  };
  const std::string images_path = locate(split + "-images-idx3-ubyte");
  const std::string labels_path = locate(split + "-labels-idx1-ubyte");
  FashionMnist out;
  std::vector<int64_t> image_dims, label_dims;
  out.pixels = ParseIdx(ReadMaybeGzip(images_path), 3, &image_dims, images_path);
  out.labels = ParseIdx(ReadMaybeGzip(labels_path), 1, &label_dims, labels_path);
  if (image_dims[0] != label_dims[0]) {
    throw Error(absl::StrCat(dir, ": ", image_dims[0], " images but ", label_dims[0], " labels"));
  }
  for (uint8_t label : out.labels) {
    if (label >= 10) throw Error(absl::StrCat(labels_path, ": label ", int{label}, " out of range"));
  }
  out.rows = image_dims[1];
  out.cols = image_dims[2];
  return out;
}

FashionMnistDataset::FashionMnistDataset(const FashionMnist* data, FashionMnistOptions options)
    : data_(data), options_(options) {}

int64_t FashionMnistDataset::Draw(int64_t id, SampleInfo* info) const {
  kiln::Generator gen(SampleSeed(options_.seed, options_.stream, id));
  const uint64_t sides = static_cast<uint64_t>(options_.max_side - options_.min_side + 1);
  const int64_t index = options_.random_draws
                            ? static_cast<int64_t>(gen.NextBelow(static_cast<uint64_t>(data_->count())))
                            : id;
  if (index < 0 || index >= data_->count()) {
    throw Error(absl::StrCat("Fashion-MNIST: sample ", id, " out of range [0, ", data_->count(), ")"));
  }
  info->grid_h = options_.min_side + static_cast<int64_t>(gen.NextBelow(sides));
  info->grid_w = options_.min_side + static_cast<int64_t>(gen.NextBelow(sides));
  info->label = data_->labels[static_cast<size_t>(index)];
  return index;
}

SampleInfo FashionMnistDataset::Info(int64_t id) const {
  SampleInfo info;
  Draw(id, &info);
  return info;
}

Sample FashionMnistDataset::Make(int64_t id) const {
  Sample sample;
  const int64_t index = Draw(id, &sample.info);
  const int64_t height = sample.info.grid_h * options_.patch;
  const int64_t width = sample.info.grid_w * options_.patch;
  const uint8_t* image = &data_->pixels[static_cast<size_t>(index * data_->rows * data_->cols)];
  std::vector<float> pixels(static_cast<size_t>(height * width * 3));
  size_t i = 0;
  for (int64_t y = 0; y < height; ++y) {
    for (int64_t x = 0; x < width; ++x) {
      const float p =
          NormalizePixel(Bilinear(image, data_->rows, data_->cols, y, x, height, width) / 255.0);
      for (int c = 0; c < 3; ++c) pixels[i++] = p;
    }
  }
  sample.tokens = Patchify(pixels, height, width, options_.patch);
  return sample;
}

std::optional<int64_t> FashionMnistDataset::size() const {
  if (options_.random_draws) return std::nullopt;
  return data_->count();
}

}  // namespace naflex
