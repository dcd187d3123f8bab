// Index divisions in the cpu backend's innermost loops run in blocks of constant quotient
// (codegen/cpp_kernel_emitter.h, OpenInnermostLoop): attention's head split and merge and
// the concatenations autograd makes of them (pads at offsets, so that the dividend is
// negative in the padded part), with odd head sizes whose blocks do not line up with the
// pieces, in element and column-reduction loops, against interp.
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "lazy/creation.h"
#include "lazy/ops.h"
#include "lazy/tensor.h"
#include "tests/backends/cpu_parity_util.h"

namespace kiln {
namespace {

using ::kiln::testing::ExpectCpuMatchesInterp;
using CpuIndexBlocksTest = ::kiln::testing::PoisonedCpuTest;

struct HeadShape {
  int64_t batch, length, heads, head_dim;
};

std::string Name(const HeadShape& s) {
  return "[" + std::to_string(s.batch) + ", " + std::to_string(s.length) + ", " +
         std::to_string(s.heads) + " x " + std::to_string(s.head_dim) + "]";
}

const std::vector<HeadShape>& Shapes() {
  static const auto* shapes = new std::vector<HeadShape>{
      {2, 3, 2, 5},    // blocks of 5 across pieces of 10
      {1, 7, 3, 4},    // three heads, odd length
      {3, 2, 1, 9},    // one head: the division is by the whole piece
      {2, 5, 4, 1},    // head size 1
      {4, 33, 3, 64},  // the ViT's heads
  };
  return *shapes;
}

// Three [B, heads, L, head_dim] parts (q, k, v gradients) merged into [B, L, 3 * dim] as
// autograd does for a qkv split: each moved to [B, L, dim] and padded into its third.
std::vector<Tensor> MergedParts(Generator& gen, const HeadShape& s) {
  const int64_t dim = s.heads * s.head_dim;
  Tensor merged, rows;
  for (int64_t p = 0; p < 3; ++p) {
    Tensor part = randn({s.batch, s.heads, s.length, s.head_dim}, gen);
    rows = reshape(permute(part, {0, 2, 1, 3}), {s.batch, s.length, dim});
    Tensor padded = pad(rows, {p * dim, (2 - p) * dim});
    merged = merged.defined() ? add(merged, padded) : padded;
  }
  // The bias gradient (a column sum over B and L) and an update by it, as in the step.
  Tensor bias = randn({3 * dim}, gen);
  Tensor updated = sub(bias, mul(sum(merged, {0, 1}), 0.01));
  // One part alone at an offset that is not a multiple of the head size: only its own
  // blocks cut the loop.
  Tensor shifted = pad(rows, {2 * dim + 1, 2});
  return {merged, updated, shifted};
}

// The other way: [B, L, 3 * dim] split into parts [B, heads, L, head_dim], one of which
// goes through concat (the lowering's other offset form).
std::vector<Tensor> SplitHeads(Generator& gen, const HeadShape& s) {
  const int64_t dim = s.heads * s.head_dim;
  Tensor qkv = randn({s.batch, s.length, 3 * dim}, gen);
  std::vector<Tensor> parts;
  for (int64_t p = 0; p < 3; ++p) {
    Tensor features = slice(qkv, 2, p * dim, (p + 1) * dim);
    parts.push_back(
        permute(reshape(features, {s.batch, s.length, s.heads, s.head_dim}), {0, 2, 1, 3}));
  }
  Tensor q = mul(parts[0], 0.5);
  Tensor kv = concat({parts[1], parts[2]}, 3);  // [B, heads, L, 2 * head_dim]
  Tensor back = reshape(permute(kv, {0, 2, 1, 3}), {s.batch, s.length, 2 * dim});
  return {q, kv, back};
}

TEST_F(CpuIndexBlocksTest, MergedHeadPartsMatchInterp) {
  for (const HeadShape& s : Shapes()) {
    ExpectCpuMatchesInterp([&](Generator& gen) { return MergedParts(gen, s); }, 1e-5,
                           "merged parts " + Name(s));
  }
}

TEST_F(CpuIndexBlocksTest, SplitHeadsMatchInterp) {
  for (const HeadShape& s : Shapes()) {
    ExpectCpuMatchesInterp([&](Generator& gen) { return SplitHeads(gen, s); }, 0,
                           "split heads " + Name(s));
  }
}

}  // namespace
}  // namespace kiln
