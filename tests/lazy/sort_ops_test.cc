// sort, argsort and topk against std::stable_sort on the host, with ties, NaN and
// infinities, along either dimension.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

#include "lazy/creation.h"
#include "lazy/generator.h"
#include "lazy/graph_executor.h"
#include "lazy/ops.h"
#include "lazy/tensor.h"
#include "tests/lazy/op_test_util.h"

namespace kiln {
namespace {

using ::testing::ElementsAre;

// torch.sort's order: NaN is the largest value.
bool HostBefore(double a, double b, bool descending) {
  if (std::isnan(a) || std::isnan(b)) return descending ? !std::isnan(b) : !std::isnan(a);
  return descending ? a > b : a < b;
}

// The stable order of each row of a row-major [rows, cols] matrix along `dim`, as the
// indices a sort along dim returns, laid out as the matrix is.
std::vector<int64_t> HostOrder(const std::vector<double>& v, int64_t rows, int64_t cols,
                               int64_t dim, bool descending) {
  const int64_t lines = dim == 1 ? rows : cols;
  const int64_t n = dim == 1 ? cols : rows;
  const auto at = [&](int64_t line, int64_t k) {
    return dim == 1 ? line * cols + k : k * cols + line;
  };
  std::vector<int64_t> out(v.size());
  for (int64_t line = 0; line < lines; ++line) {
    std::vector<int64_t> order(n);
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) {
      return HostBefore(v[at(line, a)], v[at(line, b)], descending);
    });
    for (int64_t k = 0; k < n; ++k) out[at(line, k)] = order[k];
  }
  return out;
}

TEST(SortOpsTest, SortAndArgsortAsStableSort) {
  Generator gen(41);
  for (int64_t n : {1, 7, 100}) {
    for (int64_t dim : {0, 1}) {
      const int64_t rows = dim == 0 ? n : 5;
      const int64_t cols = dim == 0 ? 3 : n;
      // Floats, and integers with many ties (stability decides their order).
      const Tensor inputs[] = {randn({rows, cols}, gen, DType::kF32),
                               randn({rows, cols}, gen, DType::kF64),
                               cast(rand({rows, cols}, gen) * 4.0, DType::kI32)};
      for (const Tensor& x : inputs) {
        const std::vector<double> v = cast(x, DType::kF64).to_vector<double>();
        // Both orders, sort and argsort, in one graph: one compile.
        const SortResult sorted[] = {sort(x, dim, false), sort(x, dim, true)};
        const Tensor argsorted[] = {argsort(x, dim - 2, false), argsort(x, dim - 2, true)};
        mark_step();
        for (bool descending : {false, true}) {
          const std::vector<int64_t> want = HostOrder(v, rows, cols, dim, descending);
          const SortResult& s = sorted[descending];
          ASSERT_EQ(s.values.shape(), x.shape());
          EXPECT_EQ(s.indices.dtype(), DType::kI64);
          EXPECT_EQ(s.indices.to_vector<int64_t>(), want)
              << x.shape().ToString() << " dim " << dim << " descending " << descending;
          const std::vector<double> values = cast(s.values, DType::kF64).to_vector<double>();
          for (size_t k = 0; k < want.size(); ++k) {
            const int64_t line = dim == 1 ? k / cols : k % cols;
            const size_t from = dim == 1 ? line * cols + want[k] : want[k] * cols + line;
            ASSERT_EQ(values[k], v[from]) << k;
          }
          EXPECT_EQ(argsorted[descending].to_vector<int64_t>(), want);
        }
      }
    }
  }
}

TEST(SortOpsTest, NanIsTheLargestValue) {
  Tensor x = Tensor::from_vector<float>({3, NAN, 1, NAN, -INFINITY, INFINITY}, {6});
  SortResult up = sort(x);
  EXPECT_THAT(up.indices.to_vector<int64_t>(), ElementsAre(4, 2, 0, 5, 1, 3));
  std::vector<float> v = up.values.to_vector<float>();
  EXPECT_THAT(std::vector<float>(v.begin(), v.begin() + 4), ElementsAre(-INFINITY, 1, 3, INFINITY));
  EXPECT_TRUE(std::isnan(v[4]) && std::isnan(v[5]));
  EXPECT_THAT(sort(x, 0, /*descending=*/true).indices.to_vector<int64_t>(),
              ElementsAre(1, 3, 5, 0, 2, 4));
}

// topk selects a small k pass by pass and sorts for a larger one; both give sort's first k.
TEST(SortOpsTest, TopkIsSortsFirstK) {
  constexpr int64_t kTopK[] = {1, 6, 25};
  Generator gen(43);
  const int64_t n = 100;
  for (int64_t dim : {0, 1}) {
    const int64_t rows = dim == 0 ? n : 3;
    const int64_t cols = dim == 0 ? 2 : n;
    // Ties, infinities and NaN among the floats; many ties among the integers.
    Tensor f = randn({rows, cols}, gen);
    f = where(gt(f, 1.5), INFINITY, where(lt(f, -1.5), -INFINITY, where(gt(f, 1.2), NAN, f)));
    f = where(gt(f, 0.8), 0.5, f);
    const Tensor inputs[] = {f, cast(rand({rows, cols}, gen) * 5.0, DType::kI32),
                             cast(randn({rows, cols}, gen) * 3e9, DType::kI64)};
    for (const Tensor& x : inputs) {
      const std::vector<double> v = cast(x, DType::kF64).to_vector<double>();
      // Every k and order in one graph: one compile.
      std::vector<SortResult> tops;
      for (bool largest : {true, false}) {
        for (int64_t k : kTopK) tops.push_back(topk(x, k, dim, largest));
      }
      mark_step();
      for (size_t t = 0; t < tops.size(); ++t) {
        const bool largest = t < std::size(kTopK);
        const int64_t k = kTopK[t % std::size(kTopK)];
        const std::vector<int64_t> order = HostOrder(v, rows, cols, dim, largest);
        std::vector<int64_t> want;
        for (size_t at = 0; at < order.size(); ++at) {
          if ((dim == 1 ? int64_t(at) % cols : int64_t(at) / cols) < k) want.push_back(order[at]);
        }
        const std::vector<int64_t> indices = tops[t].indices.to_vector<int64_t>();
        EXPECT_EQ(indices, want) << x.shape().ToString() << " dim " << dim << " k " << k
                                 << " largest " << largest;
        const std::vector<double> values = cast(tops[t].values, DType::kF64).to_vector<double>();
        for (size_t at = 0; at < values.size(); ++at) {
          const int64_t line = dim == 1 ? at / k : at % cols;
          const double from = v[dim == 1 ? line * cols + indices[at] : indices[at] * cols + line];
          ASSERT_TRUE(values[at] == from || (std::isnan(values[at]) && std::isnan(from)));
        }
      }
    }
  }
}

TEST(SortOpsTest, TopkAsTorch) {
  Tensor x = Tensor::from_vector<float>({5, -1, 9, 2, 9, 0, 7, 3}, {2, 4});
  SortResult top = topk(x, 2);
  EXPECT_EQ(top.values.shape().ToString(), "f32[2,2]");
  EXPECT_THAT(top.values.to_vector<float>(), ElementsAre(9, 5, 9, 7));
  EXPECT_THAT(top.indices.to_vector<int64_t>(), ElementsAre(2, 0, 0, 2));
  SortResult low = topk(x, 1, 0, /*largest=*/false);
  EXPECT_EQ(low.values.shape().ToString(), "f32[1,4]");
  EXPECT_THAT(low.values.to_vector<float>(), ElementsAre(5, -1, 7, 2));
  EXPECT_THAT(low.indices.to_vector<int64_t>(), ElementsAre(0, 0, 1, 0));
  EXPECT_EQ(topk(x, 0).values.shape().ToString(), "f32[2,0]");
  EXPECT_THAT(topk(x, 4).indices.to_vector<int64_t>(), ElementsAre(2, 0, 3, 1, 0, 2, 3, 1));
  // bool orders false < true and stays bool.
  SortResult flags = topk(Tensor::from_vector<bool>({false, true, false, true}, {4}), 3);
  EXPECT_EQ(flags.values.dtype(), DType::kBool);
  EXPECT_THAT(flags.values.to_vector<bool>(), ElementsAre(true, true, false));
  EXPECT_THAT(flags.indices.to_vector<int64_t>(), ElementsAre(1, 3, 0));
  // Empty rows.
  EXPECT_EQ(sort(zeros({3, 0})).values.shape().ToString(), "f32[3,0]");
  EXPECT_EQ(topk(zeros({0, 5}), 2).indices.shape().ToString(), "i64[0,2]");
}

}  // namespace
}  // namespace kiln
