// The NaFlex example's data: the procedural set is a deterministic function of (seed,
// stream, id) with the spec's label structure; Fashion-MNIST files parse; batches have
// the bucket's shapes, masks and bilinear position taps.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <numeric>

#include "examples/naflex_vit/batch.h"
#include "examples/naflex_vit/fashion_mnist.h"
#include "examples/naflex_vit/procedural_data.h"
#include "lazy/bucketing.h"
#include "tests/lazy/op_test_util.h"
#include "util/error.h"

namespace naflex {
namespace {

using ::testing::HasSubstr;

using ::kiln::testing::ErrorOf;

TEST(ProceduralDataTest, SameIdSameSampleWhateverWasDrawnBefore) {
  const ProceduralDataset a({.seed = 7, .stream = 1});
  const ProceduralDataset b({.seed = 7, .stream = 1});
  b.Make(3);  // drawing other samples first changes nothing
  const Sample x = a.Make(11);
  const Sample y = b.Make(11);
  EXPECT_EQ(x.info.grid_h, y.info.grid_h);
  EXPECT_EQ(x.info.grid_w, y.info.grid_w);
  EXPECT_EQ(x.info.label, y.info.label);
  EXPECT_EQ(x.tokens, y.tokens);  // bit for bit
  const SampleInfo info = a.Info(11);
  EXPECT_EQ(info.grid_h, x.info.grid_h);
  EXPECT_EQ(info.grid_w, x.info.grid_w);
  EXPECT_EQ(info.label, x.info.label);
  EXPECT_EQ(x.tokens.size(), static_cast<size_t>(x.info.num_tokens() * 768));
  // Normalised pixels in [0, 1] become [-2, 2].
  const auto [lo, hi] = std::minmax_element(x.tokens.begin(), x.tokens.end());
  EXPECT_GE(*lo, -2.0f);
  EXPECT_LE(*hi, 2.0f);
  // Another seed or stream is another sample.
  EXPECT_NE(ProceduralDataset({.seed = 8, .stream = 1}).Make(11).tokens, x.tokens);
  EXPECT_NE(ProceduralDataset({.seed = 7, .stream = 2}).Make(11).tokens, x.tokens);
}

// (grid_h, grid_w, label) of samples 0..3 of seed 0's training stream.
const std::vector<std::vector<int64_t>> kPinned = {{8, 16, 2}, {10, 10, 6}, {6, 16, 7}, {9, 10, 8}};

TEST(ProceduralDataTest, PinnedDrawsForSeedZero) {
  // kiln::Generator is the same on every compiler, so these never change.
  const ProceduralDataset data({.seed = 0, .stream = 1});
  std::vector<std::vector<int64_t>> got;
  for (int64_t id = 0; id < 4; ++id) {
    const SampleInfo i = data.Info(id);
    got.push_back({i.grid_h, i.grid_w, i.label});
  }
  EXPECT_EQ(got, kPinned);
}

TEST(ProceduralDataTest, GridsAndLabelsCoverTheirRanges) {
  const ProceduralDataset data({.seed = 0, .stream = 1});
  std::map<int64_t, int> labels, sides;
  for (int64_t id = 0; id < 3000; ++id) {
    const SampleInfo i = data.Info(id);
    ++labels[i.label];
    ++sides[i.grid_h];
    ++sides[i.grid_w];
  }
  ASSERT_EQ(labels.size(), 10u);
  for (const auto& [label, count] : labels) EXPECT_NEAR(count, 300, 75) << "label " << label;
  EXPECT_EQ(sides.begin()->first, 4);
  EXPECT_EQ(sides.rbegin()->first, 16);
  EXPECT_EQ(sides.size(), 13u);
}

// Mean absolute difference between neighbouring pixels along x and along y.
std::pair<double, double> Gradients(const std::vector<float>& image, int64_t h, int64_t w) {
  double gx = 0, gy = 0;
  for (int64_t y = 0; y + 1 < h; ++y) {
    for (int64_t x = 0; x + 1 < w; ++x) {
      for (int c = 0; c < 3; ++c) {
        const float v = image[(y * w + x) * 3 + c];
        gx += std::abs(image[(y * w + x + 1) * 3 + c] - v);
        gy += std::abs(image[((y + 1) * w + x) * 3 + c] - v);
      }
    }
  }
  return {gx, gy};
}

TEST(ProceduralDataTest, StripeOrientationFollowsTheLabel) {
  // Classes 0-4 have vertical stripes (pixels change along x), 5-9 horizontal ones.
  const ProceduralDataset data({.seed = 0, .stream = 1});
  int checked = 0;
  for (int64_t id = 0; checked < 20; ++id) {
    SampleInfo info;
    const std::vector<float> image = data.Image(id, &info);
    const auto [gx, gy] = Gradients(image, info.grid_h * 16, info.grid_w * 16);
    if (info.label < 5) {
      EXPECT_GT(gx, gy) << "id " << id << " label " << info.label;
    } else {
      EXPECT_GT(gy, gx) << "id " << id << " label " << info.label;
    }
    ++checked;
  }
}

TEST(ProceduralDataTest, PatchifyOrdersTokensAsTimm) {
  // A 2x4-pixel image of 2x2 patches: token 1 is the right patch, values (dy, dx, c).
  std::vector<float> pixels(2 * 4 * 3);
  std::iota(pixels.begin(), pixels.end(), 0.0f);
  const std::vector<float> tokens = Patchify(pixels, 2, 4, 2);
  ASSERT_EQ(tokens.size(), pixels.size());
  const std::vector<float> token1(tokens.begin() + 12, tokens.end());
  EXPECT_EQ(token1, (std::vector<float>{6, 7, 8, 9, 10, 11, 18, 19, 20, 21, 22, 23}));
}

TEST(BatchTest, BilinearTapsMatchAlignCornersFalse) {
  int64_t index[4];
  float weight[4];
  // Same size as the grid: exactly one cell.
  BilinearTaps(8, 8, 8, 3, 5, index, weight);
  EXPECT_EQ(index[0], 3 * 8 + 5);
  EXPECT_FLOAT_EQ(weight[0], 1.0f);
  EXPECT_FLOAT_EQ(weight[1] + weight[2] + weight[3], 0.0f);
  // Half the grid: source (2i + 0.5, 2j + 0.5), halfway between cells.
  BilinearTaps(8, 4, 4, 1, 2, index, weight);
  EXPECT_EQ(index[0], 2 * 8 + 4);
  EXPECT_EQ(index[3], 3 * 8 + 5);
  for (int k = 0; k < 4; ++k) EXPECT_FLOAT_EQ(weight[k], 0.25f);
  // Upsampling clamps at the edges: row 0 of 16 maps to source -0.25 -> 0.
  BilinearTaps(8, 16, 16, 0, 15, index, weight);
  EXPECT_EQ(index[0], 7);
  EXPECT_FLOAT_EQ(weight[0] + weight[1] + weight[2] + weight[3], 1.0f);
}

TEST(BatchTest, BatchesHaveTheirBucketsShapesMasksAndTaps) {
  const ProceduralDataset data({.seed = 0, .stream = 1, .patch = 4, .min_side = 4, .max_side = 8});
  kiln::TokenBudgetBatcher batcher(kiln::BucketSet::explicit_lengths({32, 64}), 256);
  std::map<int64_t, int> seen;
  for (int64_t id = 0; seen.size() < 2; ++id) {
    const SampleInfo info = data.Info(id);
    std::optional<kiln::Batch> batch = batcher.add(id, info.num_tokens());
    if (!batch || seen.contains(batch->bucket)) continue;
    ++seen[batch->bucket];
    const int64_t b = 256 / batch->bucket;
    const int64_t l = batch->bucket;
    const ModelBatch mb = MakeBatch(data, *batch, 8);
    EXPECT_EQ(mb.tokens.sizes(), (kiln::Sizes{b, l, 48}));
    EXPECT_EQ(mb.mask.sizes(), (kiln::Sizes{b, l}));
    EXPECT_EQ(mb.pos_index.sizes(), (kiln::Sizes{b * l * 4}));
    EXPECT_EQ(mb.pos_weight.sizes(), (kiln::Sizes{b, l, 4, 1}));
    EXPECT_EQ(mb.labels.sizes(), (kiln::Sizes{b}));
    const std::vector<bool> mask = mb.mask.to_vector<bool>();
    const std::vector<float> w = mb.pos_weight.to_vector<float>();
    const std::vector<int64_t> idx = mb.pos_index.to_vector<int64_t>();
    int64_t valid = 0;
    for (int64_t i = 0; i < b; ++i) {
      const int64_t tokens = data.Info(batch->ids[static_cast<size_t>(i)]).num_tokens();
      EXPECT_LE(tokens, l);
      EXPECT_GT(tokens, l == 64 ? 32 : 0);  // the smallest bucket that holds it
      for (int64_t t = 0; t < l; ++t) {
        const size_t at = static_cast<size_t>(i * l + t);
        EXPECT_EQ(mask[at], t < tokens);
        const float sum = w[at * 4] + w[at * 4 + 1] + w[at * 4 + 2] + w[at * 4 + 3];
        EXPECT_NEAR(sum, t < tokens ? 1.0f : 0.0f, 1e-6);
        for (int k = 0; k < 4; ++k) EXPECT_LT(idx[at * 4 + k], 64);
      }
      valid += tokens;
    }
    EXPECT_EQ(mb.valid_tokens, valid);
  }
}

TEST(FashionMnistTest, IdxErrorsNameTheFile) {
  std::vector<int64_t> dims;
  EXPECT_EQ(ErrorOf([&] { ParseIdx(std::string("\0\0\x08", 3), 1, &dims, "f"); }),
            "f: too short for an IDX header");
  EXPECT_EQ(ErrorOf([&] { ParseIdx(std::string("\0\0\x08\x03\0\0\0\x01", 8), 1, &dims, "f"); }),
            "f: IDX magic 2051, expected 2049 (unsigned bytes, 1 dimensions)");
  EXPECT_EQ(ErrorOf([&] { ParseIdx(std::string("\0\0\x08\x01\0\0\0\x03\x01", 9), 1, &dims, "f"); }),
            "f: 1 data bytes, the header says 3");
  const std::vector<uint8_t> ok =
      ParseIdx(std::string("\0\0\x08\x01\0\0\0\x02\x07\x09", 10), 1, &dims, "f");
  EXPECT_EQ(ok, (std::vector<uint8_t>{7, 9}));
  EXPECT_THAT(ErrorOf([] { LoadFashionMnist("/nonexistent", "train"); }),
              HasSubstr("apt-get install dataset-fashion-mnist"));
}

TEST(FashionMnistTest, DebianFilesLoadAsSamples) {
  const std::string dir = "/usr/share/datasets/fashion-mnist";
  if (!std::filesystem::exists(dir + "/t10k-images-idx3-ubyte.gz")) {
    GTEST_SKIP() << "dataset-fashion-mnist is not installed";
  }
  const FashionMnist test = LoadFashionMnist(dir, "t10k");
  EXPECT_EQ(test.count(), 10000);
  EXPECT_EQ(test.rows, 28);
  EXPECT_EQ(test.cols, 28);
  const FashionMnistDataset data(&test, {.seed = 0, .stream = 2});
  EXPECT_EQ(data.size(), 10000);
  const Sample s = data.Make(0);
  EXPECT_EQ(s.info.label, test.labels[0]);
  EXPECT_EQ(s.tokens.size(), static_cast<size_t>(s.info.num_tokens() * 768));
  EXPECT_EQ(data.Make(0).tokens, s.tokens);
  // Grey: the three channels of a pixel are equal.
  EXPECT_EQ(s.tokens[0], s.tokens[1]);
  EXPECT_EQ(s.tokens[1], s.tokens[2]);
}

}  // namespace
}  // namespace naflex
