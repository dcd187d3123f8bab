// Batch-sliced groups on the cpu backend (backends/cpu/batch_sliced_groups.h): attention
// forward and backward, with key padding masks (one sample entirely padding), run one
// batch element at a time, against interp, on several thread counts; and the same
// graphs with KILN_BATCH_SLICING=0, which must run no group and give the same results
// (and with KILN_AVX2_SGEMM=0).
#include <string>
#include <vector>

#include "backends/cpu/avx2_sgemm.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lazy/creation.h"
#include "lazy/graph_executor.h"
#include "lazy/nn_attention.h"
#include "lazy/ops.h"
#include "lazy/tensor.h"
#include "tests/backends/cpu_parity_util.h"
#include "util/config.h"
#include "util/error.h"
#include "util/metrics.h"

namespace kiln {
namespace {

using ::kiln::testing::ExpectCpuMatchesInterp;
using CpuBatchSlicingTest = ::kiln::testing::PoisonedCpuTest;

struct AttentionShape {
  int64_t batch, length, dim, heads;
};

std::string Name(const AttentionShape& s, int threads, bool slicing) {
  return "[" + std::to_string(s.batch) + ", " + std::to_string(s.length) + ", " +
         std::to_string(s.dim) + "] " + std::to_string(s.heads) + " heads, " +
         std::to_string(threads) + " threads, slicing " + (slicing ? "on" : "off");
}

// The block's output and the gradients of its input and of both projections' weights,
// for a loss weighting each output element by a random target.
std::vector<Tensor> AttentionStep(Generator& gen, const AttentionShape& s) {
  nn::MultiheadSelfAttention attention(s.dim, s.heads, gen);
  Tensor x = randn({s.batch, s.length, s.dim}, gen);
  x.requires_grad_();
  Tensor mask = gt(randn({s.batch, s.length}, gen), -0.6);
  // The last sample is all padding: it attends to nothing.
  Tensor last = reshape(lt(arange(s.batch), s.batch - 1), {s.batch, 1});
  mask = logical_and(mask, last);
  Tensor y = attention.forward(x, mask);
  sum(mul(y, randn({s.batch, s.length, s.dim}, gen))).backward();
  return {y, x.grad(), attention.qkv()->weight().grad(), attention.proj()->weight().grad()};
}

const std::vector<AttentionShape>& Shapes() {
  static const auto* shapes = new std::vector<AttentionShape>{
      {3, 5, 8, 2},    // slices of odd length
      {5, 33, 12, 3},  // more slices than threads, three heads
      {2, 64, 16, 1},  // one head
  };
  return *shapes;
}

TEST_F(CpuBatchSlicingTest, AttentionForwardAndBackwardMatchInterp) {
  for (bool slicing : {true, false}) {
    for (int threads : {1, 2, 3}) {
      ScopedConfigOverride cfg;
      cfg->num_threads = threads;
      cfg->batch_slicing = slicing;
      for (const AttentionShape& s : Shapes()) {
        clear_compile_cache();
        metrics::reset();
        ExpectCpuMatchesInterp([&](Generator& gen) { return AttentionStep(gen, s); }, 1e-4,
                               Name(s, threads, slicing));
        const int64_t sliced = metrics::counter("BatchSlicedKernels");
        if (slicing) {
          // Forward: scores, softmax, weighted sum; backward: their gradients.
          EXPECT_GE(sliced, 6) << Name(s, threads, slicing);
        } else {
          EXPECT_EQ(sliced, 0) << Name(s, threads, slicing);
        }
      }
    }
  }
}

// The products run on kiln's own gemm where the CPU prefers it (above); KILN_AVX2_SGEMM=0
// sends them to OpenBLAS, with the same results.
TEST_F(CpuBatchSlicingTest, AttentionMatchesInterpWithOwnGemmOff) {
  ScopedConfigOverride cfg;
  cfg->num_threads = 2;
  cfg->avx2_sgemm = false;
  const AttentionShape s{5, 33, 12, 3};
  clear_compile_cache();
  ExpectCpuMatchesInterp([&](Generator& gen) { return AttentionStep(gen, s); }, 1e-4,
                         Name(s, 2, true) + ", own gemm off");
  EXPECT_FALSE(cpu::PreferAvx2Sgemm(false, 33, 4)) << "the run did not apply the setting";
  cfg->avx2_sgemm = true;
  ExpectCpuMatchesInterp([&](Generator& gen) { return AttentionStep(gen, s); }, 1e-4,
                         Name(s, 2, true) + ", own gemm on");
  EXPECT_EQ(cpu::PreferAvx2Sgemm(false, 33, 4),
            cpu::Avx2SgemmSupported() && !__builtin_cpu_supports("avx512f"));
  clear_compile_cache();
}

// KILN_CHECK_NAN looks at what every kernel of a group wrote, after the group (the values
// a group keeps to itself, one slice at a time, are not materialised and not checked).
TEST_F(CpuBatchSlicingTest, CheckNanStopsAtAGroupsNonFiniteOutput) {
  ScopedConfigOverride cfg;
  cfg->check_nan = true;
  cfg->num_threads = 2;
  clear_compile_cache();
  metrics::reset();
  set_device("cpu");
  Generator gen(7);
  nn::MultiheadSelfAttention attention(16, 2, gen);
  // Finite inputs whose scores overflow f32: softmax turns the infinities into NaN.
  Tensor x = mul(randn({4, 33, 16}, gen), 1e30);
  Tensor y = attention.forward(x, gt(randn({4, 33}, gen), -10.0));
  try {
    mark_step();
    ADD_FAILURE() << "mark_step did not throw";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), ::testing::HasSubstr("KILN_CHECK_NAN: kernel kiln_k"));
    EXPECT_THAT(e.what(), ::testing::ContainsRegex(" wrote (-?inf|nan) at element \\["));
  }
  EXPECT_GE(metrics::counter("BatchSlicedKernels"), 3);
  EXPECT_TRUE(y.is_pending());
  clear_compile_cache();
}

}  // namespace
}  // namespace kiln
