// Elementwise kernels (unary, binary, comparison, logical, where, cast) and the
// generator leaves (constant, arange).
#include <cmath>
#include <cstdint>
#include <type_traits>

#include "absl/strings/str_cat.h"
#include "backends/interp/interp_kernels.h"
#include "backends/interp/interp_util.h"

namespace kiln::interp {
namespace {

using numerics::IntDiv;
using numerics::IntPow;
using numerics::NanMax;
using numerics::NanMin;
using numerics::WrapAbs;
using numerics::WrapNeg;

// out[i] = f(x[i]); unary elementwise ops keep the shape.
template <typename T, typename U, typename F>
void UnaryLoop(const InterpBuffer& x, InterpBuffer& out, F f) {
  const T* in = Data<T>(x);
  U* o = Data<U>(out);
  const int64_t n = out.shape().numel();
  for (int64_t i = 0; i < n; ++i) o[i] = f(in[i]);
}

// out[i] = f(a[i], b[i]) with a and b broadcast to out's shape.
template <typename T, typename U, typename F>
void BinaryLoop(const InterpBuffer& a, const InterpBuffer& b, InterpBuffer& out, F f) {
  const Sizes& sizes = out.shape().sizes();
  const StridedView ov = ContiguousView(sizes);
  const StridedView av = BroadcastView(a.shape().sizes(), sizes);
  const StridedView bv = BroadcastView(b.shape().sizes(), sizes);
  const T* pa = Data<T>(a);
  const T* pb = Data<T>(b);
  U* o = Data<U>(out);
  ForEachStrided<3>(
      sizes, {&ov, &av, &bv},
      [&](const std::array<int64_t, 3>& off, int64_t n, const std::array<int64_t, 3>& step) {
        for (int64_t i = 0; i < n; ++i) {
          o[off[0] + i * step[0]] = f(pa[off[1] + i * step[1]], pb[off[2] + i * step[2]]);
        }
      });
}

// A transcendental function evaluated in f64 and rounded once to T, so the reference
// result for f32 is as accurate as f32 allows.
template <typename T, typename F>
void FloatUnary(const InterpBuffer& x, InterpBuffer& out, F f) {
  UnaryLoop<T, T>(x, out, [f](T v) { return CastTo<T>(f(static_cast<double>(v))); });
}

template <typename T>
absl::Status Unary(OpKind op, const InterpBuffer& x, InterpBuffer& out) {
  switch (op) {
    case OpKind::kNeg:
      UnaryLoop<T, T>(x, out, [](T v) { return WrapNeg(v); });
      break;
    case OpKind::kAbs:
      UnaryLoop<T, T>(x, out, [](T v) { return WrapAbs(v); });
      break;
    case OpKind::kRelu:
      // NaN < 0 is false, so NaN passes through as in torch.
      UnaryLoop<T, T>(x, out, [](T v) { return v < T(0) ? T(0) : v; });
      break;
    case OpKind::kExp:
      FloatUnary<T>(x, out, [](double v) { return std::exp(v); });
      break;
    case OpKind::kLog:
      FloatUnary<T>(x, out, [](double v) { return std::log(v); });
      break;
    case OpKind::kSqrt:
      FloatUnary<T>(x, out, [](double v) { return std::sqrt(v); });
      break;
    case OpKind::kRsqrt:
      FloatUnary<T>(x, out, [](double v) { return 1.0 / std::sqrt(v); });
      break;
    case OpKind::kTanh:
      FloatUnary<T>(x, out, [](double v) { return std::tanh(v); });
      break;
    case OpKind::kErf:
      FloatUnary<T>(x, out, [](double v) { return std::erf(v); });
      break;
    case OpKind::kSigmoid:
      FloatUnary<T>(x, out, [](double v) { return 1.0 / (1.0 + std::exp(-v)); });
      break;
    case OpKind::kSin:
      FloatUnary<T>(x, out, [](double v) { return std::sin(v); });
      break;
    case OpKind::kCos:
      FloatUnary<T>(x, out, [](double v) { return std::cos(v); });
      break;
    case OpKind::kFloor:
      FloatUnary<T>(x, out, [](double v) { return std::floor(v); });
      break;
    case OpKind::kCeil:
      FloatUnary<T>(x, out, [](double v) { return std::ceil(v); });
      break;
    case OpKind::kRound:
      // The default rounding mode: to nearest, ties to even, as torch.round.
      FloatUnary<T>(x, out, [](double v) { return std::nearbyint(v); });
      break;
    default:
      return absl::InternalError(
          absl::StrCat("interp: ", std::string(OpName(op)), " is not a unary op"));
  }
  return absl::OkStatus();
}

// Every element of the divisor/exponent operand is used when the output is non-empty
// (broadcasting only repeats elements), so checking the operand itself is exact.
template <typename T>
absl::Status CheckIntegerOperand(OpKind op, const InterpBuffer& b, const InterpBuffer& out) {
  if (out.shape().numel() == 0) return absl::OkStatus();
  const T* pb = Data<T>(b);
  const int64_t n = b.shape().numel();
  for (int64_t i = 0; i < n; ++i) {
    if (op == OpKind::kDiv && pb[i] == T(0)) {
      return absl::InvalidArgumentError("div: integer division by zero");
    }
    if constexpr (std::is_signed_v<T>) {
      if (op == OpKind::kPow && pb[i] < T(0)) {
        return absl::InvalidArgumentError(absl::StrCat(
            "pow: integer base raised to the negative exponent ", pb[i], " at position ",
            PositionString(i, b.shape().sizes()), "; integer powers need exponent >= 0"));
      }
    }
  }
  return absl::OkStatus();
}

template <typename T>
absl::Status Binary(OpKind op, const InterpBuffer& a, const InterpBuffer& b, InterpBuffer& out) {
  constexpr bool kFloat = std::is_floating_point_v<T>;
  if constexpr (!kFloat) {
    if (op == OpKind::kDiv || op == OpKind::kPow) {
      absl::Status status = CheckIntegerOperand<T>(op, b, out);
      if (!status.ok()) return status;
    }
  }
  switch (op) {
    case OpKind::kAdd:
      BinaryLoop<T, T>(a, b, out, [](T x, T y) { return WrapAdd(x, y); });
      break;
    case OpKind::kSub:
      BinaryLoop<T, T>(a, b, out, [](T x, T y) { return WrapSub(x, y); });
      break;
    case OpKind::kMul:
      BinaryLoop<T, T>(a, b, out, [](T x, T y) { return WrapMul(x, y); });
      break;
    case OpKind::kDiv:
      if constexpr (kFloat) {
        BinaryLoop<T, T>(a, b, out, [](T x, T y) { return x / y; });
      } else {
        BinaryLoop<T, T>(a, b, out, [](T x, T y) { return IntDiv(x, y); });
      }
      break;
    case OpKind::kPow:
      if constexpr (kFloat) {
        BinaryLoop<T, T>(a, b, out, [](T x, T y) {
          return static_cast<T>(std::pow(static_cast<double>(x), static_cast<double>(y)));
        });
      } else {
        BinaryLoop<T, T>(a, b, out, [](T x, T y) { return IntPow(x, y); });
      }
      break;
    case OpKind::kMaximum:
      BinaryLoop<T, T>(a, b, out, [](T x, T y) { return NanMax(x, y); });
      break;
    case OpKind::kMinimum:
      BinaryLoop<T, T>(a, b, out, [](T x, T y) { return NanMin(x, y); });
      break;
    case OpKind::kEq:
      BinaryLoop<T, bool>(a, b, out, [](T x, T y) { return x == y; });
      break;
    case OpKind::kNe:
      BinaryLoop<T, bool>(a, b, out, [](T x, T y) { return x != y; });
      break;
    case OpKind::kLt:
      BinaryLoop<T, bool>(a, b, out, [](T x, T y) { return x < y; });
      break;
    case OpKind::kLe:
      BinaryLoop<T, bool>(a, b, out, [](T x, T y) { return x <= y; });
      break;
    case OpKind::kGt:
      BinaryLoop<T, bool>(a, b, out, [](T x, T y) { return x > y; });
      break;
    case OpKind::kGe:
      BinaryLoop<T, bool>(a, b, out, [](T x, T y) { return x >= y; });
      break;
    case OpKind::kLogicalAnd:
      BinaryLoop<T, bool>(a, b, out, [](T x, T y) { return x != T(0) && y != T(0); });
      break;
    case OpKind::kLogicalOr:
      BinaryLoop<T, bool>(a, b, out, [](T x, T y) { return x != T(0) || y != T(0); });
      break;
    default:
      return absl::InternalError(
          absl::StrCat("interp: ", std::string(OpName(op)), " is not a binary op"));
  }
  return absl::OkStatus();
}

// out = cond ? a : b, all three broadcast to out's shape.
template <typename T>
void Where(const InterpBuffer& cond, const InterpBuffer& a, const InterpBuffer& b,
           InterpBuffer& out) {
  const Sizes& sizes = out.shape().sizes();
  const StridedView ov = ContiguousView(sizes);
  const StridedView cv = BroadcastView(cond.shape().sizes(), sizes);
  const StridedView av = BroadcastView(a.shape().sizes(), sizes);
  const StridedView bv = BroadcastView(b.shape().sizes(), sizes);
  const bool* pc = Data<bool>(cond);
  const T* pa = Data<T>(a);
  const T* pb = Data<T>(b);
  T* o = Data<T>(out);
  ForEachStrided<4>(
      sizes, {&ov, &cv, &av, &bv},
      [&](const std::array<int64_t, 4>& off, int64_t n, const std::array<int64_t, 4>& step) {
        for (int64_t i = 0; i < n; ++i) {
          o[off[0] + i * step[0]] =
              pc[off[1] + i * step[1]] ? pa[off[2] + i * step[2]] : pb[off[3] + i * step[3]];
        }
      });
}

}  // namespace

absl::Status RunElementwise(const KernelCall& call) {
  const OpKind op = call.op;
  InterpBuffer& out = *call.out;
  const InterpBuffer& x = *call.inputs[0];
  const DType in_dtype = x.shape().dtype();
  switch (op) {
    case OpKind::kCast:
      return DispatchDType(in_dtype, [&]<typename T>(TypeTag<T>) {
        return DispatchDType(out.shape().dtype(), [&]<typename U>(TypeTag<U>) {
          UnaryLoop<T, U>(x, out, [](T v) { return CastTo<U>(v); });
          return absl::OkStatus();
        });
      });
    case OpKind::kLogicalNot:
      return DispatchDType(in_dtype, [&]<typename T>(TypeTag<T>) {
        UnaryLoop<T, bool>(x, out, [](T v) { return v == T(0); });
        return absl::OkStatus();
      });
    case OpKind::kWhere:
      KILN_CHECK(in_dtype == DType::kBool) << "where: condition is " << DTypeName(in_dtype);
      return DispatchDType(out.shape().dtype(), [&]<typename T>(TypeTag<T>) {
        Where<T>(x, *call.inputs[1], *call.inputs[2], out);
        return absl::OkStatus();
      });
    default:
      break;
  }
  if (call.inputs.size() == 1) {
    if (out.shape().dtype() != in_dtype) {
      return absl::InternalError(absl::StrCat("interp: ", std::string(OpName(op)), " of ",
                                              x.shape().ToString(), " produces ",
                                              out.shape().ToString()));
    }
    return DispatchDType(in_dtype, [&]<typename T>(TypeTag<T>) { return Unary<T>(op, x, out); });
  }
  KILN_CHECK(call.inputs[1]->shape().dtype() == in_dtype)
      << OpName(op) << ": operand dtypes differ";
  return DispatchDType(
      in_dtype, [&]<typename T>(TypeTag<T>) { return Binary<T>(op, x, *call.inputs[1], out); });
}

absl::Status RunGenerator(const KernelCall& call) {
  InterpBuffer& out = *call.out;
  const Attributes& attrs = *call.attrs;
  return DispatchDType(out.shape().dtype(), [&]<typename T>(TypeTag<T>) {
    T* o = Data<T>(out);
    const int64_t n = out.shape().numel();
    if (call.op == OpKind::kConstant) {
      const T value = CastTo<T>(attrs.GetDouble("value"));
      for (int64_t i = 0; i < n; ++i) o[i] = value;
    } else if (call.op == OpKind::kRandUniform) {
      if constexpr (std::is_floating_point_v<T>) {
        const int64_t key = *Data<int64_t>(*call.inputs[0]);
        for (int64_t i = 0; i < n; ++i) o[i] = numerics::RandUniform<T>(key, i);
      }
    } else {
      KILN_CHECK(call.op == OpKind::kArange) << OpName(call.op) << " is not a generator";
      const double start = attrs.GetDouble("start");
      const double step = attrs.GetDouble("step");
      for (int64_t i = 0; i < n; ++i) o[i] = CastTo<T>(start + static_cast<double>(i) * step);
    }
    return absl::OkStatus();
  });
}

}  // namespace kiln::interp
