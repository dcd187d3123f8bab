#include "ir/shape_inference.h"

#include <cstdint>
#include <limits>
#include <set>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kiln {
namespace {

using ::testing::HasSubstr;

constexpr DType kB = DType::kBool;
constexpr DType kI32 = DType::kI32;
constexpr DType kI64 = DType::kI64;
constexpr DType kF32 = DType::kF32;
constexpr DType kF64 = DType::kF64;

absl::StatusOr<Shape> Infer(OpKind op, const std::vector<Shape>& shapes,
                            const Attributes& attrs = {}) {
  std::vector<const Shape*> ptrs;
  for (const Shape& s : shapes) ptrs.push_back(&s);
  return InferShape(op, ptrs, attrs);
}

// The inferred shape as text, or the error message, so a failure shows both.
std::string InferString(OpKind op, const std::vector<Shape>& shapes, const Attributes& attrs = {}) {
  absl::StatusOr<Shape> s = Infer(op, shapes, attrs);
  return s.ok() ? s->ToString() : std::string("error: ") + std::string(s.status().message());
}

std::string ErrorOf(OpKind op, const std::vector<Shape>& shapes, const Attributes& attrs = {}) {
  absl::StatusOr<Shape> s = Infer(op, shapes, attrs);
  if (s.ok()) return "unexpectedly ok: " + s->ToString();
  EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument) << s.status();
  return std::string(s.status().message());
}

Attributes Dims(std::vector<int64_t> dims, bool keepdim) {
  return Attributes().Set("dims", std::move(dims)).Set("keepdim", keepdim);
}
Attributes Dim(int64_t dim) { return Attributes().Set("dim", dim); }
Attributes SliceAttrs(int64_t dim, int64_t start, int64_t end, int64_t step) {
  return Attributes().Set("dim", dim).Set("start", start).Set("end", end).Set("step", step);
}

struct Case {
  OpKind op;
  std::vector<Shape> operands;
  Attributes attrs;
  std::string expected;
};

// One valid application of every non-parameter op kind, with its hand-computed shape.
std::vector<Case> EveryOpCases() {
  const Shape x(kF32, {2, 3});
  const Shape xi(kI32, {2, 3});
  const Shape xb(kB, {2, 3});
  return {
      {OpKind::kConstant, {}, Attributes().Set("value", 1.5).Set("dtype", kF64), "f64[]"},
      {OpKind::kArange,
       {},
       Attributes().Set("start", 0.0).Set("step", 2.0).Set("size", int64_t{5}).Set("dtype", kI64),
       "i64[5]"},
      {OpKind::kRandUniform,
       {Shape(kI64, {})},
       Attributes().Set("sizes", std::vector<int64_t>{4, 1, 3}).Set("dtype", kF32),
       "f32[4,1,3]"},
      {OpKind::kNeg, {xi}, {}, "i32[2,3]"},
      {OpKind::kAbs, {x}, {}, "f32[2,3]"},
      {OpKind::kExp, {x}, {}, "f32[2,3]"},
      {OpKind::kLog, {Shape(kF64, {4})}, {}, "f64[4]"},
      {OpKind::kSqrt, {x}, {}, "f32[2,3]"},
      {OpKind::kRsqrt, {x}, {}, "f32[2,3]"},
      {OpKind::kTanh, {x}, {}, "f32[2,3]"},
      {OpKind::kErf, {x}, {}, "f32[2,3]"},
      {OpKind::kSigmoid, {x}, {}, "f32[2,3]"},
      {OpKind::kRelu, {Shape(kI64, {7})}, {}, "i64[7]"},
      {OpKind::kSin, {x}, {}, "f32[2,3]"},
      {OpKind::kCos, {x}, {}, "f32[2,3]"},
      {OpKind::kFloor, {x}, {}, "f32[2,3]"},
      {OpKind::kCeil, {Shape(kF64, {4})}, {}, "f64[4]"},
      {OpKind::kRound, {x}, {}, "f32[2,3]"},
      {OpKind::kLogicalNot, {xb}, {}, "bool[2,3]"},
      {OpKind::kCast, {xb}, Attributes().Set("dtype", kF32), "f32[2,3]"},
      {OpKind::kAdd, {x, Shape(kF32, {3})}, {}, "f32[2,3]"},
      {OpKind::kSub, {Shape(kF32, {2, 1}), Shape(kF32, {1, 3})}, {}, "f32[2,3]"},
      {OpKind::kMul, {x, Shape(kF32, {})}, {}, "f32[2,3]"},
      {OpKind::kDiv, {xi, xi}, {}, "i32[2,3]"},
      {OpKind::kPow, {x, x}, {}, "f32[2,3]"},
      {OpKind::kMaximum, {x, x}, {}, "f32[2,3]"},
      {OpKind::kMinimum, {x, x}, {}, "f32[2,3]"},
      {OpKind::kEq, {x, x}, {}, "bool[2,3]"},
      {OpKind::kNe, {xb, xb}, {}, "bool[2,3]"},
      {OpKind::kLt, {xi, Shape(kI32, {1})}, {}, "bool[2,3]"},
      {OpKind::kLe, {x, x}, {}, "bool[2,3]"},
      {OpKind::kGt, {x, x}, {}, "bool[2,3]"},
      {OpKind::kGe, {x, x}, {}, "bool[2,3]"},
      {OpKind::kLogicalAnd, {xb, Shape(kB, {3})}, {}, "bool[2,3]"},
      {OpKind::kLogicalOr, {xb, xb}, {}, "bool[2,3]"},
      {OpKind::kWhere, {Shape(kB, {2, 1}), Shape(kF64, {3}), Shape(kF64, {})}, {}, "f64[2,3]"},
      {OpKind::kSum, {x}, Dims({1}, false), "f32[2]"},
      {OpKind::kMean, {x}, Dims({0}, true), "f32[1,3]"},
      {OpKind::kProd, {xi}, Dims({1}, false), "i32[2]"},
      {OpKind::kMax, {xi}, Dims({0, 1}, false), "i32[]"},
      {OpKind::kMin, {x}, Dims({1}, true), "f32[2,1]"},
      {OpKind::kArgmax, {x}, Attributes().Set("dim", int64_t{1}).Set("keepdim", false), "i64[2]"},
      {OpKind::kMatmul, {x, Shape(kF32, {3, 5})}, {}, "f32[2,5]"},
      {OpKind::kReshape,
       {x},
       Attributes().Set("sizes", std::vector<int64_t>{3, 1, 2}),
       "f32[3,1,2]"},
      {OpKind::kPermute, {x}, Attributes().Set("perm", std::vector<int64_t>{1, 0}), "f32[3,2]"},
      {OpKind::kExpand,
       {Shape(kF32, {3, 1})},
       Attributes().Set("sizes", std::vector<int64_t>{2, 3, 4}),
       "f32[2,3,4]"},
      {OpKind::kSlice, {x}, SliceAttrs(1, 0, 3, 2), "f32[2,2]"},
      {OpKind::kConcat, {x, Shape(kF32, {4, 3})}, Dim(0), "f32[6,3]"},
      {OpKind::kPad,
       {x},
       Attributes().Set("pads", std::vector<int64_t>{1, 2, 0, -1}).Set("value", 0.0),
       "f32[5,2]"},
      {OpKind::kGather, {x, Shape(kI64, {2, 5})}, Dim(1), "f32[2,5]"},
      {OpKind::kIndexSelect, {x, Shape(kI32, {4})}, Dim(0), "f32[4,3]"},
      {OpKind::kScatterAdd, {x, Shape(kI64, {1, 2}), Shape(kF32, {1, 3})}, Dim(1), "f32[2,3]"},
  };
}

TEST(ShapeInferenceTest, EveryOpKind) {
  std::set<OpKind> covered = {OpKind::kDeviceData, OpKind::kScalar};
  for (const Case& c : EveryOpCases()) {
    EXPECT_EQ(InferString(c.op, c.operands, c.attrs), c.expected) << OpName(c.op);
    covered.insert(c.op);
  }
  EXPECT_EQ(static_cast<int>(covered.size()), kNumOpKinds);
}

TEST(ShapeInferenceTest, ParametersHaveNoInferredShape) {
  absl::StatusOr<Shape> s = Infer(OpKind::kDeviceData, {});
  EXPECT_EQ(s.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(s.status().message()), HasSubstr("device_data:"));
  EXPECT_EQ(Infer(OpKind::kScalar, {}).status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST(ShapeInferenceTest, WrongOperandCount) {
  EXPECT_EQ(ErrorOf(OpKind::kAdd, {Shape(kF32, {2})}), "add: expected 2 operands, got 1");
  EXPECT_EQ(ErrorOf(OpKind::kConcat, {}, Dim(0)), "concat: expected at least 1 operands, got 0");
  EXPECT_EQ(ErrorOf(OpKind::kWhere, {Shape(kB, {2}), Shape(kF32, {2})}),
            "where: expected 3 operands, got 2");
}

// --- Broadcasting ------------------------------------------------------------------

TEST(ShapeInferenceTest, BroadcastSizeOneStretches) {
  EXPECT_EQ(InferString(OpKind::kAdd, {Shape(kF32, {4, 1, 3}), Shape(kF32, {1, 5, 3})}),
            "f32[4,5,3]");
  EXPECT_EQ(InferString(OpKind::kAdd, {Shape(kF32, {1}), Shape(kF32, {7})}), "f32[7]");
}

TEST(ShapeInferenceTest, BroadcastRankExtension) {
  EXPECT_EQ(InferString(OpKind::kMul, {Shape(kF32, {5}), Shape(kF32, {2, 3, 5})}), "f32[2,3,5]");
  EXPECT_EQ(InferString(OpKind::kMul, {Shape(kF32, {2, 1, 1}), Shape(kF32, {4})}), "f32[2,1,4]");
  EXPECT_EQ(InferString(OpKind::kMul, {Shape(kF32, {}), Shape(kF32, {})}), "f32[]");
}

TEST(ShapeInferenceTest, BroadcastSizeZero) {
  EXPECT_EQ(InferString(OpKind::kAdd, {Shape(kF32, {0, 3}), Shape(kF32, {1, 3})}), "f32[0,3]");
  EXPECT_EQ(InferString(OpKind::kAdd, {Shape(kF32, {1}), Shape(kF32, {0})}), "f32[0]");
  EXPECT_EQ(InferString(OpKind::kAdd, {Shape(kF32, {0}), Shape(kF32, {})}), "f32[0]");
  EXPECT_EQ(ErrorOf(OpKind::kAdd, {Shape(kF32, {0}), Shape(kF32, {2})}),
            "add: cannot broadcast f32[0] with f32[2]: dimension sizes 0 and 2 differ and neither "
            "is 1");
}

TEST(ShapeInferenceTest, BroadcastError) {
  EXPECT_EQ(ErrorOf(OpKind::kAdd, {Shape(kF32, {3, 4}), Shape(kF32, {5})}),
            "add: cannot broadcast f32[3,4] with f32[5]: dimension sizes 4 and 5 differ and "
            "neither is 1");
  absl::StatusOr<Sizes> direct =
      BroadcastSizes(OpKind::kSub, Shape(kI32, {2, 3}), Shape(kI32, {3, 3}));
  ASSERT_FALSE(direct.ok());
  EXPECT_THAT(std::string(direct.status().message()),
              HasSubstr("sub: cannot broadcast i32[2,3] with i32[3,3]: dimension sizes 2 and 3"));
}

TEST(ShapeInferenceTest, BroadcastSizesDirect) {
  absl::StatusOr<Sizes> s = BroadcastSizes(OpKind::kAdd, Shape(kF32, {3, 1}), Shape(kI64, {1, 4}));
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(*s, (Sizes{3, 4}));
}

// --- Elementwise dtype rules ---------------------------------------------------------

TEST(ShapeInferenceTest, ElementwiseDTypesMustMatch) {
  EXPECT_EQ(ErrorOf(OpKind::kAdd, {Shape(kF32, {2}), Shape(kF64, {2})}),
            "add: operand dtypes differ: f32[2] vs f64[2] (cast first)");
  EXPECT_THAT(ErrorOf(OpKind::kEq, {Shape(kI32, {2}), Shape(kI64, {2})}),
              HasSubstr("eq: operand dtypes differ: i32[2] vs i64[2]"));
  EXPECT_THAT(ErrorOf(OpKind::kWhere, {Shape(kB, {2}), Shape(kF32, {2}), Shape(kF64, {2})}),
              HasSubstr("where: operand dtypes differ: f32[2] vs f64[2]"));
}

TEST(ShapeInferenceTest, UnaryNumericRejectsBool) {
  EXPECT_EQ(ErrorOf(OpKind::kNeg, {Shape(kB, {3})}),
            "neg: expected a numeric dtype (i32, i64, f32 or f64), got bool[3]");
  EXPECT_THAT(ErrorOf(OpKind::kRelu, {Shape(kB, {})}), HasSubstr("relu: expected a numeric"));
}

TEST(ShapeInferenceTest, UnaryFloatRejectsIntegers) {
  EXPECT_EQ(ErrorOf(OpKind::kExp, {Shape(kI32, {3})}),
            "exp: expected a floating dtype, got i32[3]");
  EXPECT_EQ(ErrorOf(OpKind::kSqrt, {Shape(kB, {1})}),
            "sqrt: expected a floating dtype, got bool[1]");
}

TEST(ShapeInferenceTest, UnaryBoolRequiresBool) {
  EXPECT_EQ(ErrorOf(OpKind::kLogicalNot, {Shape(kF32, {3})}),
            "logical_not: expected a bool operand, got f32[3]");
}

TEST(ShapeInferenceTest, BinaryNumericRejectsBool) {
  EXPECT_EQ(ErrorOf(OpKind::kAdd, {Shape(kB, {2}), Shape(kB, {2})}),
            "add: expected a numeric dtype (i32, i64, f32 or f64), got bool[2]");
}

TEST(ShapeInferenceTest, CompareProducesBool) {
  EXPECT_EQ(InferString(OpKind::kGe, {Shape(kF64, {4, 1}), Shape(kF64, {3})}), "bool[4,3]");
  EXPECT_EQ(InferString(OpKind::kEq, {Shape(kB, {2}), Shape(kB, {2})}), "bool[2]");
}

TEST(ShapeInferenceTest, BinaryBoolRequiresBool) {
  EXPECT_EQ(ErrorOf(OpKind::kLogicalAnd, {Shape(kB, {2}), Shape(kI32, {2})}),
            "logical_and: expected a bool operand, got i32[2]");
}

TEST(ShapeInferenceTest, WhereBroadcastsAllThree) {
  EXPECT_EQ(
      InferString(OpKind::kWhere, {Shape(kB, {3, 1, 1}), Shape(kI32, {4, 1}), Shape(kI32, {5})}),
      "i32[3,4,5]");
  EXPECT_EQ(ErrorOf(OpKind::kWhere, {Shape(kF32, {2}), Shape(kF32, {2}), Shape(kF32, {2})}),
            "where: expected a bool operand, got f32[2]");
  EXPECT_THAT(ErrorOf(OpKind::kWhere, {Shape(kB, {3}), Shape(kF32, {4}), Shape(kF32, {1})}),
              HasSubstr("where: cannot broadcast bool[3] with f32[4]"));
}

TEST(ShapeInferenceTest, CastChangesOnlyDType) {
  EXPECT_EQ(InferString(OpKind::kCast, {Shape(kF64, {0, 2})}, Attributes().Set("dtype", kI32)),
            "i32[0,2]");
  EXPECT_EQ(ErrorOf(OpKind::kCast, {Shape(kF32, {2})}, Attributes().Set("dtype", DType::kBF16)),
            "cast: dtype bf16 is reserved and not supported by any op yet");
}

TEST(ShapeInferenceTest, ReservedDTypesAreRejected) {
  const Shape h(DType::kF16, {2});
  EXPECT_EQ(ErrorOf(OpKind::kExp, {h}),
            "exp: dtype f16 is reserved and not supported by any op yet: f16[2]");
  EXPECT_THAT(ErrorOf(OpKind::kAdd, {h, h}), HasSubstr("add: dtype f16 is reserved"));
  EXPECT_THAT(ErrorOf(OpKind::kCast, {Shape(DType::kBF16, {2})}, Attributes().Set("dtype", kF32)),
              HasSubstr("cast: dtype bf16 is reserved"));
  EXPECT_THAT(ErrorOf(OpKind::kReshape, {h}, Attributes().Set("sizes", std::vector<int64_t>{2})),
              HasSubstr("reshape: dtype f16 is reserved"));
  EXPECT_THAT(
      ErrorOf(OpKind::kConstant, {}, Attributes().Set("value", 1.0).Set("dtype", DType::kF16)),
      HasSubstr("constant: dtype f16 is reserved"));
  EXPECT_THAT(ErrorOf(OpKind::kEq, {h, h}), HasSubstr("eq: dtype f16 is reserved"));
}

// --- Attributes -----------------------------------------------------------------------

TEST(ShapeInferenceTest, MissingAttribute) {
  EXPECT_EQ(ErrorOf(OpKind::kSum, {Shape(kF32, {2})}, Attributes().Set("keepdim", true)),
            "sum: missing attribute 'dims' (an integer list)");
  EXPECT_EQ(ErrorOf(OpKind::kCast, {Shape(kF32, {2})}),
            "cast: missing attribute 'dtype' (a dtype)");
}

TEST(ShapeInferenceTest, WronglyTypedAttribute) {
  EXPECT_EQ(ErrorOf(OpKind::kSum, {Shape(kF32, {2})},
                    Attributes().Set("dims", int64_t{0}).Set("keepdim", true)),
            "sum: attribute 'dims' must be an integer list, got 0");
  EXPECT_EQ(
      ErrorOf(OpKind::kConstant, {}, Attributes().Set("value", int64_t{1}).Set("dtype", kF32)),
      "constant: attribute 'value' must be a float, got 1");
  EXPECT_EQ(ErrorOf(OpKind::kSlice, {Shape(kF32, {4})},
                    Attributes()
                        .Set("dim", 0.0)
                        .Set("start", int64_t{0})
                        .Set("end", int64_t{1})
                        .Set("step", int64_t{1})),
            "slice: attribute 'dim' must be an integer, got 0.0");
  EXPECT_EQ(ErrorOf(OpKind::kArgmax, {Shape(kF32, {4})},
                    Attributes().Set("dim", int64_t{0}).Set("keepdim", int64_t{1})),
            "argmax: attribute 'keepdim' must be a bool, got 1");
}

TEST(ShapeInferenceTest, UnexpectedAttribute) {
  EXPECT_EQ(
      ErrorOf(OpKind::kAdd, {Shape(kF32, {2}), Shape(kF32, {2})}, Attributes().Set("alpha", 2.0)),
      "add: unexpected attribute 'alpha'");
}

// --- Leaves with inferred shapes -----------------------------------------------------

TEST(ShapeInferenceTest, ConstantIsZeroDimensional) {
  EXPECT_EQ(InferString(OpKind::kConstant, {}, Attributes().Set("value", -2.0).Set("dtype", kB)),
            "bool[]");
}

TEST(ShapeInferenceTest, Arange) {
  Attributes a =
      Attributes().Set("start", 1.0).Set("step", 0.5).Set("size", int64_t{0}).Set("dtype", kF32);
  EXPECT_EQ(InferString(OpKind::kArange, {}, a), "f32[0]");
  a.Set("size", int64_t{-1});
  EXPECT_EQ(ErrorOf(OpKind::kArange, {}, a), "arange: size must be >= 0, got -1");
  a.Set("size", int64_t{3}).Set("dtype", kB);
  EXPECT_THAT(ErrorOf(OpKind::kArange, {}, a), HasSubstr("arange: expected a numeric dtype"));
}

TEST(ShapeInferenceTest, RandUniform) {
  const Shape key(kI64, {});
  Attributes a = Attributes().Set("sizes", std::vector<int64_t>{0, 2}).Set("dtype", kF64);
  EXPECT_EQ(InferString(OpKind::kRandUniform, {key}, a), "f64[0,2]");
  EXPECT_EQ(ErrorOf(OpKind::kRandUniform, {Shape(kI32, {})}, a),
            "rand_uniform: expected a 0-d i64 key, got i32[]");
  EXPECT_EQ(ErrorOf(OpKind::kRandUniform, {Shape(kI64, {1})}, a),
            "rand_uniform: expected a 0-d i64 key, got i64[1]");
  a.Set("dtype", kI32);
  EXPECT_EQ(ErrorOf(OpKind::kRandUniform, {key}, a),
            "rand_uniform: expected a floating dtype (f32 or f64), got i32");
  a.Set("dtype", kF32).Set("sizes", std::vector<int64_t>{3, -1});
  EXPECT_EQ(ErrorOf(OpKind::kRandUniform, {key}, a),
            "rand_uniform: sizes=[3,-1] has a negative size");
}

// --- Reductions -----------------------------------------------------------------------

TEST(ShapeInferenceTest, ReduceKeepdimAndDrop) {
  const Shape x(kF32, {2, 3, 4});
  EXPECT_EQ(InferString(OpKind::kSum, {x}, Dims({0, 2}, false)), "f32[3]");
  EXPECT_EQ(InferString(OpKind::kSum, {x}, Dims({2, 0}, true)), "f32[1,3,1]");
  EXPECT_EQ(InferString(OpKind::kMax, {x}, Dims({0, 1, 2}, false)), "f32[]");
  EXPECT_EQ(InferString(OpKind::kMin, {x}, Dims({}, false)), "f32[2,3,4]");
  EXPECT_EQ(InferString(OpKind::kSum, {Shape(kI64, {})}, Dims({}, true)), "i64[]");
}

TEST(ShapeInferenceTest, ReduceDimsValidated) {
  const Shape x(kF32, {2, 3});
  EXPECT_EQ(ErrorOf(OpKind::kSum, {x}, Dims({2}, false)),
            "sum: dims=[2] out of range for f32[2,3] (expected 0 <= dim < 2)");
  EXPECT_THAT(ErrorOf(OpKind::kSum, {x}, Dims({-1}, false)),
              HasSubstr("sum: dims=[-1] out of range"));
  EXPECT_EQ(ErrorOf(OpKind::kMax, {x}, Dims({1, 1}, false)), "max: dims=[1,1] repeats dimension 1");
}

TEST(ShapeInferenceTest, ReduceDTypes) {
  EXPECT_EQ(ErrorOf(OpKind::kMean, {Shape(kI32, {4})}, Dims({0}, false)),
            "mean: expected a floating dtype, got i32[4]");
  EXPECT_EQ(InferString(OpKind::kSum, {Shape(kI32, {4})}, Dims({0}, false)), "i32[]");
  EXPECT_THAT(ErrorOf(OpKind::kSum, {Shape(kB, {4})}, Dims({0}, false)),
              HasSubstr("sum: expected a numeric dtype"));
}

TEST(ShapeInferenceTest, ReduceEmptyExtent) {
  const Shape empty(kF32, {3, 0});
  EXPECT_EQ(ErrorOf(OpKind::kMax, {empty}, Dims({1}, false)),
            "max: cannot reduce over an empty dimension 1 of f32[3,0]");
  EXPECT_THAT(ErrorOf(OpKind::kMin, {empty}, Dims({0, 1}, true)),
              HasSubstr("min: cannot reduce over an empty dimension 1"));
  // Sum, mean and prod have identities (0, 0/0 = nan and 1), so they accept empty extents.
  EXPECT_EQ(InferString(OpKind::kSum, {empty}, Dims({1}, false)), "f32[3]");
  EXPECT_EQ(InferString(OpKind::kMean, {empty}, Dims({1}, true)), "f32[3,1]");
  EXPECT_EQ(InferString(OpKind::kProd, {empty}, Dims({0, 1}, false)), "f32[]");
  // Reducing a non-empty dimension of an empty tensor is fine even for max.
  EXPECT_EQ(InferString(OpKind::kMax, {empty}, Dims({0}, false)), "f32[0]");
}

TEST(ShapeInferenceTest, Argmax) {
  const Shape x(kF64, {2, 5, 3});
  auto attrs = [](int64_t dim, bool keep) {
    return Attributes().Set("dim", dim).Set("keepdim", keep);
  };
  EXPECT_EQ(InferString(OpKind::kArgmax, {x}, attrs(1, true)), "i64[2,1,3]");
  EXPECT_EQ(InferString(OpKind::kArgmax, {Shape(kI32, {4})}, attrs(0, false)), "i64[]");
  EXPECT_EQ(ErrorOf(OpKind::kArgmax, {x}, attrs(3, false)),
            "argmax: dim=3 is out of range for f64[2,5,3] (expected 0 <= dim < 3)");
  EXPECT_EQ(ErrorOf(OpKind::kArgmax, {Shape(kF32, {2, 0})}, attrs(1, false)),
            "argmax: cannot reduce over an empty dimension 1 of f32[2,0]");
}

// --- Matmul -------------------------------------------------------------------------

TEST(ShapeInferenceTest, MatmulBatchBroadcast) {
  EXPECT_EQ(InferString(OpKind::kMatmul, {Shape(kF32, {7, 1, 2, 3}), Shape(kF32, {4, 3, 5})}),
            "f32[7,4,2,5]");
  EXPECT_EQ(InferString(OpKind::kMatmul, {Shape(kI64, {2, 0}), Shape(kI64, {0, 4})}), "i64[2,4]");
  EXPECT_EQ(InferString(OpKind::kMatmul, {Shape(kF64, {3, 2, 4}), Shape(kF64, {4, 1})}),
            "f64[3,2,1]");
}

TEST(ShapeInferenceTest, MatmulErrors) {
  EXPECT_EQ(ErrorOf(OpKind::kMatmul, {Shape(kF32, {2, 3}), Shape(kF32, {4, 5})}),
            "matmul: inner sizes differ: f32[2,3] x f32[4,5] (3 vs 4)");
  EXPECT_EQ(ErrorOf(OpKind::kMatmul, {Shape(kF32, {3}), Shape(kF32, {3, 2})}),
            "matmul: expected operands of rank >= 2, got f32[3] x f32[3,2]");
  EXPECT_EQ(ErrorOf(OpKind::kMatmul, {Shape(kF32, {2, 3}), Shape(kF64, {3, 2})}),
            "matmul: operand dtypes differ: f32[2,3] vs f64[3,2] (cast first)");
  EXPECT_THAT(ErrorOf(OpKind::kMatmul, {Shape(kB, {2, 2}), Shape(kB, {2, 2})}),
              HasSubstr("matmul: expected a numeric dtype"));
  EXPECT_EQ(ErrorOf(OpKind::kMatmul, {Shape(kF32, {2, 2, 3}), Shape(kF32, {3, 3, 4})}),
            "matmul: cannot broadcast the batch dimensions of f32[2,2,3] with f32[3,3,4]: "
            "dimension sizes 2 and 3 differ and neither is 1");
}

// --- Views and data movement ------------------------------------------------------------

Attributes Sizes_(std::vector<int64_t> sizes) {
  return Attributes().Set("sizes", std::move(sizes));
}

TEST(ShapeInferenceTest, Reshape) {
  EXPECT_EQ(InferString(OpKind::kReshape, {Shape(kI32, {2, 3, 4})}, Sizes_({6, 4})), "i32[6,4]");
  EXPECT_EQ(InferString(OpKind::kReshape, {Shape(kF32, {1})}, Sizes_({})), "f32[]");
  EXPECT_EQ(InferString(OpKind::kReshape, {Shape(kF32, {0, 5})}, Sizes_({5, 0, 7})), "f32[5,0,7]");
  EXPECT_EQ(ErrorOf(OpKind::kReshape, {Shape(kF32, {2, 3})}, Sizes_({4, 2})),
            "reshape: cannot reshape f32[2,3] (6 elements) to [4,2]");
  EXPECT_EQ(ErrorOf(OpKind::kReshape, {Shape(kF32, {6})}, Sizes_({-1, 6})),
            "reshape: sizes=[-1,6] has a negative size");
  // A product that wraps around int64 to the right value must not pass.
  EXPECT_THAT(ErrorOf(OpKind::kReshape, {Shape(kF32, {1})},
                      Sizes_({int64_t{1} << 32, int64_t{1} << 32, 1})),
              HasSubstr("reshape: cannot reshape f32[1]"));
}

TEST(ShapeInferenceTest, Permute) {
  auto perm = [](std::vector<int64_t> p) { return Attributes().Set("perm", std::move(p)); };
  EXPECT_EQ(InferString(OpKind::kPermute, {Shape(kF32, {2, 3, 4})}, perm({2, 0, 1})), "f32[4,2,3]");
  EXPECT_EQ(ErrorOf(OpKind::kPermute, {Shape(kF32, {2, 3})}, perm({0, 0})),
            "permute: perm=[0,0] is not a permutation of the 2 dimensions of f32[2,3]");
  EXPECT_THAT(ErrorOf(OpKind::kPermute, {Shape(kF32, {2, 3})}, perm({0})),
              HasSubstr("permute: perm=[0] is not a permutation"));
  EXPECT_THAT(ErrorOf(OpKind::kPermute, {Shape(kF32, {2, 3})}, perm({0, 2})),
              HasSubstr("permute: perm=[0,2] is not a permutation"));
}

TEST(ShapeInferenceTest, Expand) {
  EXPECT_EQ(InferString(OpKind::kExpand, {Shape(kF32, {})}, Sizes_({2, 2})), "f32[2,2]");
  EXPECT_EQ(InferString(OpKind::kExpand, {Shape(kF32, {1, 3})}, Sizes_({0, 3})), "f32[0,3]");
  EXPECT_EQ(ErrorOf(OpKind::kExpand, {Shape(kF32, {2, 3})}, Sizes_({2, 4})),
            "expand: cannot expand f32[2,3] to [2,4]: dimension 1 has size 3, expected 4 or 1");
  EXPECT_EQ(ErrorOf(OpKind::kExpand, {Shape(kF32, {2, 3})}, Sizes_({3})),
            "expand: cannot expand f32[2,3] to fewer dimensions: sizes=[3]");
  EXPECT_EQ(ErrorOf(OpKind::kExpand, {Shape(kF32, {1})}, Sizes_({-1})),
            "expand: sizes=[-1] has a negative size");
}

TEST(ShapeInferenceTest, Slice) {
  const Shape x(kF32, {10, 4});
  EXPECT_EQ(InferString(OpKind::kSlice, {x}, SliceAttrs(0, 2, 9, 3)), "f32[3,4]");  // 2,5,8
  EXPECT_EQ(InferString(OpKind::kSlice, {x}, SliceAttrs(0, 2, 8, 3)), "f32[2,4]");  // 2,5
  EXPECT_EQ(InferString(OpKind::kSlice, {x}, SliceAttrs(1, 4, 4, 1)), "f32[10,0]");
  EXPECT_EQ(
      InferString(OpKind::kSlice, {x}, SliceAttrs(0, 0, 10, std::numeric_limits<int64_t>::max())),
      "f32[1,4]");
  EXPECT_EQ(ErrorOf(OpKind::kSlice, {x}, SliceAttrs(0, 0, 1, 0)), "slice: step must be > 0, got 0");
  EXPECT_EQ(ErrorOf(OpKind::kSlice, {x}, SliceAttrs(1, 0, 5, 1)),
            "slice: bounds start=0 end=5 out of range for dimension 1 of f32[10,4] (expected 0 <= "
            "start <= end <= 4)");
  EXPECT_THAT(ErrorOf(OpKind::kSlice, {x}, SliceAttrs(0, 3, 2, 1)), HasSubstr("start=3 end=2"));
  EXPECT_THAT(ErrorOf(OpKind::kSlice, {x}, SliceAttrs(2, 0, 1, 1)),
              HasSubstr("slice: dim=2 is out of range for f32[10,4]"));
}

TEST(ShapeInferenceTest, Concat) {
  EXPECT_EQ(InferString(OpKind::kConcat,
                        {Shape(kI32, {2, 3}), Shape(kI32, {2, 0}), Shape(kI32, {2, 5})}, Dim(1)),
            "i32[2,8]");
  EXPECT_EQ(InferString(OpKind::kConcat, {Shape(kF32, {4})}, Dim(0)), "f32[4]");
  EXPECT_EQ(
      ErrorOf(OpKind::kConcat, {Shape(kF32, {2, 3}), Shape(kF32, {3, 3})}, Dim(1)),
      "concat: operand sizes differ in dimension 0 (only dim=1 may differ): f32[2,3], f32[3,3]");
  EXPECT_EQ(ErrorOf(OpKind::kConcat, {Shape(kF32, {2}), Shape(kF64, {2})}, Dim(0)),
            "concat: operand dtypes differ: f32[2], f64[2] (cast first)");
  EXPECT_EQ(ErrorOf(OpKind::kConcat, {Shape(kF32, {2}), Shape(kF32, {2, 1})}, Dim(0)),
            "concat: operand ranks differ: f32[2], f32[2,1]");
  EXPECT_THAT(ErrorOf(OpKind::kConcat, {Shape(kF32, {})}, Dim(0)),
              HasSubstr("concat: dim=0 is out of range for f32[]"));
}

TEST(ShapeInferenceTest, Pad) {
  auto pad = [](std::vector<int64_t> pads) {
    return Attributes().Set("pads", std::move(pads)).Set("value", 0.5);
  };
  EXPECT_EQ(InferString(OpKind::kPad, {Shape(kF32, {2, 3})}, pad({0, 0, 2, 1})), "f32[2,6]");
  EXPECT_EQ(InferString(OpKind::kPad, {Shape(kF32, {4})}, pad({-1, -3})), "f32[0]");
  EXPECT_EQ(ErrorOf(OpKind::kPad, {Shape(kF32, {4})}, pad({-3, -2})),
            "pad: pads=[-3,-2] give dimension 0 of f32[4] an invalid size (expected >= 0)");
  EXPECT_EQ(ErrorOf(OpKind::kPad, {Shape(kF32, {2, 3})}, pad({1, 1})),
            "pad: pads=[1,1] must have 2 entries per dimension of f32[2,3] (4), got 2");
  EXPECT_THAT(
      ErrorOf(OpKind::kPad, {Shape(kF32, {4})}, pad({std::numeric_limits<int64_t>::max(), 1})),
      HasSubstr("invalid size"));
}

// --- Indexing -----------------------------------------------------------------------

TEST(ShapeInferenceTest, Gather) {
  const Shape x(kF32, {3, 4});
  EXPECT_EQ(InferString(OpKind::kGather, {x, Shape(kI32, {2, 9})}, Dim(1)), "f32[2,9]");
  EXPECT_EQ(InferString(OpKind::kGather, {Shape(kB, {3, 4}), Shape(kI64, {5, 4})}, Dim(0)),
            "bool[5,4]");
  EXPECT_EQ(ErrorOf(OpKind::kGather, {x, Shape(kI64, {4, 1})}, Dim(1)),
            "gather: index i64[4,1] is larger than the input f32[3,4] in dimension 0 (4 > 3)");
  EXPECT_EQ(ErrorOf(OpKind::kGather, {x, Shape(kF32, {3, 4})}, Dim(1)),
            "gather: expected an i32 or i64 index, got f32[3,4]");
  EXPECT_EQ(ErrorOf(OpKind::kGather, {x, Shape(kI64, {3})}, Dim(0)),
            "gather: index i64[3] must have the rank of the input f32[3,4]");
  // An empty dimension has no index in range; an empty index needs none.
  EXPECT_EQ(ErrorOf(OpKind::kGather, {Shape(kF32, {0, 2}), Shape(kI64, {2, 1})}, Dim(0)),
            "gather: index i64[2,1] indexes dimension 0 of f32[0,2], which is empty: every "
            "index is out of range");
  EXPECT_EQ(InferString(OpKind::kGather, {Shape(kF32, {0, 2}), Shape(kI64, {0, 2})}, Dim(0)),
            "f32[0,2]");
}

TEST(ShapeInferenceTest, IndexSelect) {
  const Shape x(kF64, {3, 4, 5});
  EXPECT_EQ(InferString(OpKind::kIndexSelect, {x, Shape(kI64, {0})}, Dim(2)), "f64[3,4,0]");
  EXPECT_EQ(ErrorOf(OpKind::kIndexSelect, {x, Shape(kI64, {2, 2})}, Dim(0)),
            "index_select: expected a 1-d index, got i64[2,2] for input f64[3,4,5]");
  EXPECT_EQ(ErrorOf(OpKind::kIndexSelect, {x, Shape(kB, {2})}, Dim(0)),
            "index_select: expected an i32 or i64 index, got bool[2]");
  EXPECT_THAT(ErrorOf(OpKind::kIndexSelect, {x, Shape(kI32, {2})}, Dim(3)),
              HasSubstr("index_select: dim=3 is out of range"));
  EXPECT_THAT(ErrorOf(OpKind::kIndexSelect, {Shape(kF32, {0}), Shape(kI32, {5})}, Dim(0)),
              HasSubstr("which is empty: every index is out of range"));
}

TEST(ShapeInferenceTest, ScatterAdd) {
  const Shape self(kF32, {3, 4});
  EXPECT_EQ(
      InferString(OpKind::kScatterAdd, {self, Shape(kI64, {5, 2}), Shape(kF32, {6, 2})}, Dim(0)),
      "f32[3,4]");
  EXPECT_EQ(ErrorOf(OpKind::kScatterAdd, {self, Shape(kI64, {2, 5}), Shape(kF32, {2, 5})}, Dim(0)),
            "scatter_add: index i64[2,5] is larger than self f32[3,4] in dimension 1 (5 > 4)");
  EXPECT_EQ(ErrorOf(OpKind::kScatterAdd, {self, Shape(kI64, {3, 2}), Shape(kF32, {2, 2})}, Dim(1)),
            "scatter_add: index i64[3,2] is larger than src f32[2,2] in dimension 0 (3 > 2)");
  EXPECT_EQ(ErrorOf(OpKind::kScatterAdd, {self, Shape(kI64, {1, 1}), Shape(kF64, {1, 1})}, Dim(0)),
            "scatter_add: operand dtypes differ: f32[3,4] vs f64[1,1] (cast first)");
  EXPECT_EQ(ErrorOf(OpKind::kScatterAdd, {self, Shape(kI64, {1}), Shape(kF32, {1, 1})}, Dim(0)),
            "scatter_add: self, index and src must have one rank, got f32[3,4], i64[1], f32[1,1]");
  EXPECT_THAT(
      ErrorOf(OpKind::kScatterAdd, {Shape(kB, {2}), Shape(kI64, {1}), Shape(kB, {1})}, Dim(0)),
      HasSubstr("scatter_add: expected a numeric dtype"));
  EXPECT_THAT(ErrorOf(OpKind::kScatterAdd,
                      {Shape(kF32, {0, 2}), Shape(kI64, {2, 2}), Shape(kF32, {3, 2})}, Dim(0)),
              HasSubstr("which is empty: every index is out of range"));
}

// --- Sizes that cannot be counted -------------------------------------------------------

TEST(ShapeInferenceTest, OutputElementCountMustFitInt64) {
  const int64_t big = int64_t{1} << 40;
  EXPECT_EQ(
      ErrorOf(OpKind::kAdd, {Shape(kF32, {big, 1}), Shape(kF32, {1, big})}),
      "add: output shape f32[1099511627776,1099511627776] has more bytes than int64 can count");
  EXPECT_THAT(ErrorOf(OpKind::kExpand, {Shape(kF64, {1})}, Sizes_({big, big})),
              HasSubstr("expand: output shape f64[1099511627776,1099511627776] has more bytes"));
  // An empty dimension makes the element count 0 whatever the others are.
  EXPECT_EQ(InferString(OpKind::kExpand, {Shape(kF64, {1})}, Sizes_({big, big, 0})),
            "f64[1099511627776,1099511627776,0]");
}

}  // namespace
}  // namespace kiln
