// Unary, binary, comparison, logical and where ops, cast, and the Tensor operators.
// Promotion happens here, so the IR only ever sees operands of one dtype.
#include <cmath>
#include <limits>
#include <optional>
#include <string>
#include <string_view>

#include "lazy/op_utils.h"
#include "lazy/ops.h"
#include "lazy/scalar_tensor.h"
#include "lazy/tensor_impl.h"

namespace kiln {
namespace {

using internal::ArangeTensor;
using internal::BroadcastOrThrow;
using internal::CastOrSelf;
using internal::CastTo;
using internal::CheckOperand;
using internal::CheckSameBackend;
using internal::ConstantTensor;
using internal::RecordScalarOp;
using internal::ScalarTensor;
using internal::ThrowOpError;

bool IsCompare(OpKind op) {
  return op == OpKind::kEq || op == OpKind::kNe || op == OpKind::kLt || op == OpKind::kLe ||
         op == OpKind::kGt || op == OpKind::kGe;
}

bool IsLogical(OpKind op) { return op == OpKind::kLogicalAnd || op == OpKind::kLogicalOr; }

// abs, neg, relu: any numeric dtype, computed in that dtype; bool is rejected as in
// PyTorch (negating a bool has no meaning).
void CheckNumericOperand(OpKind op, const Tensor& x) {
  CheckOperand(OpName(op), x);
  if (x.dtype() == DType::kBool) {
    ThrowOpError(OpName(op), ": expected a numeric dtype (i32, i64, f32 or f64), got ",
                 x.shape().ToString());
  }
}

Tensor UnaryNumeric(OpKind op, const Tensor& x, const CallSite& site) {
  CheckNumericOperand(op, x);
  return RecordOp(op, {x}, {}, site);
}

// floor, ceil, round: integral values are already rounded.
Tensor Rounding(OpKind op, const Tensor& x, const CallSite& site) {
  CheckNumericOperand(op, x);
  return IsFloating(x.dtype()) ? RecordOp(op, {x}, {}, site) : x;
}

// exp, log, ...: integer and bool inputs are computed in f32.
Tensor UnaryFloat(OpKind op, const Tensor& x, const CallSite& site) {
  CheckOperand(OpName(op), x);
  const DType dtype = IsFloating(x.dtype()) ? x.dtype() : DType::kF32;
  return RecordOp(op, {CastTo(x, dtype, site)}, {}, site);
}

// The op and dtype a binary op is recorded with, given the promoted dtype of its
// operands. Decided before anything is recorded, so a rejected combination leaves no IR.
struct BinaryPlan {
  OpKind op;
  DType dtype;
};

// nullopt: the op has no meaning for two bool operands (sub, pow).
std::optional<BinaryPlan> PlanBinary(OpKind op, DType promoted) {
  if (IsLogical(op)) return BinaryPlan{op, DType::kBool};
  if (op == OpKind::kDiv && !IsFloating(promoted)) return BinaryPlan{op, DType::kF32};
  if (promoted != DType::kBool || IsCompare(op)) return BinaryPlan{op, promoted};
  // PyTorch's bool arithmetic: + and max are "or", * and min are "and".
  switch (op) {
    case OpKind::kAdd:
    case OpKind::kMaximum:
      return BinaryPlan{OpKind::kLogicalOr, DType::kBool};
    case OpKind::kMul:
    case OpKind::kMinimum:
      return BinaryPlan{OpKind::kLogicalAnd, DType::kBool};
    default:
      return std::nullopt;
  }
}

[[noreturn]] void ThrowBoolOperands(OpKind op, std::string_view a, std::string_view b) {
  ThrowOpError(OpName(op), ": not supported for two bool operands (", a, " and ", b,
               "); cast one to an integer or floating dtype first");
}

std::string_view ScalarKindText(const Scalar& s) {
  switch (s.kind()) {
    case Scalar::Kind::kBool:
      return "a bool scalar";
    case Scalar::Kind::kInt:
      return "an int scalar";
    case Scalar::Kind::kFloat:
      return "a float scalar";
  }
  return "a scalar";
}

// Records `plan` on `a` and `b`, converting both to the plan's dtype. Operands that need
// no cast are passed by pointer, not copied: this is the hot path of tracing.
Tensor ApplyBinary(const BinaryPlan& plan, const Tensor& a, const Tensor& b, const CallSite& site) {
  Tensor a_cast;  // set only when `a` needs a cast node
  Tensor b_cast;
  return RecordOpByPtr(
      plan.op,
      {&CastOrSelf(a, plan.dtype, site, &a_cast), &CastOrSelf(b, plan.dtype, site, &b_cast)}, {},
      site);
}

// The common case of tracing, two operands of one usable dtype on one backend whose plan
// keeps that dtype: nothing to cast and nothing to check beyond what RecordOpByPtr and
// shape inference check anyway. Records exactly what the general path would; returns an
// undefined tensor (recording nothing) for every other case, including every error.
Tensor TryBinarySameDType(OpKind op, const Tensor& a, const Tensor& b, const CallSite& site) {
  if (!a.defined() || !b.defined()) return Tensor();
  const TensorImpl& ai = *a.impl();
  const TensorImpl& bi = *b.impl();
  const DType dtype = ai.shape().dtype();
  if (dtype != bi.shape().dtype() || IsReserved(dtype) || ai.backend() != bi.backend()) {
    return Tensor();
  }
  const std::optional<BinaryPlan> plan = PlanBinary(op, dtype);
  if (!plan || plan->dtype != dtype) return Tensor();
  return RecordOpByPtr(plan->op, {&a, &b}, {}, site);
}

Tensor Binary(OpKind op, const Tensor& a, const Tensor& b, const CallSite& site) {
  if (Tensor out = TryBinarySameDType(op, a, b, site); out.defined()) return out;
  const std::string_view name = OpName(op);
  const Shape& a_shape = CheckOperand(name, a, "first operand");
  const Shape& b_shape = CheckOperand(name, b, "second operand");
  CheckSameBackend(name, {&a, &b});
  const std::optional<BinaryPlan> plan =
      PlanBinary(op, PromoteTypes(a_shape.dtype(), b_shape.dtype()));
  if (!plan) ThrowBoolOperands(op, a_shape.ToString(), b_shape.ToString());
  // Without casts, shape inference reports a bad broadcast itself; with them, check first
  // so the message shows the operands' own dtypes.
  if (a_shape.dtype() != plan->dtype || b_shape.dtype() != plan->dtype) {
    BroadcastOrThrow(name, {&a_shape, &b_shape});
  }
  return ApplyBinary(*plan, a, b, site);
}

// A tensor and a Scalar: the scalar becomes a runtime leaf of the promoted dtype, placed
// on the side it was written on.
Tensor BinaryScalar(OpKind op, const Tensor& t, Scalar s, bool scalar_first, const CallSite& site) {
  CheckOperand(OpName(op), t, scalar_first ? "second operand" : "first operand");
  const std::optional<BinaryPlan> plan = PlanBinary(op, s.PromoteWith(t.dtype()));
  if (!plan) {
    const std::string tensor_text = t.shape().ToString();
    if (scalar_first) ThrowBoolOperands(op, ScalarKindText(s), tensor_text);
    ThrowBoolOperands(op, tensor_text, ScalarKindText(s));
  }
  // The leaf takes the computation dtype directly, so no cast node follows it; it goes
  // straight into the node, with no tensor of its own.
  Tensor t_cast;
  return RecordScalarOp(plan->op, CastOrSelf(t, plan->dtype, site, &t_cast), s.to_double(),
                        scalar_first, site);
}

// cond converted to bool; a and b already promoted to `dtype` or converted here.
Tensor ApplyWhere(const Tensor& cond, const Tensor& a, const Tensor& b, DType dtype,
                  const CallSite& site) {
  return RecordOp(
      OpKind::kWhere,
      {CastTo(cond, DType::kBool, site), CastTo(a, dtype, site), CastTo(b, dtype, site)}, {}, site);
}

// where with one Scalar branch; `scalar_is_a` says which branch it is.
Tensor WhereScalar(const Tensor& cond, const Tensor& t, Scalar s, bool scalar_is_a,
                   const CallSite& site) {
  CheckOperand("where", cond, "condition");
  CheckOperand("where", t, scalar_is_a ? "other" : "input");
  CheckSameBackend("where", {&cond, &t});
  BroadcastOrThrow("where", {&cond.shape(), &t.shape()});
  const DType dtype = s.PromoteWith(t.dtype());
  Tensor leaf = ScalarTensor(s.to_double(), dtype, t, site);
  return scalar_is_a ? ApplyWhere(cond, leaf, t, dtype, site)
                     : ApplyWhere(cond, t, leaf, dtype, site);
}

// Keeps the elements with j - i <= diagonal (lower) or >= diagonal of the last two
// dimensions [i, j]; the diagonal is a runtime Scalar, so a new one recompiles nothing.
Tensor Triangle(std::string_view op, const Tensor& x, int64_t diagonal, bool lower,
                const CallSite& site) {
  CheckOperand(op, x);
  if (x.dim() < 2) {
    ThrowOpError(op, ": expected at least 2 dimensions, got ", x.shape().ToString());
  }
  const Tensor i = unsqueeze(ArangeTensor(x.size(-2), DType::kI64, x, site), 1, site);
  const Tensor offset = sub(ArangeTensor(x.size(-1), DType::kI64, x, site), i, site);
  const Tensor keep = lower ? le(offset, diagonal, site) : ge(offset, diagonal, site);
  return where(keep, x, ConstantTensor(0, x.dtype(), x, site), site);
}

}  // namespace

// --- unary ---
Tensor neg(const Tensor& x, CallSite site) { return UnaryNumeric(OpKind::kNeg, x, site); }
Tensor abs(const Tensor& x, CallSite site) { return UnaryNumeric(OpKind::kAbs, x, site); }
Tensor relu(const Tensor& x, CallSite site) { return UnaryNumeric(OpKind::kRelu, x, site); }
Tensor sign(const Tensor& x, CallSite site) {
  CheckOperand("sign", x);
  if (x.dtype() == DType::kBool) return x;
  return sub(CastTo(gt(x, 0, site), x.dtype(), site), CastTo(lt(x, 0, site), x.dtype(), site),
             site);
}
Tensor exp(const Tensor& x, CallSite site) { return UnaryFloat(OpKind::kExp, x, site); }
Tensor log(const Tensor& x, CallSite site) { return UnaryFloat(OpKind::kLog, x, site); }
Tensor sqrt(const Tensor& x, CallSite site) { return UnaryFloat(OpKind::kSqrt, x, site); }
Tensor rsqrt(const Tensor& x, CallSite site) { return UnaryFloat(OpKind::kRsqrt, x, site); }
Tensor tanh(const Tensor& x, CallSite site) { return UnaryFloat(OpKind::kTanh, x, site); }
Tensor erf(const Tensor& x, CallSite site) { return UnaryFloat(OpKind::kErf, x, site); }
Tensor sigmoid(const Tensor& x, CallSite site) { return UnaryFloat(OpKind::kSigmoid, x, site); }
Tensor silu(const Tensor& x, CallSite site) {
  CheckOperand("silu", x);
  return mul(x, sigmoid(x, site), site);
}
Tensor sin(const Tensor& x, CallSite site) { return UnaryFloat(OpKind::kSin, x, site); }
Tensor cos(const Tensor& x, CallSite site) { return UnaryFloat(OpKind::kCos, x, site); }
Tensor floor(const Tensor& x, CallSite site) { return Rounding(OpKind::kFloor, x, site); }
Tensor ceil(const Tensor& x, CallSite site) { return Rounding(OpKind::kCeil, x, site); }
Tensor round(const Tensor& x, CallSite site) { return Rounding(OpKind::kRound, x, site); }

Tensor log1p(const Tensor& x, CallSite site) {
  CheckOperand("log1p", x);
  const Tensor xf = CastTo(x, IsFloating(x.dtype()) ? x.dtype() : DType::kF32, site);
  // Where 1 + x rounds, log(u) * x / (u - 1) with u = 1 + x corrects for the rounding
  // (Goldberg); for |x| > 0.5 there is nothing to correct. The small branch gets 0 in place
  // of a large x and 1 in place of a zero u - 1, so that neither branch's unused values
  // (inf / inf, 0 / 0) reach the gradient as 0 * NaN.
  const Tensor large = gt(abs(xf, site), 0.5, site);
  const Tensor small = where(large, 0, xf, site);
  const Tensor u = add(small, 1, site);
  const Tensor d = sub(u, 1, site);
  const Tensor exact = eq(d, 0, site);
  const Tensor corrected = mul(log(u, site), div(small, where(exact, 1, d, site), site), site);
  return where(large, log(add(xf, 1, site), site), where(exact, small, corrected, site), site);
}

Tensor expm1(const Tensor& x, CallSite site) {
  CheckOperand("expm1", x);
  const Tensor xf = CastTo(x, IsFloating(x.dtype()) ? x.dtype() : DType::kF32, site);
  // (u - 1) * x / log(u) with u = exp(x) (Kahan), where u - 1 cancels; guarded as log1p.
  const Tensor large = gt(abs(xf, site), 0.5, site);
  const Tensor small = where(large, 0, xf, site);
  const Tensor u = exp(small, site);
  const Tensor d = sub(u, 1, site);
  const Tensor exact = eq(d, 0, site);
  const Tensor corrected = mul(d, div(small, where(exact, 1, log(u, site), site), site), site);
  return where(large, sub(exp(xf, site), 1, site), where(exact, small, corrected, site), site);
}

// x != x is true for NaN only, and false everywhere for integers and bool.
Tensor isnan(const Tensor& x, CallSite site) {
  CheckOperand("isnan", x);
  return ne(x, x, site);
}

Tensor isinf(const Tensor& x, CallSite site) {
  CheckOperand("isinf", x);
  if (!IsFloating(x.dtype())) return ne(x, x, site);
  return eq(abs(x, site), std::numeric_limits<double>::infinity(), site);
}

Tensor isfinite(const Tensor& x, CallSite site) {
  CheckOperand("isfinite", x);
  if (!IsFloating(x.dtype())) return eq(x, x, site);
  return lt(abs(x, site), std::numeric_limits<double>::infinity(), site);
}

Tensor logical_not(const Tensor& x, CallSite site) {
  CheckOperand("logical_not", x);
  return RecordOp(OpKind::kLogicalNot, {CastTo(x, DType::kBool, site)}, {}, site);
}

Tensor cast(const Tensor& x, DType dtype, CallSite site) {
  CheckOperand("cast", x);
  if (IsReserved(dtype)) {
    ThrowOpError("cast: dtype ", DTypeName(dtype), " is not supported by any op yet (input is ",
                 x.shape().ToString(), ")");
  }
  return CastTo(x, dtype, site);
}

// --- binary ---
#define KILN_BINARY_TENSOR_AND_SCALAR(fn, kind)                            \
  Tensor fn(const Tensor& a, const Tensor& b, CallSite site) {             \
    return Binary(OpKind::kind, a, b, site);                               \
  }                                                                        \
  Tensor fn(const Tensor& a, Scalar b, CallSite site) {                    \
    return BinaryScalar(OpKind::kind, a, b, /*scalar_first=*/false, site); \
  }
KILN_BINARY_TENSOR_AND_SCALAR(add, kAdd)
KILN_BINARY_TENSOR_AND_SCALAR(sub, kSub)
KILN_BINARY_TENSOR_AND_SCALAR(mul, kMul)
KILN_BINARY_TENSOR_AND_SCALAR(div, kDiv)
KILN_BINARY_TENSOR_AND_SCALAR(pow, kPow)
KILN_BINARY_TENSOR_AND_SCALAR(maximum, kMaximum)
KILN_BINARY_TENSOR_AND_SCALAR(minimum, kMinimum)
KILN_BINARY_TENSOR_AND_SCALAR(eq, kEq)
KILN_BINARY_TENSOR_AND_SCALAR(ne, kNe)
KILN_BINARY_TENSOR_AND_SCALAR(lt, kLt)
KILN_BINARY_TENSOR_AND_SCALAR(le, kLe)
KILN_BINARY_TENSOR_AND_SCALAR(gt, kGt)
KILN_BINARY_TENSOR_AND_SCALAR(ge, kGe)
#undef KILN_BINARY_TENSOR_AND_SCALAR

Tensor sub(Scalar a, const Tensor& b, CallSite site) {
  return BinaryScalar(OpKind::kSub, b, a, /*scalar_first=*/true, site);
}

Tensor div(Scalar a, const Tensor& b, CallSite site) {
  return BinaryScalar(OpKind::kDiv, b, a, /*scalar_first=*/true, site);
}

Tensor logical_and(const Tensor& a, const Tensor& b, CallSite site) {
  return Binary(OpKind::kLogicalAnd, a, b, site);
}

Tensor logical_or(const Tensor& a, const Tensor& b, CallSite site) {
  return Binary(OpKind::kLogicalOr, a, b, site);
}

Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b, CallSite site) {
  CheckOperand("where", cond, "condition");
  CheckOperand("where", a, "input");
  CheckOperand("where", b, "other");
  CheckSameBackend("where", {&cond, &a, &b});
  BroadcastOrThrow("where", {&cond.shape(), &a.shape(), &b.shape()});
  return ApplyWhere(cond, a, b, PromoteTypes(a.dtype(), b.dtype()), site);
}

Tensor where(const Tensor& cond, const Tensor& a, Scalar b, CallSite site) {
  return WhereScalar(cond, a, b, /*scalar_is_a=*/false, site);
}

Tensor where(const Tensor& cond, Scalar a, const Tensor& b, CallSite site) {
  return WhereScalar(cond, b, a, /*scalar_is_a=*/true, site);
}

Tensor clamp(const Tensor& x, std::optional<Scalar> min, std::optional<Scalar> max, CallSite site) {
  CheckOperand("clamp", x);
  if (!min && !max) ThrowOpError("clamp: expected a min or a max bound, got neither");
  for (const auto& [name, bound] : {std::pair{"min", min}, std::pair{"max", max}}) {
    if (bound && std::isnan(bound->to_double())) {
      ThrowOpError("clamp: the ", name, " bound of ", x.shape().ToString(), " is NaN");
    }
  }
  // where, not maximum/minimum: a value on a bound keeps its whole gradient, as in torch.
  Tensor y = x;
  if (min) y = where(lt(y, *min, site), *min, y, site);
  if (max) y = where(gt(y, *max, site), *max, y, site);
  return y;
}

Tensor tril(const Tensor& x, int64_t diagonal, CallSite site) {
  return Triangle("tril", x, diagonal, /*lower=*/true, site);
}

Tensor triu(const Tensor& x, int64_t diagonal, CallSite site) {
  return Triangle("triu", x, diagonal, /*lower=*/false, site);
}

Tensor masked_fill(const Tensor& x, const Tensor& mask, Scalar value, CallSite site) {
  CheckOperand("masked_fill", x);
  CheckOperand("masked_fill", mask, "mask");
  CheckSameBackend("masked_fill", {&x, &mask});
  if (mask.dtype() != DType::kBool) {
    ThrowOpError("masked_fill: expected a bool mask, got ", mask.shape().ToString(), " for ",
                 x.shape().ToString());
  }
  if (BroadcastOrThrow("masked_fill", {&mask.shape(), &x.shape()}) != x.sizes()) {
    ThrowOpError("masked_fill: mask ", mask.shape().ToString(), " does not broadcast to ",
                 x.shape().ToString(), " without enlarging it");
  }
  // The value converted to x's dtype as cast converts, so nothing promotes.
  return where(mask, ScalarTensor(value.to_double(), x.dtype(), x, site), x, site);
}

// --- operators: the first operand carries the call site ---
Tensor operator+(const TracedTensor& a, const Tensor& b) { return add(a.tensor, b, a.site); }
Tensor operator-(const TracedTensor& a, const Tensor& b) { return sub(a.tensor, b, a.site); }
Tensor operator*(const TracedTensor& a, const Tensor& b) { return mul(a.tensor, b, a.site); }
Tensor operator/(const TracedTensor& a, const Tensor& b) { return div(a.tensor, b, a.site); }
Tensor operator+(const TracedTensor& a, Scalar b) { return add(a.tensor, b, a.site); }
Tensor operator-(const TracedTensor& a, Scalar b) { return sub(a.tensor, b, a.site); }
Tensor operator*(const TracedTensor& a, Scalar b) { return mul(a.tensor, b, a.site); }
Tensor operator/(const TracedTensor& a, Scalar b) { return div(a.tensor, b, a.site); }

Tensor operator+(Scalar a, const TracedTensor& b) {
  return BinaryScalar(OpKind::kAdd, b.tensor, a, /*scalar_first=*/true, b.site);
}
Tensor operator-(Scalar a, const TracedTensor& b) { return sub(a, b.tensor, b.site); }
Tensor operator*(Scalar a, const TracedTensor& b) {
  return BinaryScalar(OpKind::kMul, b.tensor, a, /*scalar_first=*/true, b.site);
}
Tensor operator/(Scalar a, const TracedTensor& b) { return div(a, b.tensor, b.site); }

Tensor operator-(const TracedTensor& a) { return neg(a.tensor, a.site); }
Tensor operator!(const TracedTensor& a) { return logical_not(a.tensor, a.site); }

Tensor operator==(const TracedTensor& a, const Tensor& b) { return eq(a.tensor, b, a.site); }
Tensor operator!=(const TracedTensor& a, const Tensor& b) { return ne(a.tensor, b, a.site); }
Tensor operator<(const TracedTensor& a, const Tensor& b) { return lt(a.tensor, b, a.site); }
Tensor operator<=(const TracedTensor& a, const Tensor& b) { return le(a.tensor, b, a.site); }
Tensor operator>(const TracedTensor& a, const Tensor& b) { return gt(a.tensor, b, a.site); }
Tensor operator>=(const TracedTensor& a, const Tensor& b) { return ge(a.tensor, b, a.site); }
Tensor operator==(const TracedTensor& a, Scalar b) { return eq(a.tensor, b, a.site); }
Tensor operator!=(const TracedTensor& a, Scalar b) { return ne(a.tensor, b, a.site); }
Tensor operator<(const TracedTensor& a, Scalar b) { return lt(a.tensor, b, a.site); }
Tensor operator<=(const TracedTensor& a, Scalar b) { return le(a.tensor, b, a.site); }
Tensor operator>(const TracedTensor& a, Scalar b) { return gt(a.tensor, b, a.site); }
Tensor operator>=(const TracedTensor& a, Scalar b) { return ge(a.tensor, b, a.site); }

}  // namespace kiln
