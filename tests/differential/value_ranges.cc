#include "tests/differential/value_ranges.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace kiln::differential {
namespace {

constexpr double kDomainMargin = 0.1;
constexpr double kMaxTrigArgument = 100;

ValueRange Interval(double a, double b) {
  ValueRange r;
  r.lo = std::min(a, b);
  r.hi = std::max(a, b);
  return r;
}

// The hull of f at the four corners: exact for monotone-in-each-operand products/quotients.
template <typename F>
ValueRange Corners(const ValueRange& a, const ValueRange& b, F f) {
  const double v[] = {f(a.lo, b.lo), f(a.lo, b.hi), f(a.hi, b.lo), f(a.hi, b.hi)};
  return Interval(*std::min_element(v, v + 4), *std::max_element(v, v + 4));
}

ValueRange Hull(const ValueRange& a, const ValueRange& b) {
  return Interval(std::min(a.lo, b.lo), std::max(a.hi, b.hi));
}

bool ExcludesZero(const ValueRange& r) { return r.lo >= kDomainMargin || r.hi <= -kDomainMargin; }

int64_t ReducedCount(const Node& node) {
  const Shape& in = node.operand(0).shape();
  if (node.op() == OpKind::kArgmax) {
    return in.size(node.attrs().GetInt("dim"));
  }
  const std::vector<int64_t>& dims = node.attrs().GetInts("dims");
  if (dims.empty()) return in.numel();
  int64_t n = 1;
  for (int64_t d : dims) n *= in.size(d);
  return n;
}

// The range a value of `dtype` holding [lo, hi] has after the dtype's conversion.
ValueRange Converted(DType dtype, ValueRange r) {
  if (dtype == DType::kBool) {
    const bool can_be_zero = r.lo <= 0 && r.hi >= 0;
    const bool can_be_nonzero = r.lo != 0 || r.hi != 0;
    return Interval(can_be_zero ? 0 : 1, can_be_nonzero ? 1 : 0);
  }
  if (IsIntegral(dtype)) return Interval(std::trunc(r.lo), std::trunc(r.hi));
  return r;
}

}  // namespace

double ValueRange::magnitude() const { return std::max(std::fabs(lo), std::fabs(hi)); }

bool ValueRange::finite() const { return std::isfinite(lo) && std::isfinite(hi); }

const ValueRange& ValueRanges::Of(const NodePtr& node) {
  if (auto it = ranges_.find(node.get()); it != ranges_.end()) return it->second;
  for (const Value& operand : node->operands()) Of(operand.node);
  ValueRange range = Compute(*node);
  seen_.push_back(node);
  return ranges_.emplace(node.get(), range).first->second;
}

void ValueRanges::Assume(const NodePtr& node, const ValueRange& range) {
  seen_.push_back(node);
  ranges_[node.get()] = range;
}

ValueRange ValueRanges::Compute(const Node& node) {
  const DType dtype = node.shape().dtype();
  const bool floating = IsFloating(dtype);
  ValueRange a, b;
  bool operands_exact = true;
  bool operands_valid = true;
  for (const Value& operand : node.operands()) {
    const ValueRange& r = ranges_.at(operand.node.get());
    operands_exact = operands_exact && r.exact;
    operands_valid = operands_valid && r.valid;
  }
  if (node.num_operands() > 0) a = ranges_.at(node.operand(0).node.get());
  if (node.num_operands() > 1) b = ranges_.at(node.operand(1).node.get());

  ValueRange r;
  // Whether the op itself rounds (float arithmetic), and whether its domain held.
  bool rounds = false;
  bool in_domain = true;
  switch (node.op()) {
    case OpKind::kDeviceData:
      r = floating                ? Interval(-kFloatInputBound, kFloatInputBound)
          : dtype == DType::kBool ? Interval(0, 1)
                                  : Interval(-kIntInputBound, kIntInputBound);
      break;
    case OpKind::kScalar:
      r = Converted(dtype, Interval(node.scalar_value(), node.scalar_value()));
      break;
    case OpKind::kConstant: {
      const double v = node.attrs().GetDouble("value");
      r = Converted(dtype, Interval(v, v));
      break;
    }
    case OpKind::kArange: {
      const double start = node.attrs().GetDouble("start");
      const double step = node.attrs().GetDouble("step");
      const int64_t size = node.attrs().GetInt("size");
      r = Interval(start, start + step * static_cast<double>(std::max<int64_t>(size - 1, 0)));
      rounds = floating;
      break;
    }
    case OpKind::kRandUniform:  // the same bits on every backend
      r = Interval(0, 1);
      break;
    case OpKind::kNeg:
      r = Interval(-a.hi, -a.lo);
      break;
    case OpKind::kAbs:
      r = a.lo >= 0 ? a : a.hi <= 0 ? Interval(-a.hi, -a.lo) : Interval(0, a.magnitude());
      break;
    case OpKind::kRelu:
      r = Interval(std::max(0.0, a.lo), std::max(0.0, a.hi));
      break;
    case OpKind::kExp:
      r = Interval(std::exp(a.lo), std::exp(a.hi));
      rounds = true;
      break;
    case OpKind::kLog:
      in_domain = a.lo >= kDomainMargin;
      r = Interval(std::log(a.lo), std::log(a.hi));
      rounds = true;
      break;
    case OpKind::kSqrt:
      in_domain = a.lo >= kDomainMargin;
      r = Interval(std::sqrt(std::max(a.lo, 0.0)), std::sqrt(std::max(a.hi, 0.0)));
      rounds = true;
      break;
    case OpKind::kRsqrt:
      in_domain = a.lo >= kDomainMargin;
      r = Interval(1 / std::sqrt(std::max(a.lo, 0.0)), 1 / std::sqrt(std::max(a.hi, 0.0)));
      rounds = true;
      break;
    case OpKind::kTanh:
      r = Interval(std::tanh(a.lo), std::tanh(a.hi));
      rounds = true;
      break;
    case OpKind::kErf:
      r = Interval(std::erf(a.lo), std::erf(a.hi));
      rounds = true;
      break;
    case OpKind::kSigmoid:
      r = Interval(1 / (1 + std::exp(-a.lo)), 1 / (1 + std::exp(-a.hi)));
      rounds = true;
      break;
    case OpKind::kFloor:
      r = Interval(std::floor(a.lo), std::floor(a.hi));
      break;
    case OpKind::kCeil:
      r = Interval(std::ceil(a.lo), std::ceil(a.hi));
      break;
    case OpKind::kRound:
      r = Interval(std::nearbyint(a.lo), std::nearbyint(a.hi));
      break;
    case OpKind::kSin:
    case OpKind::kCos:
      in_domain = a.magnitude() <= kMaxTrigArgument;
      r = Interval(-1, 1);
      rounds = true;
      break;
    case OpKind::kCast:
      r = Converted(dtype, a);
      // f64 -> f32 rounds, but the same way everywhere.
      break;
    case OpKind::kAdd:
      r = Interval(a.lo + b.lo, a.hi + b.hi);
      rounds = floating;
      break;
    case OpKind::kSub:
      r = Interval(a.lo - b.hi, a.hi - b.lo);
      rounds = floating;
      break;
    case OpKind::kMul:
      r = Corners(a, b, [](double x, double y) { return x * y; });
      rounds = floating;
      break;
    case OpKind::kDiv:
      in_domain = ExcludesZero(b);
      r = floating ? Corners(a, b, [](double x, double y) { return x / y; })
                   : Interval(-a.magnitude(), a.magnitude());
      rounds = floating;
      break;
    case OpKind::kPow:
      if (floating) {
        in_domain = a.lo >= kDomainMargin;
        r = Corners(a, b, [](double x, double y) { return std::pow(std::max(x, 0.0), y); });
        rounds = true;
      } else {
        in_domain = b.lo >= 0;
        const double m = std::pow(a.magnitude(), b.hi);
        r = Interval(-m, m);
      }
      break;
    case OpKind::kMaximum:
      r = Interval(std::max(a.lo, b.lo), std::max(a.hi, b.hi));
      break;
    case OpKind::kMinimum:
      r = Interval(std::min(a.lo, b.lo), std::min(a.hi, b.hi));
      break;
    case OpKind::kEq:
    case OpKind::kNe:
    case OpKind::kLt:
    case OpKind::kLe:
    case OpKind::kGt:
    case OpKind::kGe:
    case OpKind::kLogicalAnd:
    case OpKind::kLogicalOr:
    case OpKind::kLogicalNot:
      r = Interval(0, 1);
      break;
    case OpKind::kWhere:
      r = Hull(b, ranges_.at(node.operand(2).node.get()));
      break;
    case OpKind::kSum: {
      const double n = static_cast<double>(ReducedCount(node));
      r = n == 0 ? Interval(0, 0) : Interval(n * a.lo, n * a.hi);
      rounds = floating;
      break;
    }
    case OpKind::kProd: {
      // Interval products, one factor at a time (a hull: the factors are independent).
      r = Interval(1, 1);
      for (int64_t k = 0; k < ReducedCount(node) && r.finite() && r.magnitude() < 1e30; ++k) {
        r = Corners(r, a, [](double x, double y) { return x * y; });
      }
      rounds = floating;
      break;
    }
    case OpKind::kMean:
      r = ReducedCount(node) == 0 ? Interval(0, 0) : a;
      rounds = true;
      break;
    case OpKind::kMax:
    case OpKind::kMin:
      r = a;
      break;
    case OpKind::kArgmax:
      r = Interval(0, static_cast<double>(std::max<int64_t>(ReducedCount(node) - 1, 0)));
      break;
    case OpKind::kMatmul: {
      const Shape& lhs = node.operand(0).shape();
      const double k = static_cast<double>(lhs.size(lhs.rank() - 1));
      const ValueRange p = Corners(a, b, [](double x, double y) { return x * y; });
      r = k == 0 ? Interval(0, 0) : Interval(k * p.lo, k * p.hi);
      rounds = floating;
      break;
    }
    case OpKind::kReshape:
    case OpKind::kPermute:
    case OpKind::kExpand:
    case OpKind::kSlice:
    case OpKind::kGather:
    case OpKind::kIndexSelect:
      r = a;
      break;
    case OpKind::kConcat:
      r = a;
      for (const Value& operand : node.operands()) r = Hull(r, ranges_.at(operand.node.get()));
      break;
    case OpKind::kPad: {
      const double v = node.attrs().GetDouble("value");
      r = Hull(a, Converted(dtype, Interval(v, v)));
      break;
    }
    case OpKind::kScatterAdd: {
      const ValueRange& src = ranges_.at(node.operand(2).node.get());
      const Shape& src_shape = node.operand(2).shape();
      const double m = src_shape.rank() == 0
                           ? 1
                           : static_cast<double>(src_shape.size(node.attrs().GetInt("dim")));
      r = Interval(a.lo + std::min(0.0, m * src.lo), a.hi + std::max(0.0, m * src.hi));
      rounds = floating;
      break;
    }
  }
  if (!r.finite() || std::isnan(r.lo) || std::isnan(r.hi)) {
    r = Interval(-std::numeric_limits<double>::infinity(), std::numeric_limits<double>::infinity());
  }
  r.exact = operands_exact && !rounds;
  r.valid = operands_valid && in_domain;
  return r;
}

}  // namespace kiln::differential
