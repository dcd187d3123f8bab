#include "tests/differential/random_graph.h"

#include <algorithm>
#include <numeric>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "lazy/composite_ops.h"
#include "lazy/creation.h"
#include "lazy/device.h"
#include "lazy/generator.h"
#include "lazy/ops.h"
#include "lazy/scalar_tensor.h"
#include "lazy/tensor.h"
#include "tests/differential/value_ranges.h"
#include "util/error.h"

namespace kiln::differential {
namespace {

// Values may grow to this magnitude: f32 keeps 3-4 significant digits of headroom above
// rounding noise in sums and products of them.
constexpr double kMaxMagnitude = 1e4;

class GraphGenerator {
 public:
  GraphGenerator(uint64_t seed, const RandomGraphOptions& options)
      : rng_(seed), noise_(seed), options_(options) {}

  Graph Generate();

 private:
  // Random numbers.
  int64_t Uniform(int64_t lo, int64_t hi) {
    return std::uniform_int_distribution<int64_t>(lo, hi)(rng_);
  }
  bool Chance(double p) { return std::bernoulli_distribution(p)(rng_); }
  template <typename T>
  const T& OneOf(const std::vector<T>& choices) {
    return choices[Uniform(0, static_cast<int64_t>(choices.size()) - 1)];
  }
  DType RandomDType();
  std::vector<int64_t> RandomSizes();

  // A new parameter (a DeviceData leaf; its values come from the runner).
  Tensor Leaf(DType dtype, const std::vector<int64_t>& sizes);
  // An integer index parameter of `sizes`, in range for the dimension it indexes.
  Tensor IndexLeaf(const std::vector<int64_t>& sizes);
  // A pool value, recent ones more often.
  const Tensor& Pick();
  // A pool value whose elements are exact (value_ranges.h), or null.
  const Tensor* PickExact();
  // A second operand for `a`: a pool value or a new leaf broadcasting against it.
  Tensor Partner(const Tensor& a);
  Tensor Constant(double value, const Tensor& like) {
    return internal::ConstantTensor(value, like.dtype(), like, {});
  }
  // Positive, at least 0.5 (integers: 1): a safe argument for log, sqrt and division.
  Tensor AwayFromZero(const Tensor& x) {
    return add(abs(x), Constant(IsFloating(x.dtype()) ? 0.5 : 1, x));
  }
  bool IsExact(const Tensor& t) { return ranges_.Of(t.value().node).exact; }
  int64_t RandomDim(const Tensor& t) { return Uniform(0, t.dim() - 1); }

  // One random op on pool values; nullopt when the draw does not apply.
  std::optional<Tensor> RandomOp();
  std::optional<Tensor> Unary(const Tensor& x);
  std::optional<Tensor> Binary(const Tensor& a);
  std::optional<Tensor> Comparison();
  std::optional<Tensor> Reduction(const Tensor& x);
  std::optional<Tensor> Matmul(const Tensor& a);
  std::optional<Tensor> Movement(const Tensor& x);
  std::optional<Tensor> Indexing(const Tensor& x);
  std::optional<Tensor> Composite(const Tensor& x);
  // Adds `t` to the pool when its range is valid, finite and small enough.
  bool Keep(const Tensor& t);
  // The gradients of the parameters that require grad, from a random loss over `outputs`.
  std::vector<Tensor> Backward(const std::vector<Tensor>& outputs);

  std::mt19937_64 rng_;
  Generator noise_;  // keys of the random numbers drawn inside graphs (rand_like)
  RandomGraphOptions options_;
  ValueRanges ranges_;
  std::vector<Tensor> pool_;
  std::vector<Tensor> grad_leaves_;
  bool backward_ = false;
};

DType GraphGenerator::RandomDType() {
  const int r = static_cast<int>(Uniform(0, 19));
  if (r < 13) return DType::kF32;
  if (r < 15) return DType::kF64;
  if (r < 17) return DType::kI32;
  if (r < 18) return DType::kI64;
  return DType::kBool;
}

std::vector<int64_t> GraphGenerator::RandomSizes() {
  static const std::vector<int64_t> kSizes = {1, 1, 2, 3, 4, 5, 7, 8, 16, 17, 33, 64};
  const int rank = static_cast<int>(OneOf<int64_t>({0, 1, 1, 2, 2, 2, 3, 3, 4}));
  std::vector<int64_t> sizes;
  int64_t numel = 1;
  for (int d = 0; d < rank; ++d) {
    int64_t size = Chance(0.02) ? 0 : OneOf(kSizes);
    while (size > 1 && numel * size > options_.max_numel / 4) size /= 2;
    sizes.push_back(size);
    numel *= std::max<int64_t>(size, 1);
  }
  return sizes;
}

Tensor GraphGenerator::Leaf(DType dtype, const std::vector<int64_t>& sizes) {
  const int64_t n =
      std::accumulate(sizes.begin(), sizes.end(), int64_t{1}, std::multiplies<int64_t>());
  Tensor t;
  switch (dtype) {
    case DType::kF64:
      t = Tensor::from_vector(std::vector<double>(n), sizes);
      break;
    case DType::kI32:
      t = Tensor::from_vector(std::vector<int32_t>(n), sizes);
      break;
    case DType::kI64:
      t = Tensor::from_vector(std::vector<int64_t>(n), sizes);
      break;
    case DType::kBool:
      t = Tensor::from_vector(std::vector<bool>(n), sizes);
      break;
    default:
      t = Tensor::from_vector(std::vector<float>(n), sizes);
      break;
  }
  if (backward_ && IsFloating(dtype) && Chance(0.7)) {
    t.requires_grad_();
    grad_leaves_.push_back(t);
  }
  return t;
}

Tensor GraphGenerator::IndexLeaf(const std::vector<int64_t>& sizes) {
  return Leaf(Chance(0.5) ? DType::kI64 : DType::kI32, sizes);
}

const Tensor& GraphGenerator::Pick() {
  const int64_t back = std::geometric_distribution<int64_t>(0.45)(rng_);
  const int64_t last = static_cast<int64_t>(pool_.size()) - 1;
  return pool_[last - std::min(back, last)];
}

const Tensor* GraphGenerator::PickExact() {
  for (int tries = 0; tries < 4; ++tries) {
    const Tensor& t = Pick();
    if (IsExact(t)) return &t;
  }
  return nullptr;
}

Tensor GraphGenerator::Partner(const Tensor& a) {
  if (Chance(0.4)) return Pick();
  if (a.dim() > 0 && Chance(0.08)) {  // a ramp along the last dimension
    const double n = static_cast<double>(a.size(-1));
    return IsFloating(a.dtype())
               ? arange(-1, -1 + 0.25 * n, 0.25, a.dtype())
               : arange(0, n, 1, a.dtype() == DType::kBool ? DType::kI32 : a.dtype());
  }
  if (IsFloating(a.dtype()) && Chance(0.12)) return rand_like(a, noise_);
  std::vector<int64_t> sizes(a.sizes().begin(), a.sizes().end());
  if (!sizes.empty() && Chance(0.2))
    sizes.erase(sizes.begin(), sizes.begin() + Uniform(1, sizes.size()));
  for (int64_t& s : sizes) {
    if (Chance(0.3)) s = 1;
  }
  return Leaf(Chance(0.8) ? a.dtype() : RandomDType(), sizes);
}

std::optional<Tensor> GraphGenerator::Unary(const Tensor& x) {
  switch (Uniform(0, 17)) {
    case 0:
      return neg(x);
    case 1:
      return abs(x);
    case 2:
      return relu(x);
    case 3:
      return tanh(x);
    case 4:
      return erf(x);
    case 5:
      return sigmoid(x);
    case 6:
      return sin(x);
    case 7:
      return cos(x);
    case 8:
      return exp(x);
    case 9:
      return log(AwayFromZero(x));
    case 10:
      return sqrt(AwayFromZero(x));
    case 11:
      return rsqrt(AwayFromZero(x));
    case 12:
      if (!IsExact(x)) return std::nullopt;
      return logical_not(x);
    case 13: {
      // Discontinuous: exact values only.
      if (!IsExact(x)) return std::nullopt;
      const int which = Uniform(0, 2);
      return which == 0 ? floor(x) : which == 1 ? ceil(x) : round(x);
    }
    case 14:
      return log1p(AwayFromZero(x));
    case 15:
      return expm1(x);
    default: {
      const DType to = RandomDType();
      // A float -> integer or bool cast is discontinuous: exact values only.
      if (IsFloating(x.dtype()) && !IsFloating(to) && !IsExact(x)) return std::nullopt;
      return cast(x, to);
    }
  }
}

std::optional<Tensor> GraphGenerator::Binary(const Tensor& a) {
  const Tensor b = Partner(a);
  switch (Uniform(0, 9)) {
    case 0:
      return add(a, b);
    case 1:
      return sub(a, b);
    case 2:
      return mul(a, b);
    case 3:
      return div(a, AwayFromZero(b));
    case 4:
      return pow(AwayFromZero(a), IsFloating(b.dtype()) ? tanh(b) : b);
    case 5:
      return maximum(a, b);
    case 6:
      return minimum(a, b);
    case 7:
      return mul(a, Scalar(static_cast<double>(Uniform(-20, 20)) / 8));
    case 8:
      return add(a, Scalar(static_cast<double>(Uniform(-20, 20)) / 8));
    default:
      return sub(Scalar(static_cast<int>(Uniform(-3, 3))), a);
  }
}

std::optional<Tensor> GraphGenerator::Comparison() {
  const Tensor* a = PickExact();
  if (a == nullptr) return std::nullopt;
  Tensor b = Partner(*a);
  if (!IsExact(b)) return std::nullopt;
  switch (Uniform(0, 8)) {
    case 0:
      return lt(*a, b);
    case 1:
      return le(*a, b);
    case 2:
      return gt(*a, b);
    case 3:
      return ge(*a, b);
    case 4:
      return eq(*a, b);
    case 5:
      return ne(*a, b);
    case 6:
      return logical_and(*a, b);
    case 7:
      return logical_or(*a, b);
    default: {
      const Tensor cond = OneOf<int>({0, 1}) ? gt(*a, b) : logical_not(*a);
      const Tensor& x = Pick();
      return where(cond, x, Partner(x));
    }
  }
}

std::optional<Tensor> GraphGenerator::Reduction(const Tensor& x) {
  std::vector<int64_t> dims;
  for (int64_t d = 0; d < x.dim(); ++d) {
    if (Chance(0.5)) dims.push_back(d);
  }
  if (Chance(0.3)) std::shuffle(dims.begin(), dims.end(), rng_);
  const bool keepdim = Chance(0.5);
  switch (Uniform(0, 5)) {
    case 0:
      return sum(x, dims, keepdim);
    case 1:
      return mean(x, dims, keepdim);
    case 2:
      return max(x, dims, keepdim);
    case 3:
      return min(x, dims, keepdim);
    case 4:
      return prod(x, dims, keepdim);
    default:
      if (!IsExact(x)) return std::nullopt;  // near-ties would pick different indices
      const bool smallest = Chance(0.3);
      if (x.dim() == 0 || Chance(0.2)) return smallest ? argmin(x) : argmax(x);
      const int64_t dim = RandomDim(x);
      return smallest ? argmin(x, dim, keepdim) : argmax(x, dim, keepdim);
  }
}

std::optional<Tensor> GraphGenerator::Matmul(const Tensor& a) {
  if (a.dim() == 0) return std::nullopt;
  const int64_t k = a.size(-1);
  if (Chance(0.3)) return matmul(a, Pick());
  std::vector<int64_t> sizes;
  if (a.dim() >= 3 && Chance(0.5)) {  // batched, broadcasting the batch dimensions
    for (int64_t d = 0; d + 2 < a.dim(); ++d) sizes.push_back(Chance(0.3) ? 1 : a.size(d));
  }
  const DType dtype = Chance(0.9) ? a.dtype() : RandomDType();
  const int64_t n = OneOf<int64_t>({1, 3, 8, 16, 33});
  if (sizes.empty() && Chance(0.15)) {  // a matrix-vector product
    sizes.push_back(k);
    return matmul(a, Leaf(dtype, sizes));
  }
  if (Chance(0.3)) {  // x @ W^T, as a Linear layer computes it
    sizes.insert(sizes.end(), {n, k});
    return matmul(a, transpose(Leaf(dtype, sizes), -1, -2));
  }
  sizes.insert(sizes.end(), {k, n});
  return matmul(a, Leaf(dtype, sizes));
}

std::optional<Tensor> GraphGenerator::Movement(const Tensor& x) {
  std::vector<int64_t> sizes(x.sizes().begin(), x.sizes().end());
  switch (Uniform(0, 9)) {
    case 0: {  // reshape into a random factorisation of the element count
      std::vector<int64_t> out;
      int64_t rest = x.numel();
      while (rest > 1 && out.size() < 3) {
        std::vector<int64_t> divisors;
        for (int64_t f = 2; f <= rest; ++f) {
          if (rest % f == 0) divisors.push_back(f);
        }
        const int64_t f = OneOf(divisors);
        out.push_back(f);
        rest /= f;
      }
      if (rest != 1) out.push_back(rest);
      if (Chance(0.3)) out.insert(out.begin() + Uniform(0, out.size()), 1);
      if (!out.empty() && Chance(0.3)) out[Uniform(0, out.size() - 1)] = -1;
      return reshape(x, out);
    }
    case 1: {
      std::vector<int64_t> perm(x.dim());
      std::iota(perm.begin(), perm.end(), 0);
      std::shuffle(perm.begin(), perm.end(), rng_);
      return permute(x, perm);
    }
    case 2:
      if (x.dim() < 2) return std::nullopt;
      return transpose(x, RandomDim(x), RandomDim(x));
    case 3: {  // size-1 dimensions stretch; sometimes a new leading one
      for (int64_t& s : sizes) {
        if (s == 1) s = OneOf<int64_t>({1, 2, 5});
      }
      if (Chance(0.3)) sizes.insert(sizes.begin(), OneOf<int64_t>({2, 3}));
      return expand(x, sizes);
    }
    case 4:
      return unsqueeze(x, Uniform(0, x.dim()));
    case 5: {
      if (x.dim() == 0) return std::nullopt;
      const int64_t dim = RandomDim(x);
      const int64_t n = x.size(dim);
      return slice(x, dim, Uniform(-n, n), Uniform(-n, n + 1), Uniform(1, 3));
    }
    case 6: {
      if (x.dim() == 0) return std::nullopt;
      const int64_t dim = RandomDim(x);
      std::vector<Tensor> parts = {x};
      for (int64_t i = Uniform(1, 2); i > 0; --i) {
        sizes[dim] = OneOf<int64_t>({0, 1, 3});
        parts.push_back(Chance(0.3) ? x : Leaf(x.dtype(), sizes));
      }
      std::shuffle(parts.begin(), parts.end(), rng_);
      return concat(parts, dim);
    }
    case 7: {
      if (x.dim() == 0) return std::nullopt;
      std::vector<int64_t> pads;
      for (int64_t i = 2 * Uniform(1, std::min<int64_t>(x.dim(), 2)); i > 0; --i) {
        pads.push_back(Uniform(-1, 2));
      }
      return pad(x, pads, static_cast<double>(Uniform(-4, 4)) / 2);
    }
    case 8: {
      if (x.dim() == 0) return std::nullopt;
      const int64_t dim = RandomDim(x);
      if (x.size(dim) != 1) return std::nullopt;
      return squeeze(x, dim);
    }
    default:
      return flatten(x, Uniform(0, std::max<int64_t>(x.dim() - 1, 0)));
  }
}

std::optional<Tensor> GraphGenerator::Indexing(const Tensor& x) {
  if (x.dim() == 0) return std::nullopt;
  const int64_t dim = RandomDim(x);
  std::vector<int64_t> sizes(x.sizes().begin(), x.sizes().end());
  switch (Uniform(0, 2)) {
    case 0: {  // index no larger than x in the other dimensions
      for (int64_t& s : sizes) s = Uniform(std::min<int64_t>(s, 1), s);
      sizes[dim] = Uniform(1, 6);
      return gather(x, dim, IndexLeaf(sizes));
    }
    case 1:
      return index_select(x, dim, IndexLeaf({Uniform(0, 6)}));
    default: {
      std::vector<int64_t> src_sizes = sizes;
      src_sizes[dim] = Uniform(1, 6);
      const Tensor src = Leaf(x.dtype(), src_sizes);
      std::vector<int64_t> index_sizes = src_sizes;
      for (int64_t& s : index_sizes) s = Uniform(std::min<int64_t>(s, 1), s);
      return scatter_add(x, dim, IndexLeaf(index_sizes), src);
    }
  }
}

std::optional<Tensor> GraphGenerator::Composite(const Tensor& x) {
  if (!IsFloating(x.dtype()) || x.dim() == 0) return std::nullopt;
  const int64_t dim = RandomDim(x);
  Tensor result;
  ValueRange range;
  range.exact = false;
  switch (Uniform(0, 8)) {
    case 0:
      result = softmax(x, dim);
      range.lo = 0;
      range.hi = 1;
      break;
    case 1: {
      result = log_softmax(x, dim);
      const ValueRange& in = ranges_.Of(x.value().node);
      range.lo = in.lo - in.hi - std::log(static_cast<double>(std::max<int64_t>(x.size(dim), 1)));
      range.hi = 0;
      break;
    }
    case 2: {
      const std::vector<int64_t> normalized = {x.size(-1)};
      const Tensor weight = Chance(0.7) ? Leaf(x.dtype(), normalized) : Tensor();
      const Tensor bias = Chance(0.7) ? Leaf(x.dtype(), normalized) : Tensor();
      result = layer_norm(x, weight, bias);
      // |x - mean| / std is at most sqrt(n - 1) for a row of n.
      const double m = std::sqrt(static_cast<double>(std::max<int64_t>(x.size(-1), 1))) *
                           (weight.defined() ? kFloatInputBound : 1) +
                       (bias.defined() ? kFloatInputBound : 0);
      range.lo = -m;
      range.hi = m;
      break;
    }
    case 3: {
      result = gelu(x, Chance(0.5) ? GeluApproximation::kNone : GeluApproximation::kTanh);
      const ValueRange& in = ranges_.Of(x.value().node);
      range.lo = -0.2;
      range.hi = std::max(0.0, in.hi);
      break;
    }
    case 4: {
      result = cumsum(x, dim);
      const ValueRange& in = ranges_.Of(x.value().node);
      const double n = static_cast<double>(x.size(dim));
      range.lo = n * std::min(in.lo, 0.0);
      range.hi = n * std::max(in.hi, 0.0);
      break;
    }
    case 5: {
      result = cumprod(x, dim);
      // The hull of the running products' intervals, up to the magnitude that is rejected.
      const ValueRange& in = ranges_.Of(x.value().node);
      double lo = in.lo, hi = in.hi, running_lo = in.lo, running_hi = in.hi;
      for (int64_t k = 1; k < x.size(dim) && std::max(-lo, hi) <= kMaxMagnitude; ++k) {
        const double c[4] = {running_lo * in.lo, running_lo * in.hi, running_hi * in.lo,
                             running_hi * in.hi};
        running_lo = *std::min_element(c, c + 4);
        running_hi = *std::max_element(c, c + 4);
        lo = std::min(lo, running_lo);
        hi = std::max(hi, running_hi);
      }
      range.lo = lo;
      range.hi = hi;
      break;
    }
    case 6: {
      // The order of values that differ by rounding is not defined: exact values only.
      if (!IsExact(x)) return std::nullopt;
      const SortResult top = topk(x, Uniform(0, x.size(dim)), dim, Chance(0.5));
      const bool indices = Chance(0.5);
      result = indices ? top.indices : top.values;
      range = indices ? ValueRange{} : ranges_.Of(x.value().node);
      if (indices) range.hi = static_cast<double>(std::max<int64_t>(x.size(dim) - 1, 0));
      break;
    }
    case 7: {
      if (x.size(dim) == 0) return std::nullopt;  // -inf
      result = logsumexp(x, {dim}, Chance(0.5));
      const ValueRange& in = ranges_.Of(x.value().node);
      range.lo = in.lo;
      range.hi = in.hi + std::log(static_cast<double>(x.size(dim)));
      break;
    }
    default: {
      if (x.dim() != 2 || x.size(1) == 0) return std::nullopt;
      result = cross_entropy(x, IndexLeaf({x.size(0)}),
                             Chance(0.5) ? Reduction::kMean : Reduction::kNone);
      const ValueRange& in = ranges_.Of(x.value().node);
      range.lo = 0;
      range.hi = in.hi - in.lo + std::log(static_cast<double>(x.size(1)));
      break;
    }
  }
  // A composite is safe by construction; its inner divisions and logs are beyond what
  // an interval can see (a softmax's sum is at least 1).
  range.valid = ranges_.Of(x.value().node).valid;
  ranges_.Assume(result.value().node, range);
  return result;
}

std::optional<Tensor> GraphGenerator::RandomOp() {
  const Tensor x = Pick();
  const int r = static_cast<int>(Uniform(0, 99));
  if (r < 22) return Unary(x);
  if (r < 44) return Binary(x);
  if (r < 52) return Comparison();
  if (r < 64) return Reduction(x);
  if (r < 70) return Matmul(x);
  if (r < 86) return Movement(x);
  if (r < 93) return Indexing(x);
  return Composite(x);
}

bool GraphGenerator::Keep(const Tensor& t) {
  if (t.numel() > options_.max_numel) return false;
  const ValueRange& range = ranges_.Of(t.value().node);
  if (!range.valid || !range.finite() || range.magnitude() > kMaxMagnitude) return false;
  pool_.push_back(t);
  return true;
}

std::vector<Tensor> GraphGenerator::Backward(const std::vector<Tensor>& outputs) {
  Tensor loss;
  for (const Tensor& out : outputs) {
    if (!out.requires_grad()) continue;
    std::vector<int64_t> sizes(out.sizes().begin(), out.sizes().end());
    const Tensor term = sum(mul(out, Leaf(out.dtype(), sizes)));
    loss = loss.defined() ? add(loss, term) : term;
  }
  if (!loss.defined()) return {};
  loss.backward();
  std::vector<Tensor> grads;
  for (const Tensor& leaf : grad_leaves_) {
    if (leaf.grad().defined()) grads.push_back(leaf.grad());
  }
  return grads;
}

Graph GraphGenerator::Generate() {
  backward_ = Chance(options_.backward_probability);
  for (int64_t i = Uniform(1, 3); i > 0; --i) Keep(Leaf(RandomDType(), RandomSizes()));
  const int ops = static_cast<int>(Uniform(1, options_.max_ops));
  for (int i = 0; i < ops; ++i) {
    try {
      std::optional<Tensor> t = RandomOp();
      if (t.has_value()) Keep(*t);
    } catch (const Error&) {
      // An invalid draw (shapes that do not broadcast, an int mean, ...): draw again.
    }
  }
  std::vector<Tensor> outputs = {pool_.back()};
  for (int64_t i = Uniform(0, 2); i > 0; --i) outputs.push_back(Pick());
  if (backward_) {
    try {
      for (const Tensor& grad : Backward(outputs)) outputs.push_back(grad);
    } catch (const Error&) {
      // No differentiable path to a parameter: the forward graph alone.
    }
  }
  std::vector<Value> values;
  for (const Tensor& t : outputs) values.push_back(t.value());
  return Graph::Build(std::move(values));
}

}  // namespace

Graph RandomGraph(uint64_t seed, const RandomGraphOptions& options) {
  const std::string device = current_backend().name();
  set_device("interp");
  Graph graph = GraphGenerator(seed, options).Generate();
  set_device(device);
  return graph;
}

}  // namespace kiln::differential
