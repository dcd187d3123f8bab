#include "lazy/optim_param_groups.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "lazy/creation.h"

namespace kiln::optim {
namespace {

std::vector<const TensorImpl*> Impls(const std::vector<Tensor>& tensors) {
  std::vector<const TensorImpl*> impls;
  for (const Tensor& t : tensors) impls.push_back(t.impl().get());
  return impls;
}

TEST(OptimParamGroupsTest, MatricesDecayVectorsAndScalarsDoNot) {
  const Tensor w1 = zeros({8, 4}), b1 = zeros({8}), ln = zeros({8}), w2 = zeros({2, 8});
  const Tensor conv = zeros({3, 3, 2, 2}), scale = zeros({});
  const std::vector<ParamGroup> groups = DecayGroupsByRank({w1, b1, ln, w2, conv, scale}, 0.05);
  ASSERT_EQ(groups.size(), 2u);
  EXPECT_EQ(Impls(groups[0].params), Impls({w1, w2, conv}));
  EXPECT_EQ(groups[0].weight_decay, 0.05);
  EXPECT_FALSE(groups[0].lr.has_value());
  EXPECT_EQ(Impls(groups[1].params), Impls({b1, ln, scale}));
  EXPECT_EQ(groups[1].weight_decay, 0.0);
}

TEST(OptimParamGroupsTest, NamedParametersSplitTheSameWay) {
  const Tensor w = zeros({8, 4}), b = zeros({8});
  const std::vector<std::pair<std::string, Tensor>> named = {{"fc.weight", w}, {"fc.bias", b}};
  const std::vector<ParamGroup> groups = DecayGroupsByRank(named, 0.1);
  ASSERT_EQ(groups.size(), 2u);
  EXPECT_EQ(Impls(groups[0].params), Impls({w}));
  EXPECT_EQ(Impls(groups[1].params), Impls({b}));
}

TEST(OptimParamGroupsTest, EmptyGroupsAreLeftOut) {
  const Tensor b = zeros({8});
  const std::vector<ParamGroup> only_bias = DecayGroupsByRank(std::vector<Tensor>{b}, 0.1);
  ASSERT_EQ(only_bias.size(), 1u);
  EXPECT_EQ(only_bias[0].weight_decay, 0.0);
  const Tensor w = zeros({2, 2});
  const std::vector<ParamGroup> only_matrix = DecayGroupsByRank(std::vector<Tensor>{w}, 0.1);
  ASSERT_EQ(only_matrix.size(), 1u);
  EXPECT_EQ(only_matrix[0].weight_decay, 0.1);
  EXPECT_TRUE(DecayGroupsByRank(std::vector<Tensor>{}, 0.1).empty());
}

}  // namespace
}  // namespace kiln::optim
