// einsum against a loop over every assignment of every letter (the definition, with no
// contraction order), on fresh random data.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "lazy/ops.h"
#include "lazy/tensor.h"

namespace kiln {
namespace {

using ::testing::ElementsAreArray;

struct Operand {
  std::vector<int64_t> sizes;
  std::vector<double> values;
};

int64_t Numel(const std::vector<int64_t>& sizes) {
  int64_t n = 1;
  for (int64_t s : sizes) n *= s;
  return n;
}

// sum over every letter assignment of the product of the operands' elements, for an
// explicit equation of letters only; a size-1 dimension broadcasts.
std::vector<double> LoopEinsum(const std::string& equation, const std::vector<Operand>& operands) {
  const std::vector<std::string> sides = absl::StrSplit(equation, "->");
  const std::vector<std::string> terms = absl::StrSplit(sides[0], ',');
  const std::string& output = sides[1];
  std::map<char, int64_t> size;
  for (size_t k = 0; k < terms.size(); ++k) {
    for (size_t d = 0; d < terms[k].size(); ++d) {
      size[terms[k][d]] = std::max(size[terms[k][d]], operands[k].sizes[d]);
    }
  }
  std::vector<int64_t> out_sizes;
  for (char c : output) out_sizes.push_back(size[c]);
  std::vector<double> out(Numel(out_sizes), 0.0);
  std::map<char, int64_t> at;
  for (const auto& [c, n] : size) at[c] = 0;
  for (;;) {
    bool empty = false;
    for (const auto& [c, n] : size) empty |= n == 0;
    if (empty) break;
    double product = 1;
    for (size_t k = 0; k < terms.size(); ++k) {
      int64_t offset = 0;
      for (size_t d = 0; d < terms[k].size(); ++d) {
        const int64_t n = operands[k].sizes[d];
        offset = offset * n + (n == 1 ? 0 : at[terms[k][d]]);
      }
      product *= operands[k].values[offset];
    }
    int64_t offset = 0;
    for (char c : output) offset = offset * size[c] + at[c];
    out[offset] += product;
    // The next assignment, the last letter fastest.
    auto it = size.rbegin();
    for (; it != size.rend(); ++it) {
      if (++at[it->first] < it->second) break;
      at[it->first] = 0;
    }
    if (it == size.rend()) break;
  }
  return out;
}

std::vector<Operand> RandomOperands(const std::vector<std::vector<int64_t>>& shapes,
                                    std::mt19937& rng) {
  std::normal_distribution<double> normal;
  std::vector<Operand> operands;
  for (const auto& sizes : shapes) {
    Operand op{sizes, {}};
    for (int64_t i = 0; i < Numel(sizes); ++i) op.values.push_back(normal(rng));
    operands.push_back(std::move(op));
  }
  return operands;
}

std::vector<Tensor> ToTensors(const std::vector<Operand>& operands) {
  std::vector<Tensor> tensors;
  for (const Operand& op : operands) {
    tensors.push_back(Tensor::from_vector<double>(op.values, op.sizes));
  }
  return tensors;
}

void ExpectNear(const std::vector<double>& actual, const std::vector<double>& expected) {
  ASSERT_EQ(actual.size(), expected.size());
  for (size_t i = 0; i < actual.size(); ++i) {
    EXPECT_NEAR(actual[i], expected[i], 1e-12 * (1 + std::abs(expected[i]))) << "element " << i;
  }
}

struct Case {
  std::string equation;
  std::vector<std::vector<int64_t>> shapes;
  std::vector<int64_t> result_sizes;
};

TEST(EinsumTest, EqualsTheSumOverEveryLetterAssignment) {
  const std::vector<Case> cases = {
      {"ij,jk->ik", {{3, 4}, {4, 5}}, {3, 5}},
      {"ij,kj->ik", {{3, 4}, {5, 4}}, {3, 5}},
      {"ji,jk->ki", {{4, 3}, {4, 5}}, {5, 3}},
      {"bhqd,bhkd->bhqk", {{2, 3, 4, 5}, {2, 3, 6, 5}}, {2, 3, 4, 6}},
      {"bhqk,bhkd->bhqd", {{2, 3, 4, 6}, {2, 3, 6, 5}}, {2, 3, 4, 5}},
      {"bqhd,bkhd->bhqk", {{2, 4, 3, 5}, {2, 6, 3, 5}}, {2, 3, 4, 6}},
      {"bij,bjk->bik", {{1, 3, 4}, {2, 4, 5}}, {2, 3, 5}},  // batch broadcast
      {"bij,jk->bik", {{2, 3, 4}, {4, 5}}, {2, 3, 5}},
      {"ijk,ikj->ij", {{2, 3, 4}, {2, 4, 3}}, {2, 3}},
      {"i,i->", {{7}, {7}}, {}},
      {"i,j->ij", {{3}, {4}}, {3, 4}},
      {"ij,ij->ij", {{3, 4}, {3, 4}}, {3, 4}},
      {"ij,ij->i", {{3, 4}, {3, 4}}, {3}},
      {"ij,ij->", {{3, 4}, {3, 4}}, {}},
      {"ii->i", {{4, 4}}, {4}},
      {"ii->", {{4, 4}}, {}},
      {"iij->ji", {{3, 3, 2}}, {2, 3}},
      {"ijij->ij", {{2, 3, 2, 3}}, {2, 3}},
      {"ii,ij->j", {{3, 3}, {3, 4}}, {4}},
      {"ij->ji", {{3, 4}}, {4, 3}},
      {"ij->", {{3, 4}}, {}},
      {"ijk->kj", {{2, 3, 4}}, {4, 3}},
      {"ij,jk->", {{3, 4}, {4, 5}}, {}},
      {"ij,jk->i", {{3, 4}, {4, 5}}, {3}},  // k summed in operand 1 alone first
      {"i,j,k->ijk", {{2}, {3}, {4}}, {2, 3, 4}},
      {"ij,jk,kl->il", {{2, 3}, {3, 4}, {4, 5}}, {2, 5}},
      {"abc,cd,ad->b", {{2, 3, 4}, {4, 5}, {2, 5}}, {3}},
      {"ab,ab,ab->a", {{3, 4}, {3, 4}, {3, 4}}, {3}},
      {"ij,jk->ik", {{3, 1}, {4, 5}}, {3, 5}},  // a summed letter of size 1 broadcasts
      {"i,i->i", {{3}, {1}}, {3}},
      {"i,ij->ij", {{1}, {4, 5}}, {4, 5}},
      {"iJ,Jk->ik", {{3, 4}, {4, 2}}, {3, 2}},
      {"ij,jk->ik", {{3, 0}, {0, 5}}, {3, 5}},  // nothing to sum: zeros
      {"ij,jk->ik", {{0, 4}, {4, 5}}, {0, 5}},
  };
  std::mt19937 rng(5);
  for (const Case& c : cases) {
    SCOPED_TRACE(c.equation);
    const std::vector<Operand> operands = RandomOperands(c.shapes, rng);
    const Tensor result = einsum(c.equation, ToTensors(operands));
    EXPECT_THAT(result.sizes(), ElementsAreArray(c.result_sizes));
    EXPECT_EQ(result.dtype(), DType::kF64);
    ExpectNear(result.to_vector<double>(), LoopEinsum(c.equation, operands));
  }
}

// The implicit output and "..." as torch reads them, each against an explicit equation
// of letters only that means the same.
TEST(EinsumTest, EllipsisAndImplicitOutputAsTorch) {
  const std::vector<std::pair<Case, std::string>> cases = {
      {{"ij,jk", {{3, 4}, {4, 5}}, {3, 5}}, "ij,jk->ik"},
      {{"ji", {{3, 4}}, {4, 3}}, "ji->ij"},
      {{"bA,bc", {{2, 3}, {2, 4}}, {3, 4}}, "bA,bc->Ac"},  // upper case first
      {{"ii", {{4, 4}}, {}}, "ii->"},
      {{"i,i", {{5}, {5}}, {}}, "i,i->"},
      {{"...ij,...jk->...ik", {{2, 1, 3, 4}, {5, 4, 6}}, {2, 5, 3, 6}}, "abij,bjk->abik"},
      {{"...ij,...jk", {{2, 1, 3, 4}, {5, 4, 6}}, {2, 5, 3, 6}}, "abij,bjk->abik"},
      {{"...i->i", {{2, 3, 4}}, {4}}, "abi->i"},
      {{"...i", {{2, 3, 4}}, {2, 3, 4}}, "abi->abi"},
      {{"i...->...", {{3, 2, 4}}, {2, 4}}, "iab->ab"},
      {{"b...d,b...d->b...", {{2, 3, 4, 5}, {2, 3, 4, 5}}, {2, 3, 4}}, "bxyd,bxyd->bxy"},
      {{"...,...->...", {{2, 3}, {3}}, {2, 3}}, "ab,b->ab"},
      {{"... i j , j k -> ... i k", {{2, 3, 4}, {4, 5}}, {2, 3, 5}}, "aij,jk->aik"},
  };
  std::mt19937 rng(6);
  for (const auto& [c, letters] : cases) {
    SCOPED_TRACE(c.equation);
    const std::vector<Operand> operands = RandomOperands(c.shapes, rng);
    const Tensor result = einsum(c.equation, ToTensors(operands));
    EXPECT_THAT(result.sizes(), ElementsAreArray(c.result_sizes));
    ExpectNear(result.to_vector<double>(), LoopEinsum(letters, operands));
  }
}

// Attention's scores through einsum are the same matmul as written by hand, bit for bit.
TEST(EinsumTest, AttentionScoresAreOneMatmul) {
  std::mt19937 rng(7);
  std::normal_distribution<float> normal;
  std::vector<float> q(2 * 3 * 8 * 16), k(2 * 3 * 10 * 16);
  for (float& v : q) v = normal(rng);
  for (float& v : k) v = normal(rng);
  const Tensor tq = Tensor::from_vector<float>(q, {2, 3, 8, 16});
  const Tensor tk = Tensor::from_vector<float>(k, {2, 3, 10, 16});
  const Tensor scores = einsum("bhqd,bhkd->bhqk", {tq, tk});
  EXPECT_EQ(scores.dtype(), DType::kF32);
  EXPECT_EQ(scores.to_vector<float>(), matmul(tq, transpose(tk, -1, -2)).to_vector<float>());
}

TEST(EinsumTest, DtypesPromoteAndIntegersStayExact) {
  const Tensor a = Tensor::from_vector<int32_t>({1, -2, 3, 4, 5, -6}, {2, 3});
  const Tensor b = Tensor::from_vector<int32_t>({7, 8, -9, 10, 11, 12}, {3, 2});
  const Tensor ab = einsum("ij,jk->ik", {a, b});
  EXPECT_EQ(ab.dtype(), DType::kI32);
  EXPECT_THAT(ab.to_vector<int32_t>(), ElementsAreArray({58, 24, -83, 10}));
  const Tensor total = einsum("ij->", {a});
  EXPECT_EQ(total.dtype(), DType::kI32);
  EXPECT_EQ(total.item(), 5);
  const Tensor mixed = einsum("ij,j->i", {Tensor::from_vector<float>({1.5f, 2, 3, 4}, {2, 2}),
                                          Tensor::from_vector<double>({0.25, -1}, {2})});
  EXPECT_EQ(mixed.dtype(), DType::kF64);
  EXPECT_THAT(mixed.to_vector<double>(), ElementsAreArray({-1.625, -3.25}));
}

}  // namespace
}  // namespace kiln
