#pragma once
// The one list of op kinds. Each entry: enum name, text name (as printed in IR text),
// operand count (-1 = one or more), the shape-inference function (ir/shape_inference.h)
// and the attribute schema.
//
// Typing rules at the IR level are strict and explicit: the operands of an elementwise
// op have one dtype (the lazy API inserts `cast` nodes to promote), shapes broadcast
// NumPy-style (aligned at the trailing dimension, size 1 stretches), and axes in
// attributes are already normalised to 0 <= axis < rank.
//
// Conversions (cast, and scalars/constants taking their leaf's dtype) are defined on
// every backend alike: float -> integer truncates toward zero and clamps to the target
// range, NaN -> 0; integer -> narrower integer wraps; anything -> bool is `!= 0`.
// Integer add/sub/mul/neg/abs/pow wrap on overflow.
#include <cstdint>
#include <optional>
#include <string_view>

namespace kiln {

// X(Name, "text", operand_count, InferFunction)   // attributes
#define KILN_FOR_EACH_OP(X)                                                                     \
  /* Leaves. Their shape is given, not inferred. */                                             \
  X(DeviceData, "device_data", 0, InferLeaf) /* a parameter: a backend buffer       */          \
  X(Scalar, "scalar", 0, InferLeaf)          /* a 0-d runtime parameter             */          \
  X(Constant, "constant", 0, InferConstant)  /* value:f64 dtype: baked into code    */          \
  X(Arange, "arange", 0, InferArange)        /* start:f64 step:f64 size:i dtype     */          \
  /* Random numbers: Philox4x32-10 of (key, element index), codegen/kernel_numerics.h. */       \
  X(RandUniform, "rand_uniform", 1, InferRandUniform) /* sizes:[i] dtype; (i64 0-d key) */      \
  /* Unary elementwise. */                                                                      \
  X(Neg, "neg", 1, InferUnaryNumeric)                                                           \
  X(Abs, "abs", 1, InferUnaryNumeric)                                                           \
  X(Exp, "exp", 1, InferUnaryFloat)                                                             \
  X(Log, "log", 1, InferUnaryFloat)                                                             \
  X(Sqrt, "sqrt", 1, InferUnaryFloat)                                                           \
  X(Rsqrt, "rsqrt", 1, InferUnaryFloat)                                                         \
  X(Tanh, "tanh", 1, InferUnaryFloat)                                                           \
  X(Erf, "erf", 1, InferUnaryFloat)                                                             \
  X(Sigmoid, "sigmoid", 1, InferUnaryFloat)                                                     \
  X(Relu, "relu", 1, InferUnaryNumeric)                                                         \
  X(Sin, "sin", 1, InferUnaryFloat)                                                             \
  X(Cos, "cos", 1, InferUnaryFloat)                                                             \
  X(Floor, "floor", 1, InferUnaryFloat)                                                         \
  X(Ceil, "ceil", 1, InferUnaryFloat)                                                           \
  X(Round, "round", 1, InferUnaryFloat) /* to nearest, ties to even            */               \
  X(LogicalNot, "logical_not", 1, InferUnaryBool)                                               \
  X(Cast, "cast", 1, InferCast) /* dtype                               */                       \
  /* Binary elementwise, broadcasting; operands share one dtype. */                             \
  X(Add, "add", 2, InferBinaryNumeric)                                                          \
  X(Sub, "sub", 2, InferBinaryNumeric)                                                          \
  X(Mul, "mul", 2, InferBinaryNumeric)                                                          \
  X(Div, "div", 2, InferBinaryNumeric) /* integers: truncates toward zero     */                \
  X(Pow, "pow", 2, InferBinaryNumeric)                                                          \
  X(Maximum, "maximum", 2, InferBinaryNumeric)                                                  \
  X(Minimum, "minimum", 2, InferBinaryNumeric)                                                  \
  X(Eq, "eq", 2, InferCompare) /* comparisons produce bool            */                        \
  X(Ne, "ne", 2, InferCompare)                                                                  \
  X(Lt, "lt", 2, InferCompare)                                                                  \
  X(Le, "le", 2, InferCompare)                                                                  \
  X(Gt, "gt", 2, InferCompare)                                                                  \
  X(Ge, "ge", 2, InferCompare)                                                                  \
  X(LogicalAnd, "logical_and", 2, InferBinaryBool)                                              \
  X(LogicalOr, "logical_or", 2, InferBinaryBool)                                                \
  X(Where, "where", 3, InferWhere) /* (bool cond, a, b), all broadcast    */                    \
  /* Reductions over a set of axes. */                                                          \
  X(Sum, "sum", 1, InferReduce)       /* dims:[i] keepdim:bool               */                 \
  X(Mean, "mean", 1, InferReduce)     /* dims:[i] keepdim:bool; floats only  */                 \
  X(Prod, "prod", 1, InferReduce)     /* dims:[i] keepdim:bool               */                 \
  X(Max, "max", 1, InferReduce)       /* dims:[i] keepdim:bool               */                 \
  X(Min, "min", 1, InferReduce)       /* dims:[i] keepdim:bool               */                 \
  X(Argmax, "argmax", 1, InferArgmax) /* dim:i keepdim:bool; -> i64          */                 \
  /* Linear algebra: [..., m, k] x [..., k, n], batch dimensions broadcast. */                  \
  X(Matmul, "matmul", 2, InferMatmul)                                                           \
  /* Views and data movement. */                                                                \
  X(Reshape, "reshape", 1, InferReshape) /* sizes:[i] (no -1: resolved)         */              \
  X(Permute, "permute", 1, InferPermute) /* perm:[i]                            */              \
  X(Expand, "expand", 1, InferExpand)    /* sizes:[i] (broadcast_to)            */              \
  X(Slice, "slice", 1, InferSlice)       /* dim:i start:i end:i step:i (>0)     */              \
  X(Concat, "concat", -1, InferConcat)   /* dim:i                               */              \
  X(Pad, "pad", 1, InferPad)             /* pads:[lo0,hi0,lo1,hi1,..] value:f64 */              \
  /* Indexing; index operands are i32 or i64. */                                                \
  X(Gather, "gather", 2, InferGather)                 /* dim:i (input, index)                */ \
  X(IndexSelect, "index_select", 2, InferIndexSelect) /* dim:i (input, 1-d index)     */        \
  X(ScatterAdd, "scatter_add", 3, InferScatterAdd)    /* dim:i (self, index, src)     */

enum class OpKind : uint16_t {
#define KILN_OP_ENUM(name, text, arity, infer) k##name,
  KILN_FOR_EACH_OP(KILN_OP_ENUM)
#undef KILN_OP_ENUM
};

inline constexpr int kNumOpKinds = 0
#define KILN_OP_COUNT(name, text, arity, infer) +1
    KILN_FOR_EACH_OP(KILN_OP_COUNT)
#undef KILN_OP_COUNT
    ;

// The text name, e.g. "index_select" (a C string: see DTypeName).
const char* OpName(OpKind op);
std::optional<OpKind> ParseOpKind(std::string_view name);
// Number of operands; -1 for variadic ops (concat). Inline: node creation and shape
// inference both check it for every traced op.
inline int OpArity(OpKind op) {
  constexpr signed char kArity[] = {
#define KILN_OP_ARITY(name, text, arity, infer) arity,
      KILN_FOR_EACH_OP(KILN_OP_ARITY)
#undef KILN_OP_ARITY
  };
  return kArity[static_cast<int>(op)];
}
// DeviceData and Scalar: the leaves whose values are supplied at run time.
inline bool IsParameter(OpKind op) { return op == OpKind::kDeviceData || op == OpKind::kScalar; }
inline bool IsLeaf(OpKind op) { return OpArity(op) == 0; }
// Reduces over `dims` (sum, mean, max, min, argmax).
inline bool IsReduction(OpKind op) {
  return op == OpKind::kSum || op == OpKind::kMean || op == OpKind::kProd || op == OpKind::kMax ||
         op == OpKind::kMin || op == OpKind::kArgmax;
}

}  // namespace kiln
