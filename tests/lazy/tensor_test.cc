#include "lazy/tensor.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "lazy/graph_executor.h"
#include "lazy/live_tensors.h"
#include "lazy/ops.h"
#include "lazy/tensor_impl.h"
#include "tests/lazy/op_test_util.h"
#include "util/error.h"
#include "util/metrics.h"

namespace kiln {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

using ::kiln::testing::ErrorOf;

TEST(TensorTest, FromVectorRoundTripsEveryDtype) {
  EXPECT_THAT(Tensor::from_vector<float>({1.5f, -2.25f}, {2}).to_vector<float>(),
              ElementsAre(1.5f, -2.25f));
  EXPECT_THAT(Tensor::from_vector<double>({1e-300, 3.0}, {2, 1}).to_vector<double>(),
              ElementsAre(1e-300, 3.0));
  EXPECT_THAT(Tensor::from_vector<int32_t>({7, -8, 9}, {3}).to_vector<int32_t>(),
              ElementsAre(7, -8, 9));
  EXPECT_THAT(Tensor::from_vector<int64_t>({int64_t{1} << 40}, {1}).to_vector<int64_t>(),
              ElementsAre(int64_t{1} << 40));
  EXPECT_THAT(Tensor::from_vector<bool>({true, false, true}, {3}).to_vector<bool>(),
              ElementsAre(true, false, true));
}

TEST(TensorTest, ShapeQueries) {
  Tensor t = Tensor::from_vector<float>({1, 2, 3, 4, 5, 6}, {2, 3});
  EXPECT_EQ(t.shape().ToString(), "f32[2,3]");
  EXPECT_EQ(t.dtype(), DType::kF32);
  EXPECT_EQ(t.dim(), 2);
  EXPECT_EQ(t.numel(), 6);
  EXPECT_EQ(t.size(-1), 3);
  EXPECT_EQ(t.size(0), 2);
  EXPECT_THAT(ErrorOf([&] { t.size(2); }), HasSubstr("dimension 2 is out of range for f32[2,3]"));
  EXPECT_EQ(t.ToString(), "f32[2,3] (materialized)");
  EXPECT_FALSE(t.is_pending());
}

TEST(TensorTest, ZeroDimAndEmptyTensors) {
  Tensor scalar = Tensor::from_vector<double>({2.5}, {});
  EXPECT_EQ(scalar.dim(), 0);
  EXPECT_DOUBLE_EQ(scalar.item(), 2.5);
  Tensor empty = Tensor::from_vector<float>({}, {0, 4});
  EXPECT_EQ(empty.numel(), 0);
  EXPECT_TRUE(empty.to_vector<float>().empty());
}

TEST(TensorTest, FromVectorErrors) {
  EXPECT_THAT(ErrorOf([] {
                Tensor::from_vector<float>({1, 2, 3}, {2, 2});
              }),
              HasSubstr("from_vector: 3 values do not fill shape [2,2] (4 elements)"));
  EXPECT_THAT(ErrorOf([] { Tensor::from_vector<float>({}, {-1}); }),
              HasSubstr("from_vector: negative size in shape [-1]"));
}

TEST(TensorTest, ReadErrors) {
  Tensor t = Tensor::from_vector<float>({1, 2}, {2});
  EXPECT_THAT(ErrorOf([&] { t.to_vector<int64_t>(); }),
              HasSubstr("to_vector: the tensor is f32[2] but was read as i64"));
  EXPECT_THAT(ErrorOf([&] { t.item(); }),
              HasSubstr("item: expected a tensor with one element, got f32[2]"));
  Tensor undefined;
  EXPECT_FALSE(undefined.defined());
  EXPECT_THAT(ErrorOf([&] { undefined.item(); }), HasSubstr("item: the tensor is undefined"));
  EXPECT_EQ(undefined.ToString(), "undefined");
}

TEST(TensorTest, OpsArePendingUntilRead) {
  Tensor a = Tensor::from_vector<float>({1, 2, 3}, {3});
  Tensor b = a * 2.0;
  EXPECT_TRUE(b.is_pending());
  EXPECT_EQ(b.ToString(), "f32[3] (pending)");
  EXPECT_THAT(b.to_vector<float>(), ElementsAre(2, 4, 6));
  EXPECT_FALSE(b.is_pending());
}

TEST(TensorTest, CopiesShareState) {
  Tensor a = Tensor::from_vector<float>({1, 2}, {2});
  Tensor alias = a;
  a.assign_(a + 1.0);
  EXPECT_TRUE(alias.is_pending());
  EXPECT_THAT(alias.to_vector<float>(), ElementsAre(2, 3));
}

TEST(TensorTest, AssignKeepsIdentityAndChecksShape) {
  Tensor w = Tensor::from_vector<float>({1, 2}, {2});
  const TensorImpl* identity = w.impl().get();
  w.assign_(w * 3.0);
  EXPECT_EQ(w.impl().get(), identity);
  EXPECT_THAT(w.to_vector<float>(), ElementsAre(3, 6));

  Tensor other = Tensor::from_vector<float>({1, 2, 3}, {3});
  EXPECT_THAT(ErrorOf([&] { w.assign_(other); }),
              HasSubstr("assign_: cannot assign f32[3] to f32[2]"));
  Tensor ints = Tensor::from_vector<int32_t>({1, 2}, {2});
  EXPECT_THAT(ErrorOf([&] { w.assign_(ints); }), HasSubstr("cannot assign i32[2] to f32[2]"));
  // The failed assignments left w untouched.
  EXPECT_THAT(w.to_vector<float>(), ElementsAre(3, 6));

  // Assigning a materialised tensor shares its buffer.
  Tensor source = Tensor::from_vector<float>({5, 7}, {2});
  w.assign_(source);
  EXPECT_FALSE(w.is_pending());
  EXPECT_EQ(w.impl()->buffer(), source.impl()->buffer());
}

TEST(TensorTest, OneDeviceDataLeafPerBuffer) {
  Tensor a = Tensor::from_vector<float>({1, 2}, {2});
  EXPECT_EQ(a.value().node, a.value().node);
  EXPECT_EQ(a.value().node->op(), OpKind::kDeviceData);
  EXPECT_EQ(a.value().node->data(), a.impl()->buffer());
}

TEST(TensorTest, LiveRegistryTracksTensors) {
  const size_t before = live_tensors::Count();
  {
    Tensor a = Tensor::from_vector<float>({1}, {1});
    Tensor b = a + 1.0;
    EXPECT_EQ(live_tensors::Count(), before + 2);  // the scalar operand was a temporary
    bool found = false;
    for (const auto& impl : live_tensors::Pending()) found |= impl.get() == b.impl().get();
    EXPECT_TRUE(found);
  }
  EXPECT_EQ(live_tensors::Count(), before);
}

TEST(TensorTest, TransfersAreCounted) {
  metrics::reset();
  Tensor a = Tensor::from_vector<float>({1, 2}, {2});
  a.to_vector<float>();
  a.to_vector<float>();
  EXPECT_EQ(metrics::counter("TransferToDevice"), 1);
  EXPECT_EQ(metrics::counter("TransferFromDevice"), 2);
}

}  // namespace
}  // namespace kiln
