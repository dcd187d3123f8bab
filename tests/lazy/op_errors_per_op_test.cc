// Every public op, function and layer that takes tensors rejects bad input with a
// kiln::Error that names the op, the shapes and what was expected, and leaves its
// operands and the tensor registry as they were (op_errors_test.cc covers the classes of
// error; this file goes op by op). Index values out of range are reported when the graph
// runs, naming the index, and the process goes on working.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "lazy/composite_ops.h"
#include "lazy/creation.h"
#include "lazy/device.h"
#include "lazy/generator.h"
#include "lazy/graph_executor.h"
#include "lazy/nn_activations.h"
#include "lazy/nn_attention.h"
#include "lazy/nn_batch_norm.h"
#include "lazy/nn_conv.h"
#include "lazy/nn_embedding.h"
#include "lazy/nn_functional.h"
#include "lazy/nn_group_norm.h"
#include "lazy/nn_init.h"
#include "lazy/nn_layer_norm.h"
#include "lazy/nn_linear.h"
#include "lazy/nn_loss.h"
#include "lazy/nn_mlp.h"
#include "lazy/nn_pool.h"
#include "lazy/nn_sequential.h"
#include "lazy/nn_transformer.h"
#include "lazy/ops.h"
#include "lazy/optim_adamw.h"
#include "lazy/optim_param_groups.h"
#include "lazy/optim_schedule.h"
#include "lazy/optim_sgd.h"
#include "lazy/tensor.h"
#include "tests/lazy/op_errors_util.h"
#include "util/error.h"

namespace kiln {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// An op under test: its name (what messages start with) and a call of it.
struct NamedCall {
  std::string name;
  std::function<Tensor(const Tensor&)> fn;
};

class OpErrorsPerOpTest : public ::testing::Test {
 protected:
  Tensor f34_ = Tensor::from_vector<float>(std::vector<float>(12, 1.5f), {3, 4});
  Tensor f5_ = Tensor::from_vector<float>({1, 2, 3, 4, 5}, {5});
  Tensor i5_ = Tensor::from_vector<int32_t>({1, 2, 3, 4, 5}, {5});
  Tensor i34_ = Tensor::from_vector<int64_t>(std::vector<int64_t>(12, 1), {3, 4});
  Tensor pending_ = Tensor::from_vector<float>({1, 2, 3, 4, 5, 6}, {2, 3}) * 2.0;
  Tensor flags_ = Tensor::from_vector<bool>({true, false}, {2});
  Tensor scalar_ = Tensor::from_vector<float>({3}, {});
  Tensor empty_ = Tensor::from_vector<float>({}, {2, 0});
  const Tensor undefined_;
};

// --- unary ---

TEST_F(OpErrorsPerOpTest, UnaryOpsRejectUndefined) {
  const std::vector<NamedCall> ops = {
      {"neg", [](const Tensor& x) { return neg(x); }},
      {"abs", [](const Tensor& x) { return abs(x); }},
      {"exp", [](const Tensor& x) { return exp(x); }},
      {"log", [](const Tensor& x) { return log(x); }},
      {"sqrt", [](const Tensor& x) { return sqrt(x); }},
      {"rsqrt", [](const Tensor& x) { return rsqrt(x); }},
      {"tanh", [](const Tensor& x) { return tanh(x); }},
      {"erf", [](const Tensor& x) { return erf(x); }},
      {"sigmoid", [](const Tensor& x) { return sigmoid(x); }},
      {"relu", [](const Tensor& x) { return relu(x); }},
      {"sin", [](const Tensor& x) { return sin(x); }},
      {"cos", [](const Tensor& x) { return cos(x); }},
      {"logical_not", [](const Tensor& x) { return logical_not(x); }},
      {"cast", [](const Tensor& x) { return cast(x, DType::kF64); }},
      {"neg", [](const Tensor& x) { return -x; }},
      {"logical_not", [](const Tensor& x) { return !x; }},
      {"cast", [](const Tensor& x) { return x.to(DType::kI32); }},
  };
  for (const NamedCall& op : ops) {
    SCOPED_TRACE(op.name);
    ExpectRejected([&] { op.fn(undefined_); }, op.name + ": input is an undefined tensor", {});
  }
}

TEST_F(OpErrorsPerOpTest, NumericUnaryOpsRejectBool) {
  for (const std::string name : {"neg", "abs", "relu"}) {
    SCOPED_TRACE(name);
    const auto fn = [&](const Tensor& x) {
      return name == "neg" ? neg(x) : name == "abs" ? abs(x) : relu(x);
    };
    ExpectRejected([&] { fn(flags_); },
                   name + ": expected a numeric dtype (i32, i64, f32 or f64), got bool[2]",
                   {flags_});
  }
  ExpectRejected([&] { flags_.abs(); }, "abs: expected a numeric dtype", {flags_});
  ExpectRejected([&] { flags_.relu(); }, "relu: expected a numeric dtype", {flags_});
  ExpectRejected([&] { -flags_; }, "neg: expected a numeric dtype", {flags_});
}

TEST_F(OpErrorsPerOpTest, CastRejectsReservedDType) {
  ExpectRejected([&] { cast(pending_, DType::kF16); },
                 "cast: dtype f16 is not supported by any op yet (input is f32[2,3])", {pending_});
  ExpectRejected([&] { pending_.to(DType::kBF16); }, "cast: dtype bf16 is not supported",
                 {pending_});
}

// --- binary ---

using BinaryFn = std::function<Tensor(const Tensor&, const Tensor&)>;
using ScalarFn = std::function<Tensor(const Tensor&, Scalar)>;

struct BinaryOp {
  std::string name;
  BinaryFn tensors;
  ScalarFn tensor_scalar;
};

std::vector<BinaryOp> BinaryOps() {
  return {
      {"add", [](const Tensor& a, const Tensor& b) { return add(a, b); },
       [](const Tensor& a, Scalar b) { return add(a, b); }},
      {"sub", [](const Tensor& a, const Tensor& b) { return sub(a, b); },
       [](const Tensor& a, Scalar b) { return sub(a, b); }},
      {"mul", [](const Tensor& a, const Tensor& b) { return mul(a, b); },
       [](const Tensor& a, Scalar b) { return mul(a, b); }},
      {"div", [](const Tensor& a, const Tensor& b) { return div(a, b); },
       [](const Tensor& a, Scalar b) { return div(a, b); }},
      {"pow", [](const Tensor& a, const Tensor& b) { return pow(a, b); },
       [](const Tensor& a, Scalar b) { return pow(a, b); }},
      {"maximum", [](const Tensor& a, const Tensor& b) { return maximum(a, b); },
       [](const Tensor& a, Scalar b) { return maximum(a, b); }},
      {"minimum", [](const Tensor& a, const Tensor& b) { return minimum(a, b); },
       [](const Tensor& a, Scalar b) { return minimum(a, b); }},
      {"eq", [](const Tensor& a, const Tensor& b) { return eq(a, b); },
       [](const Tensor& a, Scalar b) { return eq(a, b); }},
      {"ne", [](const Tensor& a, const Tensor& b) { return ne(a, b); },
       [](const Tensor& a, Scalar b) { return ne(a, b); }},
      {"lt", [](const Tensor& a, const Tensor& b) { return lt(a, b); },
       [](const Tensor& a, Scalar b) { return lt(a, b); }},
      {"le", [](const Tensor& a, const Tensor& b) { return le(a, b); },
       [](const Tensor& a, Scalar b) { return le(a, b); }},
      {"gt", [](const Tensor& a, const Tensor& b) { return gt(a, b); },
       [](const Tensor& a, Scalar b) { return gt(a, b); }},
      {"ge", [](const Tensor& a, const Tensor& b) { return ge(a, b); },
       [](const Tensor& a, Scalar b) { return ge(a, b); }},
      {"logical_and", [](const Tensor& a, const Tensor& b) { return logical_and(a, b); }, nullptr},
      {"logical_or", [](const Tensor& a, const Tensor& b) { return logical_or(a, b); }, nullptr},
      // The operators and Tensor::pow.
      {"add", [](const Tensor& a, const Tensor& b) { return a + b; },
       [](const Tensor& a, Scalar b) { return a + b; }},
      {"sub", [](const Tensor& a, const Tensor& b) { return a - b; },
       [](const Tensor& a, Scalar b) { return a - b; }},
      {"mul", [](const Tensor& a, const Tensor& b) { return a * b; },
       [](const Tensor& a, Scalar b) { return a * b; }},
      {"div", [](const Tensor& a, const Tensor& b) { return a / b; },
       [](const Tensor& a, Scalar b) { return a / b; }},
      {"eq", [](const Tensor& a, const Tensor& b) { return a == b; },
       [](const Tensor& a, Scalar b) { return a == b; }},
      {"ne", [](const Tensor& a, const Tensor& b) { return a != b; },
       [](const Tensor& a, Scalar b) { return a != b; }},
      {"lt", [](const Tensor& a, const Tensor& b) { return a < b; },
       [](const Tensor& a, Scalar b) { return a < b; }},
      {"le", [](const Tensor& a, const Tensor& b) { return a <= b; },
       [](const Tensor& a, Scalar b) { return a <= b; }},
      {"gt", [](const Tensor& a, const Tensor& b) { return a > b; },
       [](const Tensor& a, Scalar b) { return a > b; }},
      {"ge", [](const Tensor& a, const Tensor& b) { return a >= b; },
       [](const Tensor& a, Scalar b) { return a >= b; }},
      {"pow", [](const Tensor& a, const Tensor& b) { return a.pow(b); },
       [](const Tensor& a, Scalar b) { return a.pow(b); }},
  };
}

TEST_F(OpErrorsPerOpTest, BinaryOpsRejectMismatchedShapes) {
  for (const BinaryOp& op : BinaryOps()) {
    SCOPED_TRACE(op.name);
    // Same dtype (the fast path), mixed dtypes (with casts) and a pending operand.
    ExpectRejected([&] { op.tensors(f34_, f5_); },
                   op.name +
                       ": cannot broadcast f32[3,4] with f32[5]: dimension sizes 4 and 5 "
                       "differ and neither is 1",
                   {f34_, f5_});
    ExpectRejected([&] { op.tensors(i34_, f5_); },
                   op.name + ": cannot broadcast i64[3,4] with f32[5]", {i34_, f5_});
    ExpectRejected([&] { op.tensors(f5_, pending_); },
                   op.name + ": cannot broadcast f32[5] with f32[2,3]", {f5_, pending_});
  }
}

TEST_F(OpErrorsPerOpTest, BinaryOpsRejectUndefined) {
  for (const BinaryOp& op : BinaryOps()) {
    SCOPED_TRACE(op.name);
    ExpectRejected([&] { op.tensors(undefined_, f5_); },
                   op.name + ": first operand is an undefined tensor", {f5_});
    ExpectRejected([&] { op.tensors(f5_, undefined_); },
                   op.name + ": second operand is an undefined tensor", {f5_});
    if (op.tensor_scalar) {
      ExpectRejected([&] { op.tensor_scalar(undefined_, 2); },
                     op.name + ": first operand is an undefined tensor", {});
    }
  }
  // A scalar on the left.
  ExpectRejected([&] { sub(1, undefined_); }, "sub: second operand is an undefined tensor", {});
  ExpectRejected([&] { div(1.5, undefined_); }, "div: second operand is an undefined tensor", {});
  ExpectRejected([&] { 2 + undefined_; }, "add: second operand is an undefined tensor", {});
  ExpectRejected([&] { 2 - undefined_; }, "sub: second operand is an undefined tensor", {});
  ExpectRejected([&] { 2 * undefined_; }, "mul: second operand is an undefined tensor", {});
  ExpectRejected([&] { 2 / undefined_; }, "div: second operand is an undefined tensor", {});
}

TEST_F(OpErrorsPerOpTest, ArithmeticOnTwoBoolsThatHasNoMeaning) {
  ExpectRejected([&] { sub(flags_, flags_); },
                 "sub: not supported for two bool operands (bool[2] and bool[2]); cast one to an "
                 "integer or floating dtype first",
                 {flags_});
  ExpectRejected([&] { pow(flags_, flags_); },
                 "pow: not supported for two bool operands (bool[2] and bool[2])", {flags_});
  ExpectRejected([&] { sub(flags_, true); },
                 "sub: not supported for two bool operands (bool[2] and a bool scalar)", {flags_});
  ExpectRejected([&] { sub(true, flags_); },
                 "sub: not supported for two bool operands (a bool scalar and bool[2])", {flags_});
  ExpectRejected([&] { true - flags_; }, "sub: not supported for two bool operands", {flags_});
  ExpectRejected([&] { flags_.pow(false); }, "pow: not supported for two bool operands", {flags_});
}

TEST_F(OpErrorsPerOpTest, Where) {
  ExpectRejected([&] { where(flags_, f34_, f34_); },
                 "where: cannot broadcast bool[2] with f32[3,4] with f32[3,4]", {flags_, f34_});
  ExpectRejected([&] { where(flags_, f34_, 0.0); }, "where: cannot broadcast bool[2] with f32[3,4]",
                 {flags_, f34_});
  ExpectRejected([&] { where(flags_, 1, f5_); }, "where: cannot broadcast bool[2] with f32[5]",
                 {flags_, f5_});
  ExpectRejected([&] { where(flags_, undefined_, f5_); }, "where: input is an undefined tensor",
                 {flags_, f5_});
  ExpectRejected([&] { where(flags_, f5_, undefined_); }, "where: other is an undefined tensor",
                 {flags_, f5_});
  ExpectRejected([&] { where(undefined_, f5_, 1); }, "where: condition is an undefined tensor",
                 {f5_});
  ExpectRejected([&] { where(flags_, undefined_, 1); }, "where: input is an undefined tensor",
                 {flags_});
  ExpectRejected([&] { where(flags_, 1, undefined_); }, "where: other is an undefined tensor",
                 {flags_});
}

// --- reductions ---

TEST_F(OpErrorsPerOpTest, Reductions) {
  using ReduceFn = std::function<Tensor(const Tensor&, std::vector<int64_t>)>;
  const std::vector<std::pair<std::string, ReduceFn>> ops = {
      {"sum", [](const Tensor& x, std::vector<int64_t> d) { return sum(x, d); }},
      {"mean", [](const Tensor& x, std::vector<int64_t> d) { return mean(x, d); }},
      {"prod", [](const Tensor& x, std::vector<int64_t> d) { return prod(x, d); }},
      {"max", [](const Tensor& x, std::vector<int64_t> d) { return max(x, d); }},
      {"min", [](const Tensor& x, std::vector<int64_t> d) { return min(x, d); }},
      {"sum", [](const Tensor& x, std::vector<int64_t> d) { return x.sum(d, true); }},
      {"mean", [](const Tensor& x, std::vector<int64_t> d) { return x.mean(d, true); }},
      {"prod", [](const Tensor& x, std::vector<int64_t> d) { return x.prod(d, true); }},
      {"max", [](const Tensor& x, std::vector<int64_t> d) { return x.max(d, true); }},
      {"min", [](const Tensor& x, std::vector<int64_t> d) { return x.min(d, true); }},
  };
  for (const auto& [name, fn] : ops) {
    SCOPED_TRACE(name);
    ExpectRejected([&] { fn(pending_, {2}); },
                   name + ": dimension 2 is out of range for f32[2,3] (expected -2..1)",
                   {pending_});
    ExpectRejected([&] { fn(pending_, {-3}); },
                   name + ": dimension -3 is out of range for f32[2,3] (expected -2..1)",
                   {pending_});
    ExpectRejected(
        [&] {
          fn(pending_, {1, -1});
        },
        name + ": dimension 1 appears more than once in [1,-1] for f32[2,3]", {pending_});
    ExpectRejected([&] { fn(scalar_, {0}); },
                   name +
                       ": dimension 0 is out of range for f32[] (a 0-d tensor has no "
                       "dimensions)",
                   {scalar_});
    ExpectRejected([&] { fn(undefined_, {}); }, name + ": input is an undefined tensor", {});
  }
  ExpectRejected([&] { mean(i34_, {0}); },
                 "mean: expected a floating dtype, got i64[3,4]; cast first", {i34_});
  ExpectRejected([&] { flags_.mean(); }, "mean: expected a floating dtype, got bool[2]", {flags_});
  ExpectRejected([&] { max(empty_, {1}); },
                 "max: cannot reduce over dimension 1 of f32[2,0], which has size 0", {empty_});
  ExpectRejected([&] { empty_.min(); },
                 "min: cannot reduce over dimension 1 of f32[2,0], which has size 0", {empty_});
}

TEST_F(OpErrorsPerOpTest, Argmax) {
  ExpectRejected([&] { argmax(pending_, 2); },
                 "argmax: dimension 2 is out of range for f32[2,3] (expected -2..1)", {pending_});
  ExpectRejected([&] { pending_.argmax(-3, true); },
                 "argmax: dimension -3 is out of range for f32[2,3]", {pending_});
  ExpectRejected([&] { argmax(empty_, 1); },
                 "argmax: cannot reduce over dimension 1 of f32[2,0], which has size 0", {empty_});
  ExpectRejected([&] { argmax(empty_); },
                 "argmax: cannot take the argmax of f32[2,0], which is empty", {empty_});
  ExpectRejected([&] { argmax(undefined_); }, "argmax: input is an undefined tensor", {});
}

TEST_F(OpErrorsPerOpTest, TensorMethodsOnUndefined) {
  const Tensor& u = undefined_;
  const Tensor index = Tensor::from_vector<int64_t>({0}, {1});
  const std::vector<NamedCall> methods = {
      {"sum", [](const Tensor& x) { return x.sum(); }},
      {"mean", [](const Tensor& x) { return x.mean(); }},
      {"prod", [](const Tensor& x) { return x.prod(); }},
      {"max", [](const Tensor& x) { return x.max(); }},
      {"min", [](const Tensor& x) { return x.min(); }},
      {"argmax", [](const Tensor& x) { return x.argmax(); }},
      {"reshape", [](const Tensor& x) { return x.reshape({1}); }},
      {"reshape", [](const Tensor& x) { return x.view({1}); }},
      {"permute", [](const Tensor& x) { return x.permute({0}); }},
      {"transpose", [](const Tensor& x) { return x.transpose(0, 1); }},
      {"expand", [](const Tensor& x) { return x.expand({1}); }},
      {"unsqueeze", [](const Tensor& x) { return x.unsqueeze(0); }},
      {"squeeze", [](const Tensor& x) { return x.squeeze(0); }},
      {"flatten", [](const Tensor& x) { return x.flatten(); }},
      {"slice", [](const Tensor& x) { return x.slice(0, 0, 1); }},
      {"cast", [](const Tensor& x) { return x.to(DType::kF64); }},
      {"gather", [&](const Tensor& x) { return x.gather(0, index); }},
      {"index_select", [&](const Tensor& x) { return x.index_select(0, index); }},
      {"scatter_add", [&](const Tensor& x) { return x.scatter_add(0, index, index); }},
      {"neg", [](const Tensor& x) { return x.neg(); }},
      {"abs", [](const Tensor& x) { return x.abs(); }},
      {"exp", [](const Tensor& x) { return x.exp(); }},
      {"log", [](const Tensor& x) { return x.log(); }},
      {"sqrt", [](const Tensor& x) { return x.sqrt(); }},
      {"rsqrt", [](const Tensor& x) { return x.rsqrt(); }},
      {"tanh", [](const Tensor& x) { return x.tanh(); }},
      {"sigmoid", [](const Tensor& x) { return x.sigmoid(); }},
      {"relu", [](const Tensor& x) { return x.relu(); }},
  };
  for (const NamedCall& m : methods) {
    SCOPED_TRACE(m.name);
    ExpectRejected([&] { m.fn(u); }, m.name + ": input is an undefined tensor", {index});
  }
  ExpectRejected([&] { u.matmul(index); }, "matmul: first operand is an undefined tensor", {index});
  ExpectRejected([&] { u.pow(index); }, "pow: first operand is an undefined tensor", {index});
  ExpectRejected([&] { u.pow(2); }, "pow: first operand is an undefined tensor", {});
  ExpectRejected([&] { Tensor().assign_(index); }, "assign_: the tensor is undefined", {index});
  ExpectRejected([] { Tensor().requires_grad_(); }, "requires_grad_: the tensor is undefined", {});
  ExpectRejected([&] { u.grad(); }, "grad: the tensor is undefined", {});
  ExpectRejected([&] { u.set_grad(index); }, "set_grad: the tensor is undefined", {index});
  ExpectRejected([&] { u.zero_grad(); }, "zero_grad: the tensor is undefined", {});
  ExpectRejected([&] { u.is_leaf(); }, "is_leaf: the tensor is undefined", {});
  ExpectRejected([&] { u.value(); }, "value: the tensor is undefined", {});
}

// --- linear algebra ---

TEST_F(OpErrorsPerOpTest, Matmul) {
  const Tensor batch_a = Tensor::from_vector<float>(std::vector<float>(24, 1), {2, 3, 4});
  const Tensor batch_b = Tensor::from_vector<float>(std::vector<float>(60, 1), {3, 4, 5});
  ExpectRejected([&] { matmul(batch_a, batch_b); },
                 "matmul: cannot broadcast the batch dimensions of f32[2,3,4] with f32[3,4,5]: "
                 "sizes 2 and 3 differ and neither is 1",
                 {batch_a, batch_b});
  ExpectRejected([&] { matmul(f34_, f34_); },
                 "matmul: inner sizes differ: f32[3,4] x f32[3,4] (4 vs 3)", {f34_});
  ExpectRejected([&] { matmul(f5_, i34_); }, "matmul: inner sizes differ: f32[5] x i64[3,4]",
                 {f5_, i34_});
  ExpectRejected([&] { matmul(scalar_, f5_); },
                 "matmul: both operands need at least 1 dimension, got f32[] x f32[5]",
                 {scalar_, f5_});
  ExpectRejected([&] { matmul(flags_, f5_); },
                 "matmul: bool operands are not supported, got bool[2] x f32[5]; cast to a "
                 "numeric dtype first",
                 {flags_, f5_});
  ExpectRejected([&] { undefined_.matmul(f5_); }, "matmul: first operand is an undefined tensor",
                 {f5_});
}

// --- views and data movement ---

TEST_F(OpErrorsPerOpTest, Reshape) {
  ExpectRejected(
      [&] {
        reshape(pending_, {-1, -1});
      },
      "reshape: cannot reshape f32[2,3] (6 elements) to [-1,-1]: only one size may be "
      "-1",
      {pending_});
  ExpectRejected(
      [&] {
        reshape(pending_, {-2, -3});
      },
      "reshape: cannot reshape f32[2,3] (6 elements) to [-2,-3]: sizes must be >= 0 "
      "or -1",
      {pending_});
  ExpectRejected(
      [&] {
        reshape(empty_, {0, -1});
      },
      "reshape: cannot reshape f32[2,0] (0 elements) to [0,-1]: the -1 is ambiguous "
      "when another size is 0",
      {empty_});
  ExpectRejected([&] { pending_.reshape({4}); },
                 "reshape: cannot reshape f32[2,3] (6 elements) to [4]", {pending_});
  ExpectRejected(
      [&] {
        pending_.reshape({int64_t{1} << 40, int64_t{1} << 40});
      },
      "reshape: cannot reshape f32[2,3] (6 elements) to [1099511627776,1099511627776]", {pending_});
  ExpectRejected(
      [&] {
        pending_.view({5, -1});
      },
      "reshape: cannot reshape f32[2,3] (6 elements) to [5,-1]", {pending_});
  ExpectRejected([&] { undefined_.view({1}); }, "reshape: input is an undefined tensor", {});
}

TEST_F(OpErrorsPerOpTest, PermuteAndTranspose) {
  ExpectRejected([&] { permute(pending_, {0}); },
                 "permute: [0] is not a permutation of the 2 dimensions of f32[2,3]", {pending_});
  ExpectRejected(
      [&] {
        permute(pending_, {-1, -1});
      },
      "permute: [-1,-1] is not a permutation of the 2 dimensions of f32[2,3]", {pending_});
  ExpectRejected(
      [&] {
        permute(pending_, {-3, 0});
      },
      "permute: [-3,0] is not a permutation of the 2 dimensions of f32[2,3]", {pending_});
  ExpectRejected([&] { permute(undefined_, {}); }, "permute: input is an undefined tensor", {});
  ExpectRejected([&] { transpose(pending_, 0, 2); },
                 "transpose: dimension 2 is out of range for f32[2,3] (expected -2..1)",
                 {pending_});
  ExpectRejected([&] { pending_.transpose(-3, 0); },
                 "transpose: dimension -3 is out of range for f32[2,3] (expected -2..1)",
                 {pending_});
  ExpectRejected([&] { scalar_.transpose(0, 0); },
                 "transpose: dimension 0 is out of range for f32[] (a 0-d tensor has no "
                 "dimensions)",
                 {scalar_});
  ExpectRejected([&] { transpose(undefined_, 0, 1); }, "transpose: input is an undefined tensor",
                 {});
}

TEST_F(OpErrorsPerOpTest, ExpandAndBroadcastTo) {
  ExpectRejected([&] { expand(pending_, {3}); },
                 "expand: cannot expand f32[2,3] to [3], which has fewer dimensions", {pending_});
  ExpectRejected(
      [&] {
        expand(pending_, {4, 3});
      },
      "expand: cannot expand f32[2,3] to [4,3]: dimension 0 has size 2 (expected 1 or "
      "4)",
      {pending_});
  ExpectRejected(
      [&] {
        expand(pending_, {-1, -1, 3});
      },
      "expand: cannot expand f32[2,3] to [-1,-1,3]: size -1 at position 0 (a new "
      "leading dimension needs an explicit size)",
      {pending_});
  ExpectRejected(
      [&] {
        pending_.expand({2, -2});
      },
      "expand: cannot expand f32[2,3] to [2,-2]: size -2 at position 1 (expected >= 0 "
      "or -1)",
      {pending_});
  ExpectRejected(
      [&] {
        broadcast_to(f5_, {5, 4});
      },
      "expand: cannot expand f32[5] to [5,4]: dimension 0 has size 5 (expected 1 or 4)", {f5_});
  ExpectRejected(
      [&] {
        expand(scalar_, {int64_t{1} << 32, int64_t{1} << 32});
      },
      "expand: output shape f32[4294967296,4294967296] has more bytes than int64 can "
      "count",
      {scalar_});
  ExpectRejected([&] { broadcast_to(undefined_, {1}); }, "expand: input is an undefined tensor",
                 {});
}

TEST_F(OpErrorsPerOpTest, UnsqueezeSqueezeFlatten) {
  ExpectRejected([&] { unsqueeze(f5_, 2); },
                 "unsqueeze: dimension 2 is out of range for f32[5] (expected -2..1)", {f5_});
  ExpectRejected([&] { f5_.unsqueeze(-3); },
                 "unsqueeze: dimension -3 is out of range for f32[5] (expected -2..1)", {f5_});
  ExpectRejected([&] { unsqueeze(undefined_, 0); }, "unsqueeze: input is an undefined tensor", {});
  ExpectRejected([&] { squeeze(f5_, 1); },
                 "squeeze: dimension 1 is out of range for f32[5] (expected -1..0)", {f5_});
  ExpectRejected([&] { f5_.squeeze(-1); },
                 "squeeze: dimension -1 of f32[5] has size 5 (expected 1)", {f5_});
  ExpectRejected([&] { squeeze(scalar_, 0); },
                 "squeeze: dimension 0 is out of range for f32[] (a 0-d tensor has no dimensions)",
                 {scalar_});
  ExpectRejected([&] { squeeze(undefined_, 0); }, "squeeze: input is an undefined tensor", {});
  ExpectRejected([&] { flatten(pending_, 2); },
                 "flatten: dimension 2 is out of range for f32[2,3] (expected -2..1)", {pending_});
  ExpectRejected([&] { pending_.flatten(0, -3); },
                 "flatten: dimension -3 is out of range for f32[2,3] (expected -2..1)", {pending_});
  ExpectRejected([&] { flatten(pending_, -1, 0); },
                 "flatten: start_dim -1 comes after end_dim 0 for f32[2,3]", {pending_});
  ExpectRejected([&] { flatten(undefined_); }, "flatten: input is an undefined tensor", {});
}

TEST_F(OpErrorsPerOpTest, Slice) {
  ExpectRejected([&] { slice(pending_, 2, 0, 1); },
                 "slice: dimension 2 is out of range for f32[2,3] (expected -2..1)", {pending_});
  ExpectRejected([&] { pending_.slice(-3, 0, 1); },
                 "slice: dimension -3 is out of range for f32[2,3] (expected -2..1)", {pending_});
  ExpectRejected([&] { slice(pending_, 1, 0, 3, 0); },
                 "slice: step must be > 0, got 0 (slicing dimension 1 of f32[2,3])", {pending_});
  ExpectRejected([&] { slice(scalar_, 0, 0, 1); },
                 "slice: dimension 0 is out of range for f32[] (a 0-d tensor has no dimensions)",
                 {scalar_});
  ExpectRejected([&] { slice(undefined_, 0, 0, 1); }, "slice: input is an undefined tensor", {});
}

TEST_F(OpErrorsPerOpTest, Concat) {
  ExpectRejected([&] { concat({}); }, "concat: expected at least one tensor, got none", {});
  ExpectRejected(
      [&] {
        concat({scalar_, scalar_});
      },
      "concat: 0-d tensors cannot be concatenated: f32[], f32[]", {scalar_});
  ExpectRejected(
      [&] {
        concat({f5_, pending_});
      },
      "concat: all tensors need the same rank, got f32[5], f32[2,3]", {f5_, pending_});
  ExpectRejected(
      [&] {
        concat({pending_, f34_}, 1);
      },
      "concat: sizes differ in dimension 0 (only dimension 1 may differ): f32[2,3], "
      "f32[3,4]",
      {pending_, f34_});
  ExpectRejected(
      [&] {
        concat({pending_, f34_}, -3);
      },
      "concat: dimension -3 is out of range for f32[2,3] (expected -2..1)", {pending_, f34_});
  ExpectRejected(
      [&] {
        concat({undefined_, f5_});
      },
      "concat: tensor 0 is an undefined tensor", {f5_});
}

TEST_F(OpErrorsPerOpTest, Stack) {
  ExpectRejected([&] { stack({}); }, "stack: expected at least one tensor, got none", {});
  ExpectRejected(
      [&] {
        stack({f5_, pending_});
      },
      "stack: all tensors need the same sizes, got f32[5], f32[2,3]", {f5_, pending_});
  ExpectRejected(
      [&] {
        stack({pending_, pending_}, 3);
      },
      "stack: dimension 3 is out of range", {pending_});
  ExpectRejected(
      [&] {
        stack({f5_, undefined_});
      },
      "stack: tensor 1 is an undefined tensor", {f5_});
}

TEST_F(OpErrorsPerOpTest, SplitAndChunk) {
  ExpectRejected([&] { split(pending_, 0); },
                 "split: expected a positive split size, got 0 for f32[2,3]", {pending_});
  ExpectRejected([&] { split(pending_, 1, 2); },
                 "split: dimension 2 is out of range for f32[2,3] (expected -2..1)", {pending_});
  ExpectRejected([&] { split(scalar_, 1); }, "split: a 0-d tensor cannot be split", {scalar_});
  ExpectRejected([&] { split(undefined_, 1); }, "split: input is an undefined tensor", {});
  ExpectRejected([&] { chunk(pending_, 0); },
                 "chunk: expected a positive number of chunks, got 0 for f32[2,3]", {pending_});
  ExpectRejected([&] { chunk(pending_, 2, -3); },
                 "chunk: dimension -3 is out of range for f32[2,3] (expected -2..1)", {pending_});
  ExpectRejected([&] { chunk(scalar_, 2); }, "chunk: a 0-d tensor cannot be split", {scalar_});
  ExpectRejected([&] { chunk(undefined_, 2); }, "chunk: input is an undefined tensor", {});
}

TEST_F(OpErrorsPerOpTest, Clamp) {
  ExpectRejected([&] { clamp(pending_, std::nullopt, std::nullopt); },
                 "clamp: expected a min or a max bound, got neither", {pending_});
  ExpectRejected([&] { clamp(pending_, std::nan(""), 1); },
                 "clamp: the min bound of f32[2,3] is NaN", {pending_});
  ExpectRejected([&] { clamp(undefined_, 0, 1); }, "clamp: input is an undefined tensor", {});
}

TEST_F(OpErrorsPerOpTest, SiluAndMaskedFill) {
  ExpectRejected([&] { silu(undefined_); }, "silu: input is an undefined tensor", {});
  ExpectRejected([&] { masked_fill(f5_, i5_, 0); },
                 "masked_fill: expected a bool mask, got i32[5] for f32[5]", {f5_, i5_});
  ExpectRejected([&] { masked_fill(f5_, flags_, 0); },
                 "masked_fill: cannot broadcast bool[2] with f32[5]", {f5_, flags_});
  ExpectRejected([&] { masked_fill(undefined_, flags_, 0); },
                 "masked_fill: input is an undefined tensor", {flags_});
  ExpectRejected([&] { masked_fill(f5_, undefined_, 0); },
                 "masked_fill: mask is an undefined tensor", {f5_});
}

TEST_F(OpErrorsPerOpTest, Rounding) {
  ExpectRejected([&] { floor(flags_); },
                 "floor: expected a numeric dtype (i32, i64, f32 or f64), got bool[2]", {flags_});
  ExpectRejected([&] { round(flags_); }, "round: expected a numeric dtype", {flags_});
  ExpectRejected([&] { ceil(undefined_); }, "ceil: input is an undefined tensor", {});
}

TEST_F(OpErrorsPerOpTest, CumsumAndCumprod) {
  ExpectRejected([&] { cumsum(pending_, 2); }, "cumsum: dimension 2 is out of range for f32[2,3]",
                 {pending_});
  ExpectRejected([&] { cumsum(undefined_, 0); }, "cumsum: input is an undefined tensor", {});
  ExpectRejected([&] { cumprod(pending_, -3); },
                 "cumprod: dimension -3 is out of range for f32[2,3]", {pending_});
  ExpectRejected([&] { cumprod(undefined_, 0); }, "cumprod: input is an undefined tensor", {});
}

TEST_F(OpErrorsPerOpTest, Einsum) {
  const Tensor f45 = Tensor::from_vector<float>(std::vector<float>(20, 0.5f), {4, 5});
  const Tensor f56 = Tensor::from_vector<float>(std::vector<float>(30, 0.5f), {5, 6});
  const std::vector<std::pair<std::function<void()>, std::string>> cases = {
      {[&] { einsum("ij,jk->ik", {f34_}); },
       "einsum: \"ij,jk->ik\" with f32[3,4]: the equation names 2 operands, but 1 were given"},
      {[&] { einsum("i", {}); },
       "einsum: \"i\" with no operands: the equation names 1 operands, but 0 were given"},
      {[&] {
         einsum("ijk,jk", {f34_, f45});
       },
       "operand 0's term \"ijk\" names 3 dimensions, but operand 0 has 2"},
      {[&] {
         einsum("ij,jk->ik", {f34_, f56});
       },
       "einsum: \"ij,jk->ik\" with f32[3,4], f32[5,6]: 'j' has size 4 in operand 0 but 5 in "
       "operand 1 (sizes must agree, or one be 1)"},
      {[&] {
         einsum("...i,...i", {pending_, f34_});
       },
       "\"...\" dimension -1 has size 2 in operand 0 but 3 in operand 1"},
      {[&] { einsum("ii->i", {f34_}); },
       "'i' is repeated in operand 0, which takes its diagonal, but its sizes differ: 3 and 4"},
      {[&] { einsum("ij->iz", {f34_}); }, "the output's 'z' names no operand's dimension"},
      {[&] { einsum("ij->ii", {f34_}); }, "the output names 'i' twice"},
      {[&] {
         einsum("i..j,j", {f34_, f5_});
       },
       "a '.' in operand 0's term \"i..j\" is not part of \"...\""},
      {[&] { einsum("...i...", {f34_}); }, "operand 0's term \"...i...\" has \"...\" twice"},
      {[&] { einsum("i1", {f34_}); },
       "'1' in operand 0's term \"i1\" is not a letter, ',', \"->\" or \"...\""},
      {[&] { einsum("ij->i->j", {f34_}); }, "\"->\" appears twice"},
      {[&] {
         einsum("i,i", {flags_, flags_});
       },
       "bool operands are not supported"},
      {[&] { einsum("ij", {undefined_}); }, "einsum: operand 0 is an undefined tensor"},
  };
  for (const auto& [call, message] : cases) {
    ExpectRejected(call, message, {f34_, f45, f56, pending_, flags_});
  }
}

TEST_F(OpErrorsPerOpTest, Diagonal) {
  ExpectRejected([&] { diagonal(f5_); }, "diagonal: needs at least 2 dimensions, got f32[5]",
                 {f5_});
  ExpectRejected([&] { diagonal(pending_, 0, 1, -1); },
                 "diagonal: dim1 and dim2 are both dimension 1 of f32[2,3]", {pending_});
  ExpectRejected([&] { diagonal(pending_, 0, 0, 2); },
                 "diagonal: dimension 2 is out of range for f32[2,3]", {pending_});
  ExpectRejected([&] { diagonal(undefined_); }, "diagonal: input is an undefined tensor", {});
}

TEST_F(OpErrorsPerOpTest, Conv2d) {
  const Tensor x =
      Tensor::from_vector<float>(std::vector<float>(2 * 4 * 5 * 5, 0.5f), {2, 4, 5, 5});
  const Tensor w =
      Tensor::from_vector<float>(std::vector<float>(6 * 4 * 3 * 3, 0.5f), {6, 4, 3, 3});
  const Tensor b = Tensor::from_vector<float>(std::vector<float>(6, 0.5f), {6});
  const std::string shapes = " (input f32[2,4,5,5], weight f32[6,4,3,3])";
  Generator gen(1);
  const std::vector<std::pair<std::function<void()>, std::string>> cases = {
      {[&] { nn::conv2d(f34_, w); },
       "conv2d: expected an input [N, C, H, W] or [C, H, W] (input f32[3,4], weight f32[6,4,3,3])"},
      {[&] { nn::conv2d(x, f34_); },
       "conv2d: expected a weight [out_channels, in_channels / groups, kh, kw]"},
      {[&] { nn::conv2d(x, w.to(DType::kF64)); },
       "conv2d: expected floating operands of one dtype"},
      {[&] {
         nn::conv2d(x, w, Tensor(), {.stride = {0, 1}});
       },
       "conv2d: expected stride, dilation and groups > 0 and padding >= 0, got stride (0, 1), "
       "padding (0, 0), dilation (1, 1), groups 1" +
           shapes},
      {[&] { nn::conv2d(x, w, Tensor(), {.groups = 4}); },
       "conv2d: the input's 4 channels in 4 groups need a weight [out_channels, 1, ...] with "
       "out_channels a multiple of 4"},
      {[&] { nn::conv2d(x, w, f5_); },
       "conv2d: expected a bias [6] (input f32[2,4,5,5], weight f32[6,4,3,3], bias f32[5])"},
      {[&] {
         nn::conv2d(x, w, Tensor(), {.dilation = {3, 1}});
       },
       "conv2d: the kernel spans 7 x 3, more than the padded input's 5 x 5" + shapes},
      {[&] { nn::conv2d(undefined_, w); }, "conv2d: input is an undefined tensor"},
      {[&] {
         nn::Conv2d(4, 6, {3, 3}, gen, {.groups = 4});
       },
       "Conv2d: expected positive channels and kernel sizes, with groups dividing both channel "
       "counts; got in_channels 4, out_channels 6, kernel_size (3, 3), groups 4"},
  };
  for (const auto& [call, message] : cases) ExpectRejected(call, message, {x, w, b, f34_, f5_});
  nn::Conv2d conv(4, 6, {3, 3}, gen);
  ExpectRejected([&] { conv.forward(f5_); }, "conv2d: expected an input [N, C, H, W]", {f5_});
}

TEST_F(OpErrorsPerOpTest, Conv1d) {
  const Tensor x = Tensor::from_vector<float>(std::vector<float>(2 * 4 * 5, 0.5f), {2, 4, 5});
  const Tensor w = Tensor::from_vector<float>(std::vector<float>(6 * 4 * 3, 0.5f), {6, 4, 3});
  Generator gen(1);
  ExpectRejected([&] { nn::conv1d(f5_, w); },
                 "conv1d: expected an input [N, C, L] or [C, L] (input f32[5], weight f32[6,4,3])",
                 {f5_, w});
  ExpectRejected([&] { nn::conv1d(x, f34_); },
                 "conv1d: expected a weight [out_channels, in_channels / groups, k]", {x, f34_});
  ExpectRejected([&] { nn::conv1d(x, w, Tensor(), {.stride = 0}); },
                 "conv1d: expected stride, dilation and groups > 0 and padding >= 0, got stride 0, "
                 "padding 0, dilation 1, groups 1 (input f32[2,4,5], weight f32[6,4,3])",
                 {x, w});
  ExpectRejected([&] { nn::conv1d(x, w, Tensor(), {.dilation = 3}); },
                 "conv1d: the kernel spans 7, more than the padded input's 5", {x, w});
  ExpectRejected([&] { nn::Conv1d(4, 6, 3, gen, {.groups = 4}); },
                 "Conv1d: expected positive channels and kernel sizes, with groups dividing both "
                 "channel counts; got in_channels 4, out_channels 6, kernel_size 3, groups 4",
                 {});
}

TEST_F(OpErrorsPerOpTest, Pooling) {
  const Tensor x =
      Tensor::from_vector<float>(std::vector<float>(2 * 3 * 5 * 5, 0.5f), {2, 3, 5, 5});
  const Tensor empty = Tensor::from_vector<float>({}, {3, 0, 4});
  const std::string window = " (input f32[2,3,5,5], kernel (3, 3), stride (1, 1), padding ";
  const std::vector<std::pair<std::function<void()>, std::string>> cases = {
      {[&] {
         nn::max_pool2d(f34_, {2, 2});
       },
       "max_pool2d: expected an input [N, C, H, W] or [C, H, W] with C, H and W > 0, got f32[3,4]"},
      {[&] {
         nn::avg_pool2d(empty, {2, 2});
       },
       "avg_pool2d: expected an input [N, C, H, W] or [C, H, W] with C, H and W > 0, got "
       "f32[3,0,4]"},
      {[&] {
         nn::max_pool2d(x.to(DType::kI32), {2, 2});
       },
       "max_pool2d: expected a floating input, got i32[2,3,5,5]"},
      {[&] {
         nn::max_pool2d(x, {3, 3}, {.stride = {{1, 1}}, .padding = {2, 0}});
       },
       "max_pool2d: expected padding >= 0 and at most half the kernel" + window +
           "(2, 0), dilation (1, 1))"},
      {[&] {
         nn::avg_pool2d(x, {3, 3}, {.stride = {{0, 1}}});
       },
       "avg_pool2d: expected kernel, stride and dilation > 0 (input f32[2,3,5,5], kernel (3, 3), "
       "stride (0, 1)"},
      {[&] {
         nn::max_pool2d(x, {3, 3}, {.stride = {{1, 1}}, .dilation = {3, 1}});
       },
       "max_pool2d: the window spans more than the padded input" + window +
           "(0, 0), dilation (3, 1))"},
      {[&] {
         nn::avg_pool2d(x, {2, 2}, {.divisor_override = 0});
       },
       "avg_pool2d: divisor_override must not be 0 (input f32[2,3,5,5])"},
      {[&] {
         nn::adaptive_avg_pool2d(x, {0, 2});
       },
       "adaptive_avg_pool2d: expected output sizes > 0, got (0, 2) (input f32[2,3,5,5])"},
      {[&] {
         nn::adaptive_avg_pool2d(undefined_, {1, 1});
       },
       "adaptive_avg_pool2d: input is an undefined tensor"},
  };
  for (const auto& [call, message] : cases) ExpectRejected(call, message, {x, f34_, empty});
  nn::MaxPool2d pool({2, 2});
  ExpectRejected([&] { pool.forward(f5_); }, "max_pool2d: expected an input [N, C, H, W]", {f5_});
}

TEST_F(OpErrorsPerOpTest, BatchNormAndGroupNorm) {
  const Tensor x = Tensor::from_vector<float>(std::vector<float>(2 * 3 * 4, 0.5f), {2, 3, 4});
  const Tensor c3 = Tensor::from_vector<float>({1, 2, 3}, {3});
  const Tensor one = Tensor::from_vector<float>({1, 2, 3}, {1, 3});
  const std::vector<std::pair<std::function<void()>, std::string>> cases = {
      {[&] { nn::batch_norm(f5_, c3, c3); },
       "batch_norm: expected a floating input [N, C, ...], got f32[5]"},
      {[&] { nn::batch_norm(x, c3, f5_); },
       "batch_norm: expected running_var f32[3] for the input's 3 channels, got f32[5] (input "
       "f32[2,3,4])"},
      {[&] { nn::batch_norm(x, c3, c3, c3.to(DType::kF64)); },
       "batch_norm: expected weight f32[3] for the input's 3 channels, got f64[3]"},
      {[&] { nn::batch_norm(x, c3, Tensor(), Tensor(), Tensor(), true); },
       "batch_norm: running_mean and running_var must both be given or both be undefined"},
      {[&] { nn::batch_norm(x, Tensor(), Tensor()); },
       "batch_norm: running_mean and running_var are needed in evaluation"},
      {[&] { nn::batch_norm(one, c3, c3, Tensor(), Tensor(), true); },
       "batch_norm: expected more than 1 value per channel when training, got input f32[1,3]"},
      {[&] { nn::group_norm(x, 2); },
       "group_norm: expected num_groups > 0 dividing the input's 3 channels, got 2 (input "
       "f32[2,3,4])"},
      {[&] { nn::group_norm(x, 3, f5_); },
       "group_norm: expected weight f32[3] for the input's 3 channels, got f32[5]"},
      {[&] { nn::group_norm(undefined_, 1); }, "group_norm: input is an undefined tensor"},
      {[&] { nn::GroupNorm(4, 6); },
       "GroupNorm: expected num_groups > 0 dividing num_channels > 0, got num_groups 4, "
       "num_channels 6"},
      {[&] { nn::BatchNorm2d(0); }, "BatchNorm2d: expected num_features > 0, got 0"},
  };
  for (const auto& [call, message] : cases) ExpectRejected(call, message, {x, c3, one, f5_});
  // The modules check the rank they take, and change no buffer when they reject a call.
  nn::BatchNorm2d bn(3);
  ExpectRejected([&] { bn.forward(x); },
                 "BatchNorm2d: expected an input [N, C, H, W], got f32[2,3,4]",
                 {x, bn.running_mean(), bn.num_batches_tracked()});
  nn::BatchNorm1d bn1(4);
  ExpectRejected([&] { bn1.forward(x); },
                 "BatchNorm1d: expected 4 channels (num_features), got input f32[2,3,4]",
                 {x, bn1.running_mean(), bn1.num_batches_tracked()});
  ExpectRejected([&] { bn1.forward(f5_); }, "BatchNorm1d: expected an input [N, C] or [N, C, L]",
                 {f5_});
}

TEST_F(OpErrorsPerOpTest, SortAndTopk) {
  ExpectRejected([&] { topk(pending_, 4); },
                 "topk: k = 4 is out of range for dimension 1 of f32[2,3] (expected 0..3)",
                 {pending_});
  ExpectRejected([&] { topk(pending_, -1, 0); }, "topk: k = -1 is out of range", {pending_});
  ExpectRejected([&] { sort(pending_, 2); }, "sort: dimension 2 is out of range for f32[2,3]",
                 {pending_});
  ExpectRejected([&] { argsort(undefined_); }, "argsort: input is an undefined tensor", {});
}

TEST_F(OpErrorsPerOpTest, LogsumexpAndArgmin) {
  ExpectRejected(
      [&] {
        logsumexp(pending_, {1, -1});
      },
      "logsumexp: dimension 1 appears more than once in [1,-1] for f32[2,3]", {pending_});
  ExpectRejected([&] { logsumexp(undefined_); }, "logsumexp: input is an undefined tensor", {});
  ExpectRejected([&] { argmin(pending_, 3); }, "argmin: dimension 3 is out of range for f32[2,3]",
                 {pending_});
}

TEST_F(OpErrorsPerOpTest, Log1pExpm1AndFloatTests) {
  for (const std::string name : {"log1p", "expm1", "isnan", "isinf", "isfinite"}) {
    SCOPED_TRACE(name);
    const auto fn = [&](const Tensor& x) {
      return name == "log1p"   ? log1p(x)
             : name == "expm1" ? expm1(x)
             : name == "isnan" ? isnan(x)
             : name == "isinf" ? isinf(x)
                               : isfinite(x);
    };
    ExpectRejected([&] { fn(undefined_); }, name + ": input is an undefined tensor", {});
  }
}

TEST_F(OpErrorsPerOpTest, StdAnyAll) {
  ExpectRejected([&] { std(i5_); }, "std: expected a floating dtype, got i32[5]; cast first",
                 {i5_});
  ExpectRejected([&] { std(pending_, {1}, false, -1); }, "std: expected a correction >= 0, got -1",
                 {pending_});
  ExpectRejected([&] { any(pending_, {2}); }, "any: dimension 2 is out of range for f32[2,3]",
                 {pending_});
  ExpectRejected([&] { all(undefined_); }, "all: input is an undefined tensor", {});
}

TEST_F(OpErrorsPerOpTest, RmsNorm) {
  ExpectRejected([&] { rms_norm(i34_); }, "rms_norm: expected a floating input, got i64[3,4]",
                 {i34_});
  ExpectRejected([&] { rms_norm(pending_, f5_); },
                 "rms_norm: weight f32[5] must match the trailing dimensions of the input f32[2,3]",
                 {pending_, f5_});
  ExpectRejected([&] { rms_norm(pending_, Tensor(), -1.0); },
                 "rms_norm: expected eps >= 0, got -1 for f32[2,3]", {pending_});
  ExpectRejected([&] { rms_norm(scalar_); },
                 "rms_norm: expected an input with at least 1 dimension, got f32[]", {scalar_});
  nn::RMSNorm norm({4});
  ExpectRejected([&] { norm.forward(pending_); },
                 "RMSNorm([4]): expected an input whose trailing dimensions are [4], got f32[2,3]",
                 {pending_});
  ExpectRejected([&] { norm.forward(undefined_); }, "RMSNorm: the input is undefined", {});
  ExpectRejected([] { nn::RMSNorm({0}); },
                 "RMSNorm: normalized_shape must be non-empty with positive sizes, got [0]", {});
}

TEST_F(OpErrorsPerOpTest, ActivationsAndNormalize) {
  ExpectRejected([&] { nn::softplus(pending_, 0); },
                 "softplus: expected beta > 0, got 0 for f32[2,3]", {pending_});
  ExpectRejected([&] { nn::softplus(undefined_); }, "softplus: input is an undefined tensor", {});
  ExpectRejected([&] { nn::leaky_relu(flags_); },
                 "leaky_relu: expected a floating input, got bool[2]", {flags_});
  ExpectRejected([&] { nn::normalize(i5_); }, "normalize: expected a floating input, got i32[5]",
                 {i5_});
  ExpectRejected([&] { nn::normalize(pending_, 0); },
                 "normalize: expected p > 0 and eps >= 0, got p=0 eps=1e-12 for f32[2,3]",
                 {pending_});
  ExpectRejected([&] { nn::normalize(f5_); }, "normalize: dimension 1 is out of range for f32[5]",
                 {f5_});
}

TEST_F(OpErrorsPerOpTest, ElementwiseLosses) {
  ExpectRejected([&] { nn::binary_cross_entropy_with_logits(pending_, f34_); },
                 "binary_cross_entropy_with_logits: input f32[2,3] and target f32[3,4] must have "
                 "the same shape",
                 {pending_, f34_});
  ExpectRejected([&] { nn::binary_cross_entropy_with_logits(i34_, f34_); },
                 "binary_cross_entropy_with_logits: expected a floating input, got i64[3,4]",
                 {i34_, f34_});
  ExpectRejected([&] { nn::l1_loss(pending_, undefined_); },
                 "l1_loss: target is an undefined tensor", {pending_});
  ExpectRejected([&] { nn::smooth_l1_loss(f34_, f34_, Reduction::kMean, -1); },
                 "smooth_l1_loss: expected beta >= 0, got -1 for f32[3,4]", {f34_});
  ExpectRejected([&] { nn::smooth_l1_loss(f5_, pending_); },
                 "smooth_l1_loss: input f32[5] and target f32[2,3] must have the same shape",
                 {f5_, pending_});
}

TEST_F(OpErrorsPerOpTest, Variance) {
  ExpectRejected([&] { var(i5_); }, "var: expected a floating dtype, got i32[5]; cast first",
                 {i5_});
  ExpectRejected([&] { var(pending_, {1}, false, -2); }, "var: expected a correction >= 0, got -2",
                 {pending_});
  ExpectRejected([&] { var(pending_, {0, 0}); }, "var: ", {pending_});
  ExpectRejected([&] { var(pending_, {2}); }, "var: dimension 2 is out of range for f32[2,3]",
                 {pending_});
  ExpectRejected([&] { var(undefined_); }, "var: input is an undefined tensor", {});
}

TEST_F(OpErrorsPerOpTest, Pad) {
  ExpectRejected([&] { pad(f5_, {1}); },
                 "pad: padding [1] must have an even length of at most 2 (2 per dimension of "
                 "f32[5])",
                 {f5_});
  ExpectRejected(
      [&] {
        pad(f5_, {1, 1, 1, 1});
      },
      "pad: padding [1,1,1,1] must have an even length of at most 2 (2 per dimension "
      "of f32[5])",
      {f5_});
  ExpectRejected(
      [&] {
        pad(pending_, {-2, -2});
      },
      "pad: padding [-2,-2] makes dimension 1 of f32[2,3] negative (-1)", {pending_});
  ExpectRejected(
      [&] {
        pad(pending_, {0, 0, -3, 0});
      },
      "pad: padding [0,0,-3,0] makes dimension 0 of f32[2,3] negative (-1)", {pending_});
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  ExpectRejected(
      [&] {
        pad(f5_, {kMax, 0});
      },
      "pad: padding [9223372036854775807,0] gives dimension 0 of f32[5] a size that "
      "does not fit in an int64",
      {f5_});
  ExpectRejected(
      [&] {
        pad(f5_, {0, kMax});
      },
      "pad: padding [0,9223372036854775807] gives dimension 0 of f32[5] a size that "
      "does not fit in an int64",
      {f5_});
  ExpectRejected([&] { pad(undefined_, {1, 1}); }, "pad: input is an undefined tensor", {});
}

// --- indexing ---

TEST_F(OpErrorsPerOpTest, Gather) {
  const Tensor index = Tensor::from_vector<int64_t>({0, 1, 2, 0}, {2, 2});
  const Tensor big_index = Tensor::from_vector<int64_t>(std::vector<int64_t>(10, 0), {5, 2});
  ExpectRejected([&] { gather(pending_, 1, f5_); },
                 "gather: expected an i32 or i64 index, got f32[5]", {pending_, f5_});
  ExpectRejected([&] { gather(pending_, 1, flags_); },
                 "gather: expected an i32 or i64 index, got bool[2]", {pending_, flags_});
  ExpectRejected([&] { gather(pending_, 2, index); },
                 "gather: dimension 2 is out of range for f32[2,3] (expected -2..1)",
                 {pending_, index});
  ExpectRejected([&] { gather(pending_, 0, i5_); },
                 "gather: index i32[5] must have the rank of the input f32[2,3]", {pending_, i5_});
  ExpectRejected([&] { pending_.gather(1, big_index); },
                 "gather: index i64[5,2] is larger than the input f32[2,3] in dimension 0 (5 > "
                 "2)",
                 {pending_, big_index});
  ExpectRejected([&] { gather(undefined_, 0, index); }, "gather: input is an undefined tensor",
                 {index});
}

TEST_F(OpErrorsPerOpTest, IndexSelect) {
  const Tensor index = Tensor::from_vector<int32_t>({0, 1}, {2});
  ExpectRejected([&] { index_select(pending_, 0, f5_); },
                 "index_select: expected an i32 or i64 index, got f32[5]", {pending_, f5_});
  ExpectRejected([&] { index_select(pending_, 0, i34_); },
                 "index_select: expected a 1-d index, got i64[3,4] for input f32[2,3]",
                 {pending_, i34_});
  ExpectRejected([&] { pending_.index_select(-3, index); },
                 "index_select: dimension -3 is out of range for f32[2,3] (expected -2..1)",
                 {pending_, index});
  ExpectRejected([&] { index_select(undefined_, 0, index); },
                 "index_select: input is an undefined tensor", {index});
  ExpectRejected([&] { index_select(pending_, 0, undefined_); },
                 "index_select: index is an undefined tensor", {pending_});
}

TEST_F(OpErrorsPerOpTest, ScatterAdd) {
  const Tensor index = Tensor::from_vector<int64_t>({0, 1, 1, 0, 0, 1}, {2, 3});
  const Tensor src = Tensor::from_vector<float>({1, 1, 1, 1, 1, 1}, {2, 3});
  const Tensor src_small = Tensor::from_vector<float>({1, 1}, {1, 2});
  ExpectRejected([&] { scatter_add(pending_, 0, index, i34_); },
                 "scatter_add: src i64[3,4] must have the dtype of self f32[2,3]",
                 {pending_, index, i34_});
  ExpectRejected([&] { scatter_add(pending_, 0, src, src); },
                 "scatter_add: expected an i32 or i64 index, got f32[2,3]", {pending_, src});
  ExpectRejected([&] { scatter_add(pending_, 0, i5_, src); },
                 "scatter_add: self, index and src must have one rank, got f32[2,3], i32[5], "
                 "f32[2,3]",
                 {pending_, i5_, src});
  ExpectRejected([&] { scatter_add(pending_, 0, index, src_small); },
                 "scatter_add: index i64[2,3] is larger than src f32[1,2] in dimension 0 (2 > 1)",
                 {pending_, index, src_small});
  const Tensor wide_index = Tensor::from_vector<int64_t>(std::vector<int64_t>(8, 0), {2, 4});
  const Tensor wide_src = Tensor::from_vector<float>(std::vector<float>(8, 1), {2, 4});
  ExpectRejected([&] { scatter_add(pending_, 0, wide_index, wide_src); },
                 "scatter_add: index i64[2,4] is larger than self f32[2,3] in dimension 1 (4 > 3)",
                 {pending_, wide_index, wide_src});
  ExpectRejected([&] { scatter_add(flags_, 0, i5_.slice(0, 0, 2), flags_); },
                 "scatter_add: expected a numeric dtype (i32, i64, f32 or f64), got bool[2]",
                 {flags_, i5_});
  ExpectRejected([&] { pending_.scatter_add(2, index, src); },
                 "scatter_add: dimension 2 is out of range for f32[2,3] (expected -2..1)",
                 {pending_, index, src});
  ExpectRejected([&] { scatter_add(pending_, 0, index, undefined_); },
                 "scatter_add: src is an undefined tensor", {pending_, index});
}

// --- composite ops ---

TEST_F(OpErrorsPerOpTest, SoftmaxAndLogSoftmax) {
  ExpectRejected([&] { log_softmax(pending_, 2); },
                 "log_softmax: dimension 2 is out of range for f32[2,3] (expected -2..1)",
                 {pending_});
  ExpectRejected([&] { log_softmax(scalar_, 0); },
                 "log_softmax: dimension 0 is out of range for f32[] (a 0-d tensor has no "
                 "dimensions)",
                 {scalar_});
  ExpectRejected([&] { softmax(undefined_, 0); }, "softmax: input is an undefined tensor", {});
  ExpectRejected([&] { log_softmax(undefined_, 0); }, "log_softmax: input is an undefined tensor",
                 {});
}

TEST_F(OpErrorsPerOpTest, LayerNorm) {
  const Tensor w3 = Tensor::from_vector<float>({1, 1, 1}, {3});
  const Tensor w4 = Tensor::from_vector<float>({1, 1, 1, 1}, {4});
  ExpectRejected([&] { layer_norm(i34_, Tensor(), Tensor()); },
                 "layer_norm: expected a floating input, got i64[3,4]", {i34_});
  ExpectRejected([&] { layer_norm(scalar_, Tensor(), Tensor()); },
                 "layer_norm: expected an input with at least 1 dimension, got f32[]", {scalar_});
  ExpectRejected([&] { layer_norm(pending_, w4, Tensor()); },
                 "layer_norm: weight f32[4] must match the trailing dimensions of the input "
                 "f32[2,3]",
                 {pending_, w4});
  ExpectRejected([&] { layer_norm(pending_, w3, w4); },
                 "layer_norm: bias f32[4] must have the sizes [3] of the normalised dimensions of "
                 "f32[2,3]",
                 {pending_, w3, w4});
  ExpectRejected([&] { layer_norm(pending_, Tensor(), w4); },
                 "layer_norm: bias f32[4] must have the sizes [3]", {pending_, w4});
  ExpectRejected([&] { layer_norm(undefined_, w3, w3); }, "layer_norm: input is an undefined",
                 {w3});
}

TEST_F(OpErrorsPerOpTest, Gelu) {
  ExpectRejected([&] { gelu(undefined_); }, "gelu: input is an undefined tensor", {});
  ExpectRejected([&] { gelu(undefined_, GeluApproximation::kTanh); },
                 "gelu: input is an undefined tensor", {});
}

TEST_F(OpErrorsPerOpTest, CrossEntropy) {
  const Tensor labels2 = Tensor::from_vector<int64_t>({0, 1}, {2});
  const Tensor labels3 = Tensor::from_vector<int64_t>({0, 1, 2}, {3});
  const Tensor no_classes = Tensor::from_vector<float>({}, {2, 0});
  ExpectRejected([&] { cross_entropy(f5_, labels2); },
                 "cross_entropy: expected floating logits [N, C], got f32[5]", {f5_, labels2});
  ExpectRejected([&] { cross_entropy(i34_, labels3); },
                 "cross_entropy: expected floating logits [N, C], got i64[3,4]", {i34_, labels3});
  ExpectRejected([&] { cross_entropy(pending_, i34_); },
                 "cross_entropy: expected i32 or i64 labels [N], got i64[3,4] for logits f32[2,3]",
                 {pending_, i34_});
  ExpectRejected([&] { cross_entropy(pending_, flags_); },
                 "cross_entropy: expected i32 or i64 labels [N], got bool[2]", {pending_, flags_});
  ExpectRejected([&] { cross_entropy(pending_, labels3, Reduction::kSum); },
                 "cross_entropy: logits f32[2,3] and labels i64[3] disagree on N (2 vs 3)",
                 {pending_, labels3});
  ExpectRejected([&] { cross_entropy(no_classes, labels2); },
                 "cross_entropy: logits f32[2,0] have no classes", {no_classes, labels2});
  ExpectRejected([&] { cross_entropy(undefined_, labels2); },
                 "cross_entropy: logits is an undefined tensor", {labels2});
  ExpectRejected([&] { cross_entropy(pending_, undefined_); },
                 "cross_entropy: labels is an undefined tensor", {pending_});
}

// --- creation ---

TEST_F(OpErrorsPerOpTest, Creation) {
  Generator gen(1);
  ExpectRejected([] { full({2, -1}, 1.0); }, "full: sizes [2,-1] must be >= 0", {});
  ExpectRejected([] { full({2}, 1.0, DType::kBF16); },
                 "full: dtype bf16 is not supported by any op yet", {});
  ExpectRejected([] { zeros({-3}); }, "zeros: sizes [-3] must be >= 0", {});
  ExpectRejected([] { zeros({3}, DType::kF16); }, "zeros: dtype f16 is not supported", {});
  ExpectRejected([] { ones({1, -1}, DType::kI32); }, "ones: sizes [1,-1] must be >= 0", {});
  ExpectRejected([] { ones({1}, DType::kBF16); }, "ones: dtype bf16 is not supported", {});
  ExpectRejected([] { full_data({-1}, 0.0); }, "full_data: sizes [-1] must be >= 0", {});
  ExpectRejected([] { full_data({1}, 0.0, DType::kF16); }, "full_data: dtype f16 is not supported",
                 {});
  ExpectRejected([] { constant(1.0, DType::kBF16); }, "constant: dtype bf16 is not supported", {});
  ExpectRejected([] { arange(0, 10, 0); },
                 "arange: expected finite bounds and a non-zero step, got start=0 end=10 step=0",
                 {});
  ExpectRejected([] { arange(0, std::numeric_limits<double>::infinity(), 1); },
                 "arange: expected finite bounds and a non-zero step", {});
  ExpectRejected([] { arange(5, DType::kBool); },
                 "arange: expected a numeric dtype (i32, i64, f32 or f64), got bool", {});
  ExpectRejected([&] { rand({2}, gen, DType::kI32); },
                 "rand: expected a floating dtype (f32 or f64), got i32 for sizes [2]", {});
  ExpectRejected([&] { rand({-2}, gen); }, "rand: sizes [-2] must be >= 0", {});
  ExpectRejected([&] { randn({2}, gen, DType::kBool); },
                 "randn: expected a floating dtype (f32 or f64), got bool", {});
  ExpectRejected([&] { randn({2, -2}, gen); }, "randn: sizes [2,-2] must be >= 0", {});
  ExpectRejected([&] { normal({2}, gen, 0, -1); },
                 "normal: expected a finite mean and std >= 0, got mean=0 std=-1", {});
  ExpectRejected([&] { normal({2}, gen, 0, 1, DType::kI64); }, "normal: expected a floating dtype",
                 {});
  ExpectRejected([&] { trunc_normal({2}, gen, 0, 1, 2, -2); },
                 "trunc_normal: expected std > 0 and a < b, got mean=0 std=1 a=2 b=-2", {});
  ExpectRejected([&] { trunc_normal({2}, gen, 0, 1, 50, 60); },
                 "trunc_normal: [50, 60] holds almost none of Normal(0, 1)", {});
  ExpectRejected([&] { trunc_normal({-2}, gen); }, "trunc_normal: sizes [-2] must be >= 0", {});
}

TEST_F(OpErrorsPerOpTest, CreationRejectsSizesWhoseElementCountOverflows) {
  Generator gen(1);
  const std::vector<int64_t> huge = {int64_t{1} << 32, int64_t{1} << 32};
  const std::string message =
      ": sizes [4294967296,4294967296] of f32 have more bytes than an int64 can count";
  ExpectRejected([&] { full(huge, 1.0); }, "full" + message, {});
  ExpectRejected([&] { zeros(huge); }, "zeros" + message, {});
  ExpectRejected([&] { ones(huge); }, "ones" + message, {});
  ExpectRejected([&] { full_data(huge, 0.0); }, "full_data" + message, {});
  ExpectRejected([&] { rand(huge, gen); }, "rand" + message, {});
  ExpectRejected([&] { randn(huge, gen); }, "randn" + message, {});
  ExpectRejected([&] { normal(huge, gen, 0, 1); }, "normal" + message, {});
  ExpectRejected([&] { trunc_normal(huge, gen); }, "trunc_normal" + message, {});
  ExpectRejected(
      [] {
        Tensor::from_vector<float>({}, {int64_t{1} << 32, int64_t{1} << 32});
      },
      "from_vector: shape [4294967296,4294967296] has more elements than an int64 can "
      "count",
      {});
  // The element count fits, the byte count does not.
  ExpectRejected(
      [] {
        zeros({int64_t{1} << 31, int64_t{1} << 31}, DType::kF64);
      },
      "zeros: sizes [2147483648,2147483648] of f64 have more bytes than an int64 can "
      "count",
      {});
  // A size of 0 makes any other sizes fine.
  EXPECT_EQ(full({0, int64_t{1} << 40, int64_t{1} << 40}, 1.0).numel(), 0);
  EXPECT_EQ(Tensor::from_vector<float>({}, {int64_t{1} << 40, int64_t{1} << 40, 0}).numel(), 0);
}

TEST_F(OpErrorsPerOpTest, ArangeRejectsALengthThatDoesNotFit) {
  ExpectRejected([] { arange(0, 1e300, 1e-300); },
                 "arange: [0, 1e+300) in steps of 1e-300 has more elements than an int64 can "
                 "count",
                 {});
  ExpectRejected([] { arange(0, 1e19, 1); }, "arange: [0, 1e+19) in steps of 1 has more elements",
                 {});
}

// --- Tensor ---

TEST_F(OpErrorsPerOpTest, TensorMethods) {
  ExpectRejected(
      [] {
        Tensor::from_vector<float>({1, 2, 3}, {2, 2});
      },
      "from_vector: 3 values do not fill shape [2,2] (4 elements)", {});
  ExpectRejected([] { Tensor::from_vector<int32_t>({}, {-1}); },
                 "from_vector: negative size in shape [-1]", {});
  ExpectRejected([&] { pending_.to_vector<int32_t>(); },
                 "to_vector: the tensor is f32[2,3] but was read as i32", {pending_});
  ExpectRejected([&] { undefined_.to_vector<float>(); }, "to_vector: the tensor is undefined", {});
  ExpectRejected([&] { pending_.item(); }, "item: expected a tensor with one element, got f32[2,3]",
                 {pending_});
  ExpectRejected([&] { undefined_.item(); }, "item: the tensor is undefined", {});
  ExpectRejected([&] { pending_.size(2); },
                 "size: dimension 2 is out of range for f32[2,3] (expected -2..1)", {pending_});
  ExpectRejected([&] { pending_.size(-3); }, "size: dimension -3 is out of range for f32[2,3]",
                 {pending_});
  ExpectRejected([&] { undefined_.dim(); }, "shape: the tensor is undefined", {});
  Tensor target = Tensor::from_vector<float>({1, 2, 3, 4, 5, 6}, {3, 2});
  ExpectRejected([&] { target.assign_(pending_); },
                 "assign_: cannot assign f32[2,3] to f32[3,2] (shapes and dtypes must match)",
                 {target, pending_});
  ExpectRejected([&] { f5_.assign_(cast(f5_, DType::kF64)); },
                 "assign_: cannot assign f64[5] to f32[5]", {f5_});
  ExpectRejected([&] { target.assign_(undefined_); }, "assign_: the tensor is undefined", {target});
}

TEST_F(OpErrorsPerOpTest, TensorAutogradMethods) {
  ExpectRejected([&] { i5_.requires_grad_(); },
                 "requires_grad_: only floating tensors can require grad, got i32[5]", {i5_});
  ExpectRejected([&] { pending_.grad(); },
                 "grad: the tensor f32[2,3] does not require grad; call requires_grad_() on it",
                 {pending_});
  ExpectRejected([&] { pending_.backward(); },
                 "backward: the tensor f32[2,3] does not require grad", {pending_});
  Tensor w = Tensor::from_vector<float>({1, 2, 3, 4, 5, 6}, {2, 3});
  w.requires_grad_();
  Tensor y = w * 2.0;
  ExpectRejected([&] { y.backward(); },
                 "backward: a gradient can be implied only for a one-element output; pass one for "
                 "f32[2,3]",
                 {w, y});
  ExpectRejected([&] { y.backward(f5_); },
                 "backward: the gradient f32[5] does not match the output f32[2,3]", {w, y, f5_});
  ExpectRejected([&] { w.set_grad(f34_); },
                 "set_grad: the gradient f32[3,4] does not match the tensor f32[2,3]", {w, f34_});
  ExpectRejected([&] { y.grad(); },
                 "grad: the tensor f32[2,3] is the result of mul, not a leaf; only leaves "
                 "accumulate gradients",
                 {y});
  ExpectRejected([&] { y.requires_grad_(false); },
                 "requires_grad_: the tensor f32[2,3] is the result of mul; only leaves can "
                 "change requires_grad",
                 {y});
  ExpectRejected([&] { undefined_.backward(); }, "backward: the tensor is undefined", {});
  ExpectRejected([&] { undefined_.detach(); }, "detach: the tensor is undefined", {});
}

// --- nn ---

TEST_F(OpErrorsPerOpTest, FunctionalLinear) {
  const Tensor w = Tensor::from_vector<float>(std::vector<float>(12, 1), {4, 3});
  const Tensor b = Tensor::from_vector<float>({1, 1, 1}, {3});
  ExpectRejected([&] { nn::linear(pending_, f5_); },
                 "linear: expected a weight [out, in], got f32[5]", {pending_, f5_});
  ExpectRejected([&] { nn::linear(f34_, w); },
                 "linear: expected an input [..., 3] for weight f32[4,3], got f32[3,4]", {f34_, w});
  ExpectRejected([&] { nn::linear(scalar_, w); },
                 "linear: expected an input [..., 3] for weight f32[4,3], got f32[]", {scalar_, w});
  ExpectRejected([&] { nn::linear(pending_, w, b); },
                 "linear: expected a bias [4] for weight f32[4,3], got f32[3]", {pending_, w, b});
  ExpectRejected(
      [&] {
        nn::linear(flags_.reshape({1, 2}), w.slice(1, 0, 2));
      },
      "linear: bool operands are not supported, got input bool[1,2] and weight "
      "f32[4,2]; cast to a numeric dtype first",
      {flags_, w});
  ExpectRejected([&] { nn::linear(undefined_, w); }, "linear: input is an undefined tensor", {w});
  ExpectRejected([&] { nn::linear(pending_, undefined_); }, "linear: weight is an undefined tensor",
                 {pending_});
}

TEST_F(OpErrorsPerOpTest, MaskedSoftmax) {
  const Tensor mask3 = Tensor::from_vector<bool>({true, false, true}, {3});
  const Tensor mask4 = Tensor::from_vector<bool>({true, false, true, true}, {4});
  const Tensor mask223 = Tensor::from_vector<bool>(std::vector<bool>(12, true), {2, 2, 3});
  ExpectRejected([&] { nn::masked_softmax(i34_, mask4, -1); },
                 "masked_softmax: expected a floating input, got i64[3,4]", {i34_, mask4});
  ExpectRejected([&] { nn::masked_softmax(pending_, f5_, -1); },
                 "masked_softmax: expected a bool mask, got f32[5] for input f32[2,3]",
                 {pending_, f5_});
  ExpectRejected([&] { nn::masked_softmax(pending_, mask4, -1); },
                 "masked_softmax: cannot broadcast f32[2,3] with bool[4]", {pending_, mask4});
  ExpectRejected([&] { nn::masked_softmax(pending_, mask223, -1); },
                 "masked_softmax: mask bool[2,2,3] must broadcast to the input f32[2,3]",
                 {pending_, mask223});
  ExpectRejected([&] { nn::masked_softmax(pending_, mask3, 2); },
                 "masked_softmax: dimension 2 is out of range for f32[2,3] (expected -2..1)",
                 {pending_, mask3});
  ExpectRejected([&] { nn::masked_softmax(undefined_, mask3, 0); },
                 "masked_softmax: input is an undefined tensor", {mask3});
}

TEST_F(OpErrorsPerOpTest, LinearLayer) {
  Generator gen(1);
  ExpectRejected([&] { nn::Linear(0, 3, gen); },
                 "Linear: in_features and out_features must be positive, got 0 and 3", {});
  const nn::Linear fc(3, 2, gen);
  ExpectRejected([&] { fc.forward(f34_); },
                 "Linear(3 -> 2): expected an input [..., 3], got f32[3,4] (weight f32[2,3])",
                 {f34_});
  ExpectRejected([&] { fc.forward(scalar_); },
                 "Linear(3 -> 2): expected an input [..., 3], got f32[]", {scalar_});
  ExpectRejected([&] { fc.forward(undefined_); }, "Linear: the input is undefined", {});
}

TEST_F(OpErrorsPerOpTest, LayerNormLayer) {
  ExpectRejected([] { nn::LayerNorm({}); },
                 "LayerNorm: normalized_shape must be non-empty with positive sizes, got []", {});
  ExpectRejected(
      [] {
        nn::LayerNorm({3, 0});
      },
      "LayerNorm: normalized_shape must be non-empty with positive sizes, got [3,0]", {});
  ExpectRejected([] { nn::LayerNorm({3}, -1); }, "LayerNorm: eps must be non-negative, got -1", {});
  const nn::LayerNorm norm({4});
  const nn::LayerNorm norm2({2, 3}, 1e-5, /*elementwise_affine=*/false);
  ExpectRejected([&] { norm.forward(pending_); },
                 "LayerNorm([4]): expected an input whose trailing dimensions are [4], got "
                 "f32[2,3]",
                 {pending_});
  ExpectRejected([&] { norm2.forward(f5_); },
                 "LayerNorm([2,3]): expected an input whose trailing dimensions are [2,3], got "
                 "f32[5]",
                 {f5_});
  ExpectRejected([&] { norm.forward(i34_); }, "layer_norm: expected a floating input, got i64[3,4]",
                 {i34_});
  ExpectRejected([&] { norm.forward(undefined_); }, "LayerNorm: the input is undefined", {});
}

TEST_F(OpErrorsPerOpTest, EmbeddingLayer) {
  Generator gen(1);
  ExpectRejected([&] { nn::Embedding(-1, 3, gen); },
                 "Embedding: num_embeddings and embedding_dim must be positive, got -1 and 3", {});
  const nn::Embedding table(10, 3, gen);
  ExpectRejected([&] { table.forward(f5_); },
                 "Embedding(10, 3): expected i32 or i64 indices, got f32[5]", {f5_});
  ExpectRejected([&] { table.forward(flags_); },
                 "Embedding(10, 3): expected i32 or i64 indices, got bool[2]", {flags_});
  ExpectRejected([&] { table.forward(undefined_); }, "Embedding: the indices are undefined", {});
}

TEST_F(OpErrorsPerOpTest, AttentionAndBlocks) {
  Generator gen(1);
  ExpectRejected([&] { nn::MultiheadSelfAttention(10, 3, gen); },
                 "MultiheadSelfAttention: dim 10 must be positive and divisible by num_heads 3",
                 {});
  const nn::MultiheadSelfAttention attn(4, 2, gen);
  const Tensor x = Tensor::from_vector<float>(std::vector<float>(24, 0.5f), {2, 3, 4});
  const Tensor x5 = Tensor::from_vector<float>(std::vector<float>(30, 0.5f), {2, 3, 5});
  const Tensor mask = Tensor::from_vector<bool>(std::vector<bool>(6, true), {2, 3});
  const Tensor mask_t = Tensor::from_vector<bool>(std::vector<bool>(6, true), {3, 2});
  const Tensor mask_f = Tensor::from_vector<float>(std::vector<float>(6, 1), {2, 3});
  const std::string who = "MultiheadSelfAttention(dim 4, heads 2): ";
  ExpectRejected([&] { attn.forward(x5); }, who + "expected an input [B, L, 4], got f32[2,3,5]",
                 {x5});
  ExpectRejected([&] { attn.forward(f34_); }, who + "expected an input [B, L, 4], got f32[3,4]",
                 {f34_});
  ExpectRejected([&] { attn.forward(x, mask_t); },
                 who +
                     "expected a bool key padding mask [B, L] = [2,3] for input f32[2,3,4], got "
                     "bool[3,2]",
                 {x, mask_t});
  ExpectRejected([&] { attn.forward(x, mask_f); },
                 who +
                     "expected a bool key padding mask [B, L] = [2,3] for input f32[2,3,4], got "
                     "f32[2,3]",
                 {x, mask_f});
  ExpectRejected([&] { attn.forward(undefined_, mask); }, who + "the input is undefined", {mask});

  const nn::MLP mlp(4, 8, 4, gen);
  ExpectRejected([&] { mlp.forward(x5); },
                 "MLP(4 -> 8 -> 4): expected an input [..., 4], got f32[2,3,5]", {x5});
  const nn::TransformerBlock block(4, 2, 8, gen);
  ExpectRejected([&] { block.forward(x5, mask); },
                 "LayerNorm([4]): expected an input whose trailing dimensions are [4], got "
                 "f32[2,3,5]",
                 {x5, mask});
  ExpectRejected([&] { block.forward(x, mask_t); },
                 who + "expected a bool key padding mask [B, L] = [2,3]", {x, mask_t});
  const nn::GELU act;
  ExpectRejected([&] { act.forward(undefined_); }, "gelu: input is an undefined tensor", {});
  nn::Sequential seq;
  seq.push_back(std::make_shared<nn::Linear>(4, 8, gen));
  seq.push_back(std::make_shared<nn::GELU>());
  ExpectRejected([&] { seq.forward(x5); },
                 "Linear(4 -> 8): expected an input [..., 4], got f32[2,3,5]", {x5});
}

TEST_F(OpErrorsPerOpTest, Losses) {
  const Tensor labels = Tensor::from_vector<int64_t>({0, 1}, {2});
  const Tensor weights3 = Tensor::from_vector<float>({1, 1, 1}, {3});
  const Tensor weights = Tensor::from_vector<float>({1, 1}, {2});
  ExpectRejected([&] { nn::cross_entropy(pending_, labels, weights3); },
                 "cross_entropy: expected weights [N] for logits [N, C] f32[2,3], got f32[3]",
                 {pending_, labels, weights3});
  ExpectRejected([&] { nn::cross_entropy(f5_, labels, weights); },
                 "cross_entropy: expected weights [N] for logits [N, C] f32[5], got f32[2]",
                 {f5_, labels, weights});
  ExpectRejected([&] { nn::cross_entropy(pending_, f5_, weights); },
                 "cross_entropy: expected i32 or i64 labels [N], got f32[5]",
                 {pending_, f5_, weights});
  ExpectRejected([&] { nn::cross_entropy(pending_, undefined_, weights); },
                 "cross_entropy: labels is an undefined tensor", {pending_, weights});
  ExpectRejected([&] { nn::cross_entropy(undefined_, labels, weights); },
                 "cross_entropy: logits is an undefined tensor", {labels, weights});
  ExpectRejected([&] { nn::mse_loss(pending_, f34_); },
                 "mse_loss: input f32[2,3] and target f32[3,4] must have the same shape",
                 {pending_, f34_});
  ExpectRejected([&] { nn::mse_loss(i34_, i34_); },
                 "mse_loss: expected a floating input, got i64[3,4]", {i34_});
  ExpectRejected([&] { nn::mse_loss(pending_, undefined_); },
                 "mse_loss: target is an undefined tensor", {pending_});
}

TEST_F(OpErrorsPerOpTest, Init) {
  Generator gen(1);
  ExpectRejected([&] { nn::init::trunc_normal_(i5_, 0.02, gen); },
                 "trunc_normal_: expected a floating tensor, got i32[5]", {i5_});
  ExpectRejected([&] { nn::init::trunc_normal_(f5_, -1, gen); },
                 "trunc_normal_: std must be positive, got -1", {f5_});
  ExpectRejected([&] { nn::init::normal_(f5_, 0, -1, gen); },
                 "normal_: std must be non-negative, got -1", {f5_});
  ExpectRejected([&] { nn::init::normal_(Tensor(), 0, 1, gen); },
                 "normal_: the tensor is undefined", {});
  ExpectRejected([&] { nn::init::constant_(Tensor(), 1); }, "constant_: the tensor is undefined",
                 {});
  ExpectRejected([&] { nn::init::zeros_(Tensor()); }, "zeros_: the tensor is undefined", {});
  ExpectRejected([&] { nn::init::ones_(Tensor()); }, "ones_: the tensor is undefined", {});
}

// --- optimizers ---

TEST_F(OpErrorsPerOpTest, Optimizers) {
  Tensor p = Tensor::from_vector<float>({1, 2, 3}, {3});
  p.requires_grad_();
  ExpectRejected([] { optim::SGD(std::vector<optim::ParamGroup>{}); },
                 "SGD: got no parameters to optimize", {});
  ExpectRejected([] { optim::SGD(std::vector<Tensor>{}); }, "SGD: parameter group 0 is empty", {});
  ExpectRejected([&] { optim::SGD({f5_}); }, "SGD: parameter 0 of group 0 (f32[5]", {f5_});
  ExpectRejected([&] { optim::SGD({p, p}); }, "SGD: parameter 1 of group 0 (f32[3]", {p});
  ExpectRejected([&] { optim::SGD({Tensor()}); }, "SGD: parameter 0 of group 0 is undefined", {});
  ExpectRejected([&] { optim::SGD({p}, {.lr = -1}); }, "SGD: lr must be in [0, inf), got -1", {p});
  ExpectRejected([&] { optim::SGD({p}, {.nesterov = true}); },
                 "SGD: nesterov needs a momentum > 0, got momentum 0", {p});
  ExpectRejected([&] { optim::AdamW({p}, {.beta1 = 1}); }, "AdamW: beta1 must be in [0, 1), got 1",
                 {p});
  ExpectRejected([&] { optim::AdamW({p}, {.eps = -1}); }, "AdamW: eps must be in [0, inf), got -1",
                 {p});
  ExpectRejected([&] { optim::SGD({p * 2.0}); },
                 "is the result of an op, not a leaf; only leaves can be optimized", {p});
  ExpectRejected([&] { optim::SGD({optim::ParamGroup{.params = {p}, .lr = -1}}); },
                 "SGD: lr of group 0 must be in [0, inf), got -1", {p});
  ExpectRejected(
      [&] {
        optim::AdamW(optim::DecayGroupsByRank({p, Tensor()}, 0.1));
      },
      "AdamW: parameter 1 of group 0 is undefined", {p});
  const optim::SGD sgd({p}, {.momentum = 0.9});
  ExpectRejected([&] { sgd.momentum_buffer(0, 5); }, "SGD: no parameter 5 in group 0", {p});
  optim::AdamW adam({p});
  ExpectRejected([&] { adam.state(2, 0); }, "AdamW: no parameter 0 in group 2", {p});
  ExpectRejected([&] { adam.set_lr(-0.5); }, "AdamW: lr must be in [0, inf), got -0.5", {p});
  ExpectRejected([&] { adam.set_lr(3, 0.1); }, "AdamW: no parameter group 3 (the optimizer has 1)",
                 {p});
  // A gradient of the wrong shape cannot reach the update: set_grad refuses it.
  ExpectRejected([&] { p.set_grad(f5_); },
                 "set_grad: the gradient f32[5] does not match the tensor f32[3]", {p, f5_});
  ExpectRejected([] { optim::ConstantSchedule(-1); },
                 "ConstantSchedule: lr must be finite and >= 0, got -1", {});
  ExpectRejected([] { optim::WarmupCosineSchedule(1e-3, 10, 5); }, "WarmupCosineSchedule", {});
  ExpectRejected([] { optim::ConstantSchedule(1e-3)(-1); }, "step must be >= 0, got -1", {});
}

// --- devices ---

// Switches the device for tensors created in its scope.
class DeviceScope {
 public:
  explicit DeviceScope(std::string_view name) : previous_(current_backend().name()) {
    set_device(name);
  }
  ~DeviceScope() { set_device(previous_); }

 private:
  std::string previous_;
};

TEST_F(OpErrorsPerOpTest, OperandsOnDifferentDevices) {
  const std::string here = current_backend().name();
  const std::string other = here == "interp" ? "cpu" : "interp";
  Tensor a, a_index, labels;
  {
    DeviceScope scope(other);
    a = Tensor::from_vector<float>({1, 2, 3, 4, 5, 6}, {2, 3});
    a_index = Tensor::from_vector<int64_t>({0, 1}, {2});
    labels = Tensor::from_vector<int64_t>({0, 1}, {2});
  }
  const std::string devices = "operands are on different devices (";
  const Tensor w3 = Tensor::from_vector<float>({1, 1, 1}, {3});
  const Tensor w33 = Tensor::from_vector<float>(std::vector<float>(9, 1), {3, 3});
  ExpectRejected([&] { add(a, pending_); }, "add: " + devices, {a, pending_});
  ExpectRejected([&] { a* flags_; }, "mul: " + devices, {a, flags_});
  ExpectRejected([&] { where(flags_, a, 1); }, "where: " + devices, {a, flags_});
  ExpectRejected([&] { matmul(a, w33); }, "matmul: " + devices, {a, w33});
  ExpectRejected([&] { concat({a, pending_}); }, "concat: " + devices, {a, pending_});
  ExpectRejected([&] { index_select(pending_, 0, a_index); }, "index_select: " + devices,
                 {pending_, a_index});
  ExpectRejected([&] { layer_norm(a, w3, Tensor()); }, "layer_norm: " + devices, {a, w3});
  ExpectRejected([&] { nn::linear(a, w33); }, "linear: " + devices, {a, w33});
  ExpectRejected([&] { cross_entropy(pending_, labels); }, "cross_entropy: " + devices,
                 {pending_, labels});
  ExpectRejected([&] { nn::mse_loss(a, pending_); }, "mse_loss: " + devices, {a, pending_});
  ExpectRejected([&] { nn::masked_softmax(a, flags_.slice(0, 0, 1), 1); },
                 "masked_softmax: " + devices, {a, flags_});
  ExpectRejected([&] { nn::cross_entropy(pending_, labels, a.slice(1, 0, 1).reshape({2})); },
                 "cross_entropy: " + devices, {a, pending_, labels});
  ExpectRejected([&] { pending_.assign_(a); }, "assign_: tensors are on different devices",
                 {a, pending_});
  Tensor w = Tensor::from_vector<float>({1, 2, 3, 4, 5, 6}, {2, 3});
  w.requires_grad_();
  ExpectRejected([&] { w.set_grad(a); },
                 "set_grad: the gradient f32[2,3] is on " + other + " but the tensor is on " + here,
                 {w, a});
  Tensor y = w * 2.0;
  ExpectRejected([&] { y.backward(a); },
                 "backward: the gradient f32[2,3] is on " + other + " but the output is on " + here,
                 {w, y, a});
}

// --- index values, checked when the graph runs (interp) ---

class IndexRangeAtRunTimeTest : public ::testing::Test {
 protected:
  // A valid op after the failure runs and gives the right values.
  static void ExpectStillWorking() {
    Tensor ok = Tensor::from_vector<float>({1, 2, 3}, {3}) * 2.0;
    EXPECT_THAT(ok.to_vector<float>(), ElementsAre(2, 4, 6));
    Tensor table = Tensor::from_vector<float>({10, 20, 30}, {3});
    Tensor picked = index_select(table, 0, Tensor::from_vector<int64_t>({2, 0}, {2}));
    mark_step();
    EXPECT_THAT(picked.to_vector<float>(), ElementsAre(30, 10));
  }

  DeviceScope device_{"interp"};
};

// Runs `read` (a barrier on a graph with a bad index), which must throw naming it.
void ExpectRunTimeError(const std::function<void()>& read, const std::string& message) {
  try {
    read();
    ADD_FAILURE() << "expected a kiln::Error containing: " << message;
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr(message));
  }
}

TEST_F(IndexRangeAtRunTimeTest, Gather) {
  {
    Tensor x = Tensor::from_vector<float>({1, 2, 3, 4, 5, 6}, {2, 3}) * 1.0;
    Tensor index = Tensor::from_vector<int64_t>({0, 3, 1, 0}, {2, 2});
    Tensor out = gather(x, 1, index);
    ExpectRunTimeError([&] { out.to_vector<float>(); },
                       "gather: index 3 at position [0,1] is out of range for dimension 1 of size "
                       "3");
    // The failed run changed nothing: the input still reads, and a valid index works.
    EXPECT_THAT(x.to_vector<float>(), ElementsAre(1, 2, 3, 4, 5, 6));
    const Tensor valid = Tensor::from_vector<int64_t>({2, 0, 1, 1}, {2, 2});
    EXPECT_THAT(gather(x, 1, valid).to_vector<float>(), ElementsAre(3, 1, 5, 5));
  }
  ExpectStillWorking();
}

TEST_F(IndexRangeAtRunTimeTest, IndexSelect) {
  {
    Tensor x = Tensor::from_vector<float>({1, 2, 3, 4, 5, 6}, {3, 2});
    Tensor index = Tensor::from_vector<int32_t>({0, -1}, {2});
    Tensor out = index_select(x, 0, index) + 1.0;
    ExpectRunTimeError([&] { sum(out).item(); },
                       "index_select: index -1 at position [1] is out of range for dimension 0 of "
                       "size 3");
  }
  ExpectStillWorking();
}

TEST_F(IndexRangeAtRunTimeTest, ScatterAdd) {
  {
    Tensor self = zeros({2, 3});
    Tensor index = Tensor::from_vector<int64_t>({0, 1, 2}, {1, 3});
    Tensor src = Tensor::from_vector<float>({1, 1, 1}, {1, 3});
    Tensor out = scatter_add(self, 0, index, src);
    ExpectRunTimeError([] { mark_step(); },
                       "scatter_add: index 2 at position [0,2] is out of range for dimension 0 of "
                       "size 2");
  }
  ExpectStillWorking();
}

TEST_F(IndexRangeAtRunTimeTest, Embedding) {
  {
    Generator gen(1);
    const nn::Embedding table(4, 2, gen);
    Tensor ids = Tensor::from_vector<int64_t>({1, 7, 0, 2}, {2, 2});
    Tensor out = table.forward(ids);
    ExpectRunTimeError([&] { out.to_vector<float>(); },
                       "index_select: index 7 at position [1] is out of range for dimension 0 of "
                       "size 4");
  }
  ExpectStillWorking();
}

TEST_F(IndexRangeAtRunTimeTest, CrossEntropy) {
  {
    Tensor logits = Tensor::from_vector<float>({1, 2, 3, 4, 5, 6}, {2, 3});
    Tensor labels = Tensor::from_vector<int32_t>({2, 5}, {2});
    Tensor loss = cross_entropy(logits, labels);
    ExpectRunTimeError([&] { loss.item(); },
                       "gather: index 5 at position [1,0] is out of range for dimension 1 of size "
                       "3");
    Tensor weighted = nn::cross_entropy(logits, labels, Tensor::from_vector<float>({1, 0}, {2}));
    ExpectRunTimeError([&] { weighted.item(); }, "gather: index 5 at position [1,0]");
  }
  ExpectStillWorking();
}

}  // namespace
}  // namespace kiln
