#pragma once
// Fashion-MNIST (Debian's dataset-fashion-mnist: /usr/share/datasets/fashion-mnist) as
// NaFlex samples: each 28x28 grey image is resized (bilinear, align_corners = false) to a
// random patch grid h x w, sides in [min_side, max_side], so one image gives a different
// aspect ratio at each draw, and repeated over 3 channels.
//
//   FashionMnist train = LoadFashionMnist("/usr/share/datasets/fashion-mnist", "train");
//   FashionMnistDataset data(&train, {.seed = 0, .random_draws = true});
//
// The IDX files are read gzip-compressed (train-images-idx3-ubyte.gz, as Debian ships
// them) through zlib, or uncompressed when the file without ".gz" exists.
#include <cstdint>
#include <string>
#include <vector>

#include "examples/naflex_vit/dataset.h"

namespace naflex {

struct FashionMnist {
  int64_t rows = 0;
  int64_t cols = 0;
  std::vector<uint8_t> pixels;  // count x rows x cols
  std::vector<uint8_t> labels;  // count, each in [0, 10)
  int64_t count() const { return static_cast<int64_t>(labels.size()); }
};

// The whole file, decompressed when `path` ends in ".gz". Throws kiln::Error naming the
// file when it cannot be read or is not valid gzip.
std::string ReadMaybeGzip(const std::string& path);

// Parses IDX data (big-endian header: magic 0x00000803 for images with count, rows,
// cols; 0x00000801 for labels with count). Throws kiln::Error naming `what` on a bad
// magic number or a size that does not match.
std::vector<uint8_t> ParseIdx(const std::string& bytes, int expected_dims,
                              std::vector<int64_t>* dims, const std::string& what);

// `split` is "train" or "t10k" (the test split). Throws kiln::Error saying which file is
// missing and which Debian package provides it.
FashionMnist LoadFashionMnist(const std::string& dir, const std::string& split);

struct FashionMnistOptions {
  uint64_t seed = 0;
  uint64_t stream = 0;
  int64_t patch = 16;
  int64_t min_side = 4;
  int64_t max_side = 16;
  // true: id k draws a random image (training, endless); false: id k is image k
  // (evaluation over the split, in order).
  bool random_draws = false;
};

class FashionMnistDataset : public Dataset {
 public:
  // `data` must outlive the dataset.
  FashionMnistDataset(const FashionMnist* data, FashionMnistOptions options);

  SampleInfo Info(int64_t id) const override;
  Sample Make(int64_t id) const override;
  std::optional<int64_t> size() const override;
  int64_t token_features() const override { return options_.patch * options_.patch * 3; }

 private:
  // The image index and patch grid of draw `id`.
  int64_t Draw(int64_t id, SampleInfo* info) const;

  const FashionMnist* data_;
  FashionMnistOptions options_;
};

}  // namespace naflex
