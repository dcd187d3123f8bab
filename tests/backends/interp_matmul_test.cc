// Matmul on the interp backend: plain, batched with broadcast batch dims, empty inner
// size, accuracy and a size that must stay fast.
#include <chrono>
#include <cstdint>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/backends/interp_test_util.h"

namespace kiln::interp_test {
namespace {

using ::testing::ElementsAre;
using ::testing::ElementsAreArray;

template <typename T>
class InterpMatmulTest : public ::testing::Test {};
using NumericTypes = ::testing::Types<int32_t, int64_t, float, double>;
TYPED_TEST_SUITE(InterpMatmulTest, NumericTypes);

TYPED_TEST(InterpMatmulTest, TwoByThreeTimesThreeByTwo) {
  using T = TypeParam;
  const Value a = Param<T>({2, 3}, {1, 2, 3, 4, 5, 6});
  const Value b = Param<T>({3, 2}, {7, 8, 9, 10, 11, -12});
  BufferPtr out = RunOne(Op(OpKind::kMatmul, {a, b}));
  EXPECT_EQ(ShapeOf(out), std::string(DTypeName(DTypeOf<T>)) + "[2,2]");
  // [1*7+2*9+3*11, 1*8+2*10-3*12; 4*7+5*9+6*11, 4*8+5*10-6*12]
  EXPECT_THAT(Read<T>(out), ElementsAre(58, -8, 139, 10));
}

TEST(InterpMatmulTest, BatchedWithSharedRightOperand) {
  // [2,2,3] x [3,2]: the right matrix is used for both batches.
  const Value a = Param<float>({2, 2, 3}, {1, 0, 2, 0, 1, 1, -1, 3, 0, 2, 2, 2});
  const Value b = Param<float>({3, 2}, {1, 2, 3, 4, 5, 6});
  BufferPtr out = RunOne(Op(OpKind::kMatmul, {a, b}));
  EXPECT_EQ(ShapeOf(out), "f32[2,2,2]");
  // Batch 0: [1,0,2]->[11,14], [0,1,1]->[8,10]; batch 1: [-1,3,0]->[8,10], [2,2,2]->[18,24].
  EXPECT_THAT(Read<float>(out), ElementsAre(11, 14, 8, 10, 8, 10, 18, 24));
}

TEST(InterpMatmulTest, BroadcastBatchDims) {
  // [2,1,2,2] x [3,2,2] -> [2,3,2,2]: a's batch i meets every b batch j.
  // a_i = [[1+i, 2], [0, 1]], b_j = [[1, j], [j, 1]] so a_i b_j = [[1+i+2j, (1+i)j+2], [j, 1]].
  const Value a = Param<int64_t>({2, 1, 2, 2}, {1, 2, 0, 1, 2, 2, 0, 1});
  const Value b = Param<int64_t>({3, 2, 2}, {1, 0, 0, 1, 1, 1, 1, 1, 1, 2, 2, 1});
  BufferPtr out = RunOne(Op(OpKind::kMatmul, {a, b}));
  EXPECT_EQ(ShapeOf(out), "i64[2,3,2,2]");
  std::vector<int64_t> expected;
  for (int64_t i = 0; i < 2; ++i) {
    for (int64_t j = 0; j < 3; ++j) {
      const std::vector<int64_t> product = {1 + i + 2 * j, (1 + i) * j + 2, j, 1};
      expected.insert(expected.end(), product.begin(), product.end());
    }
  }
  EXPECT_THAT(Read<int64_t>(out), ElementsAreArray(expected));
  // Spot-check one block by hand: i=1, j=2 -> [[2,2],[0,1]] x [[1,2],[2,1]] = [[6,6],[2,1]].
  EXPECT_EQ(std::vector<int64_t>(expected.end() - 4, expected.end()),
            (std::vector<int64_t>{6, 6, 2, 1}));
}

TEST(InterpMatmulTest, EmptyInnerSizeGivesZeros) {
  const Value a = Param<float>({2, 0}, {});
  const Value b = Param<float>({0, 3}, {});
  BufferPtr out = RunOne(Op(OpKind::kMatmul, {a, b}));
  EXPECT_EQ(ShapeOf(out), "f32[2,3]");
  EXPECT_THAT(Read<float>(out), ElementsAre(0, 0, 0, 0, 0, 0));
  const Value c = Param<double>({0, 2, 2}, {});
  const Value d = Param<double>({2, 2}, {1, 2, 3, 4});
  EXPECT_EQ(ShapeOf(RunOne(Op(OpKind::kMatmul, {c, d}))), "f64[0,2,2]");
}

TEST(InterpMatmulTest, FloatAccumulatesInDouble) {
  // 1e8 + 1 - 1e8 in f32 steps would give 0; the f64 accumulator keeps the 1.
  const Value a = Param<float>({1, 3}, {1, 1, 1});
  const Value b = Param<float>({3, 1}, {1e8f, 1, -1e8f});
  EXPECT_THAT(Read<float>(RunOne(Op(OpKind::kMatmul, {a, b}))), ElementsAre(1));
}

TEST(InterpMatmulTest, Int32ProductsAccumulateInInt64) {
  // 65536 * 65536 overflows i32 on its own; the sum 2^32 - 2^32 + 5 fits.
  const Value a = Param<int32_t>({1, 3}, {65536, -65536, 5});
  const Value b = Param<int32_t>({3, 1}, {65536, 65536, 1});
  EXPECT_THAT(Read<int32_t>(RunOne(Op(OpKind::kMatmul, {a, b}))), ElementsAre(5));
}

TEST(InterpMatmulTest, Size256IsFast) {
  // A x (2 I) = 2A exactly, so the whole result is checkable.
  constexpr int64_t kN = 256;
  std::vector<float> a(kN * kN);
  std::vector<float> twice_identity(kN * kN, 0.0f);
  std::vector<float> expected(kN * kN);
  for (int64_t i = 0; i < kN; ++i) {
    twice_identity[i * kN + i] = 2.0f;
    for (int64_t j = 0; j < kN; ++j) {
      a[i * kN + j] = static_cast<float>((i * 7 + j * 3) % 11) - 5.0f;
      expected[i * kN + j] = 2.0f * a[i * kN + j];
    }
  }
  const Value x = Param<float>({kN, kN}, a);
  const Value y = Param<float>({kN, kN}, twice_identity);
  const Graph graph = Graph::Build({Op(OpKind::kMatmul, {x, y})});
  std::unique_ptr<Executable> exe = Interp().Compile(graph).value();
  const auto start = std::chrono::steady_clock::now();
  absl::StatusOr<std::vector<BufferPtr>> out = exe->Run(ArgumentsOf(graph));
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_LT(seconds, 1.0);
  EXPECT_EQ(Read<float>(out->front()), expected);
}

}  // namespace
}  // namespace kiln::interp_test
