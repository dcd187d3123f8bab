// Tensor creation: full/zeros/ones expand a 0-d leaf (nothing is uploaded), constant
// and arange are IR leaves, rand/randn are drawn on the host and uploaded, and
// rand_like/randn_like are rand_uniform nodes computed in the graph.
#include "lazy/creation.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <new>
#include <string_view>
#include <type_traits>
#include <vector>

#include "lazy/device.h"
#include "lazy/op_utils.h"
#include "lazy/ops.h"
#include "lazy/precompile.h"
#include "lazy/scalar_tensor.h"
#include "lazy/tensor_impl.h"

namespace kiln {
namespace {

using internal::ConstantTensor;
using internal::ScalarTensor;
using internal::SizesToString;
using internal::ThrowOpError;

// Sizes >= 0 whose byte count fits in an int64 (else the element count would wrap).
void CheckSizes(std::string_view op, const std::vector<int64_t>& sizes, DType dtype) {
  for (int64_t s : sizes) {
    if (s < 0) ThrowOpError(op, ": sizes ", SizesToString(sizes), " must be >= 0");
  }
  if (!CheckedProduct(sizes, DTypeSize(dtype))) {
    ThrowOpError(op, ": sizes ", SizesToString(sizes), " of ", DTypeName(dtype),
                 " have more bytes than an int64 can count");
  }
}

void CheckSupported(std::string_view op, DType dtype) {
  if (IsReserved(dtype)) {
    ThrowOpError(op, ": dtype ", DTypeName(dtype), " is not supported by any op yet");
  }
}

void CheckFloating(std::string_view op, DType dtype, const std::vector<int64_t>& sizes) {
  if (dtype != DType::kF32 && dtype != DType::kF64) {
    ThrowOpError(op, ": expected a floating dtype (f32 or f64), got ", DTypeName(dtype),
                 " for sizes ", SizesToString(sizes));
  }
}

DType DefaultDType(const Scalar& value) {
  switch (value.kind()) {
    case Scalar::Kind::kBool:
      return DType::kBool;
    case Scalar::Kind::kInt:
      return DType::kI64;
    case Scalar::Kind::kFloat:
      return DType::kF32;
  }
  return DType::kF32;
}

// A 0-d leaf broadcast to `sizes`.
Tensor ExpandLeaf(const Tensor& leaf, const std::vector<int64_t>& sizes, const CallSite& site) {
  return RecordOp(OpKind::kExpand, {leaf}, Attributes().Set("sizes", sizes), site);
}

int64_t NumElements(const std::vector<int64_t>& sizes) {
  int64_t n = 1;
  for (int64_t s : sizes) n *= s;
  return n;
}

// Host memory for the values an op makes before uploading them. A size the host cannot
// hold is a kiln::Error naming it, as a device allocation's is, not std::bad_alloc.
template <typename T>
std::vector<T> HostValues(std::string_view op, const std::vector<int64_t>& sizes, T fill = T()) {
  const int64_t n = NumElements(sizes);
  try {
    return std::vector<T>(n, fill);
  } catch (const std::bad_alloc&) {
    const int64_t bytes = std::is_same_v<T, bool> ? (n + 7) / 8 : n * int64_t{sizeof(T)};
    ThrowOpError(op, ": out of memory allocating ", bytes, " bytes on the host for the ", n,
                 " values of sizes ", SizesToString(sizes));
  }
}

// Uploads host values drawn as doubles in `dtype` (f32 or f64). `below` keeps f32
// values under a bound that rounding to float could otherwise reach (rand's 1.0).
Tensor Upload(std::string_view op, const std::vector<double>& values,
              const std::vector<int64_t>& sizes, DType dtype, const CallSite& site,
              float below = std::numeric_limits<float>::infinity()) {
  if (dtype == DType::kF64) return Tensor::from_vector(values, sizes, site);
  std::vector<float> narrow = HostValues<float>(op, sizes);
  const float largest = std::nextafter(below, -std::numeric_limits<float>::infinity());
  for (size_t i = 0; i < values.size(); ++i) {
    narrow[i] = std::min(static_cast<float>(values[i]), largest);
  }
  return Tensor::from_vector(narrow, sizes, site);
}

// P(a <= X <= b) for X ~ Normal(mean, std).
double NormalMass(double mean, double std, double a, double b) {
  const auto cdf = [&](double x) { return 0.5 * std::erfc(-(x - mean) / (std * std::sqrt(2.0))); };
  return cdf(b) - cdf(a);
}

}  // namespace

Tensor full(std::vector<int64_t> sizes, Scalar value, CallSite site) {
  return full(std::move(sizes), value, DefaultDType(value), site);
}

Tensor full(std::vector<int64_t> sizes, Scalar value, DType dtype, CallSite site) {
  CheckSizes("full", sizes, dtype);
  CheckSupported("full", dtype);
  Tensor leaf = ScalarTensor(value.to_double(), dtype, &current_backend(), site);
  return ExpandLeaf(leaf, sizes, site);
}

Tensor zeros(std::vector<int64_t> sizes, DType dtype, CallSite site) {
  CheckSizes("zeros", sizes, dtype);
  CheckSupported("zeros", dtype);
  return ExpandLeaf(ConstantTensor(0.0, dtype, &current_backend(), site), sizes, site);
}

Tensor ones(std::vector<int64_t> sizes, DType dtype, CallSite site) {
  CheckSizes("ones", sizes, dtype);
  CheckSupported("ones", dtype);
  return ExpandLeaf(ConstantTensor(1.0, dtype, &current_backend(), site), sizes, site);
}

Tensor full_data(std::vector<int64_t> sizes, double value, DType dtype, CallSite site) {
  CheckSizes("full_data", sizes, dtype);
  CheckSupported("full_data", dtype);
  switch (dtype) {
    case DType::kF32:
      return Tensor::from_vector(HostValues("full_data", sizes, static_cast<float>(value)), sizes,
                                 site);
    case DType::kF64:
      return Tensor::from_vector(HostValues("full_data", sizes, value), sizes, site);
    case DType::kI32:
      return Tensor::from_vector(HostValues("full_data", sizes, static_cast<int32_t>(value)), sizes,
                                 site);
    case DType::kI64:
      return Tensor::from_vector(HostValues("full_data", sizes, static_cast<int64_t>(value)), sizes,
                                 site);
    case DType::kBool:
      return Tensor::from_vector(HostValues("full_data", sizes, value != 0), sizes, site);
    default:
      ThrowOpError("full_data: dtype ", DTypeName(dtype), " is not supported");
  }
}

Tensor constant(double value, DType dtype, CallSite site) {
  CheckSupported("constant", dtype);
  return ConstantTensor(value, dtype, &current_backend(), site);
}

Tensor arange(int64_t end, DType dtype, CallSite site) {
  return arange(0.0, static_cast<double>(end), 1.0, dtype, site);
}

Tensor arange(double start, double end, double step, DType dtype, CallSite site) {
  if (step == 0 || !std::isfinite(start) || !std::isfinite(end) || !std::isfinite(step)) {
    ThrowOpError("arange: expected finite bounds and a non-zero step, got start=", start,
                 " end=", end, " step=", step);
  }
  if (dtype == DType::kBool || IsReserved(dtype)) {
    ThrowOpError("arange: expected a numeric dtype (i32, i64, f32 or f64), got ", DTypeName(dtype));
  }
  // As torch.arange: a step that leads away from `end` is an error, not an empty tensor.
  if ((end > start && step < 0) || (end < start && step > 0)) {
    ThrowOpError("arange: step ", step, " leads away from end ", end, " (start ", start,
                 "); start == end gives an empty tensor");
  }
  const double count = std::ceil((end - start) / step);
  // Converting a count of 2^63 or more (or an infinite one) to int64 is undefined.
  if (!(count < 0x1p63)) {
    ThrowOpError("arange: [", start, ", ", end, ") in steps of ", step,
                 " has more elements than an int64 can count");
  }
  const int64_t size = static_cast<int64_t>(count);
  return RecordOp(
      OpKind::kArange, {},
      Attributes().Set("start", start).Set("step", step).Set("size", size).Set("dtype", dtype),
      site);
}

Tensor rand(std::vector<int64_t> sizes, Generator& gen, DType dtype, CallSite site) {
  CheckSizes("rand", sizes, dtype);
  CheckFloating("rand", dtype, sizes);
  std::vector<double> values = HostValues<double>("rand", sizes);
  internal::KeepGeneratorWhilePrecompiling keep(gen);
  for (double& v : values) v = gen.NextDouble();
  return Upload("rand", values, sizes, dtype, site, /*below=*/1.0f);
}

Tensor uniform(std::vector<int64_t> sizes, Generator& gen, double low, double high, DType dtype,
               CallSite site) {
  CheckSizes("uniform", sizes, dtype);
  CheckFloating("uniform", dtype, sizes);
  if (!(low < high) || !std::isfinite(low) || !std::isfinite(high)) {
    ThrowOpError("uniform: expected finite bounds low < high, got low=", low, " high=", high);
  }
  std::vector<double> values = HostValues<double>("uniform", sizes);
  internal::KeepGeneratorWhilePrecompiling keep(gen);
  for (double& v : values)
    v = std::min(low + (high - low) * gen.NextDouble(), std::nextafter(high, low));
  return Upload("uniform", values, sizes, dtype, site, static_cast<float>(high));
}

Tensor randn(std::vector<int64_t> sizes, Generator& gen, DType dtype, CallSite site) {
  CheckSizes("randn", sizes, dtype);
  CheckFloating("randn", dtype, sizes);
  std::vector<double> values = HostValues<double>("randn", sizes);
  internal::KeepGeneratorWhilePrecompiling keep(gen);
  for (double& v : values) v = gen.NextNormal();
  return Upload("randn", values, sizes, dtype, site);
}

Tensor rand_like(const Tensor& x, Generator& gen, CallSite site) {
  internal::CheckOperand("rand_like", x);
  std::vector<int64_t> sizes(x.sizes().begin(), x.sizes().end());
  CheckFloating("rand_like", x.dtype(), sizes);
  return internal::RandUniformTensor(std::move(sizes), x.dtype(), gen, x, site);
}

Tensor randn_like(const Tensor& x, Generator& gen, CallSite site) {
  internal::CheckOperand("randn_like", x);
  CheckFloating("randn_like", x.dtype(), {x.sizes().begin(), x.sizes().end()});
  // Box-Muller: 1 - u lies in (0, 1], so the log is finite.
  const Tensor u = rand_like(x, gen, site);
  const Tensor v = rand_like(x, gen, site);
  const Tensor radius = sqrt(mul(log(sub(1.0, u, site), site), -2.0, site), site);
  return mul(radius, cos(mul(v, 6.283185307179586, site), site), site);
}

Tensor normal(std::vector<int64_t> sizes, Generator& gen, double mean, double std, DType dtype,
              CallSite site) {
  CheckSizes("normal", sizes, dtype);
  CheckFloating("normal", dtype, sizes);
  if (!(std >= 0) || !std::isfinite(mean) || !std::isfinite(std)) {
    ThrowOpError("normal: expected a finite mean and std >= 0, got mean=", mean, " std=", std);
  }
  std::vector<double> values = HostValues<double>("normal", sizes);
  internal::KeepGeneratorWhilePrecompiling keep(gen);
  for (double& v : values) v = mean + std * gen.NextNormal();
  return Upload("normal", values, sizes, dtype, site);
}

Tensor trunc_normal(std::vector<int64_t> sizes, Generator& gen, double mean, double std, double a,
                    double b, DType dtype, CallSite site) {
  CheckSizes("trunc_normal", sizes, dtype);
  CheckFloating("trunc_normal", dtype, sizes);
  if (!(std > 0) || !(a < b) || !std::isfinite(mean) || !std::isfinite(std)) {
    ThrowOpError("trunc_normal: expected std > 0 and a < b, got mean=", mean, " std=", std,
                 " a=", a, " b=", b);
  }
  // Redrawing needs about 1/mass draws per value; refuse bounds that would never finish.
  constexpr double kMinMass = 1e-4;
  if (NormalMass(mean, std, a, b) < kMinMass) {
    ThrowOpError("trunc_normal: [", a, ", ", b, "] holds almost none of Normal(", mean, ", ", std,
                 "); expected bounds near the mean");
  }
  std::vector<double> values = HostValues<double>("trunc_normal", sizes);
  internal::KeepGeneratorWhilePrecompiling keep(gen);
  for (double& v : values) {
    do {
      v = mean + std * gen.NextNormal();
    } while (v < a || v > b);
  }
  return Upload("trunc_normal", values, sizes, dtype, site);
}

}  // namespace kiln
