#include "lazy/autograd_formulas.h"

#include <cstdint>
#include <numbers>
#include <vector>

#include "absl/strings/str_cat.h"
#include "lazy/op_utils.h"
#include "lazy/ops.h"
#include "lazy/scalar_tensor.h"
#include "lazy/tensor_impl.h"
#include "util/error.h"

namespace kiln::autograd {
namespace {

std::vector<int64_t> ToVector(const Sizes& sizes) {
  return std::vector<int64_t>(sizes.begin(), sizes.end());
}

// Fixed coefficients of the formulas are baked constants: they never vary, and code
// generation can fold them.
Tensor Constant(double value, const Tensor& like, const CallSite& site) {
  return internal::ConstantTensor(value, like.dtype(), like, site);
}

Tensor ZerosOf(const Shape& shape, const Tensor& like, const CallSite& site) {
  return expand(internal::ConstantTensor(0.0, shape.dtype(), like, site), ToVector(shape.sizes()),
                site);
}

Tensor AsDType(const Tensor& mask, const Tensor& like, const CallSite& site) {
  return internal::CastTo(mask, like.dtype(), site);
}

// Pads (or, for negative amounts, crops) dimension `dim` of `x` only.
Tensor PadDim(const Tensor& x, int64_t dim, int64_t lo, int64_t hi, const CallSite& site) {
  if (lo == 0 && hi == 0) return x;
  // torch.nn.functional.pad order: the last dimension first.
  std::vector<int64_t> pads(2 * (x.dim() - dim), 0);
  pads[2 * (x.dim() - 1 - dim)] = lo;
  pads[2 * (x.dim() - 1 - dim) + 1] = hi;
  return pad(x, std::move(pads), 0.0, site);
}

// The gradient of a reduction's output, reshaped to keep the reduced dimensions (size 1)
// so that it broadcasts against the input.
Tensor KeepReducedDims(const ForwardOp& op, const Tensor& g) {
  if (op.attrs().GetBool("keepdim")) return g;
  std::vector<int64_t> kept = ToVector(op.node().operand(0).shape().sizes());
  for (int64_t d : op.attrs().GetInts("dims")) kept[d] = 1;
  return reshape(g, std::move(kept), op.site());
}

// max/min over dims: the gradient is shared evenly by every element equal to the
// extremum (torch.amax semantics), so a tie splits it instead of picking one winner.
Tensor ExtremumGradient(const ForwardOp& op, const Tensor& grad) {
  const CallSite& site = op.site();
  const Tensor x = op.operand(0);
  Tensor out = KeepReducedDims(op, op.output());
  Tensor mask = AsDType(eq(x, out, site), grad, site);
  Tensor count = sum(mask, op.attrs().GetInts("dims"), /*keepdim=*/true, site);
  return mul(mask, div(KeepReducedDims(op, grad), count, site), site);
}

// Each factor's gradient is the product of the others: the product divided by the factor
// where no factor is 0; where one is, only that factor has a gradient (the product of
// the rest), and where several are, none has (as in torch).
Tensor ProdGradient(const ForwardOp& op, const Tensor& grad) {
  const CallSite& site = op.site();
  const Tensor x = op.operand(0);
  const std::vector<int64_t> dims = op.attrs().GetInts("dims");
  const Tensor zero = eq(x, 0, site);
  const Tensor nonzero = where(zero, 1, x, site);
  // grad times the product of the factors that are not 0.
  const Tensor scaled =
      mul(KeepReducedDims(op, grad), prod(nonzero, dims, /*keepdim=*/true, site), site);
  const Tensor zeros = sum(zero, dims, /*keepdim=*/true, site);
  return where(zero, where(eq(zeros, 1, site), scaled, 0, site),
               where(eq(zeros, 0, site), div(scaled, nonzero, site), 0, site), site);
}

void MatmulGradients(const ForwardOp& op, const Tensor& grad, absl::Span<const bool> needs,
                     absl::Span<Tensor> grads) {
  // IR matmul operands have rank >= 2 (the lazy layer reshapes 1-D ones), so both
  // products below are plain batched matmuls; broadcast batch dimensions sum back.
  const CallSite& site = op.site();
  const Shape& a = op.node().operand(0).shape();
  const Shape& b = op.node().operand(1).shape();
  const Sizes& out = op.node().shape().sizes();
  const auto batch_of = [](const Sizes& s) { return Sizes(s.begin(), s.end() - 2); };
  const bool same_batch =
      batch_of(a.sizes()) == batch_of(out) && batch_of(b.sizes()) == batch_of(out);
  // An operand that is a transpose T^T gets its gradient as (dT)^T, with dT computed by
  // the product that yields T's own layout: the two transposes cancel in the graph, so
  // BLAS writes dT (a weight's gradient) in the layout its update reads, and in the
  // orientation OpenBLAS runs fastest, instead of writing dT^T for a strided update.
  if (needs[0]) {
    if (same_batch && IsLastTwoTranspose(*op.node().operand(0).node)) {
      const Tensor gt = transpose(grad, -1, -2, site);
      grads[0] = transpose(matmul(op.operand(1), gt, site), -1, -2, site);
    } else {
      const Tensor bt = transpose(op.operand(1), -1, -2, site);
      grads[0] = SumToSizes(matmul(grad, bt, site), a.sizes(), site);
    }
  }
  if (needs[1]) {
    if (same_batch && IsLastTwoTranspose(*op.node().operand(1).node)) {
      const Tensor gt = transpose(grad, -1, -2, site);
      grads[1] = transpose(matmul(gt, op.operand(0), site), -1, -2, site);
    } else {
      const Tensor at = transpose(op.operand(0), -1, -2, site);
      grads[1] = SumToSizes(matmul(at, grad, site), b.sizes(), site);
    }
  }
}

// slice(dim, start, end, step): scatters the gradient back into zeros. For step > 1
// each gradient element is followed by step - 1 zeros (a pad of an inserted dimension,
// then a reshape that interleaves them), and a final pad along `dim` places the result.
Tensor SliceGradient(const ForwardOp& op, const Tensor& grad) {
  const CallSite& site = op.site();
  const Shape& in = op.node().operand(0).shape();
  const Attributes& attrs = op.attrs();
  const int64_t dim = attrs.GetInt("dim");
  const int64_t start = attrs.GetInt("start");
  const int64_t step = attrs.GetInt("step");
  const int64_t n = grad.sizes()[dim];
  if (n == 0) return ZerosOf(in, grad, site);
  Tensor g = grad;
  int64_t covered = n;
  if (step > 1) {
    std::vector<int64_t> split = ToVector(grad.sizes());
    split.insert(split.begin() + dim + 1, 1);
    g = PadDim(reshape(g, split, site), dim + 1, 0, step - 1, site);
    covered = n * step;
    std::vector<int64_t> merged = ToVector(grad.sizes());
    merged[dim] = covered;
    g = reshape(g, std::move(merged), site);
    // The trailing zeros after the last element may run past the input's end.
    const int64_t room = in.size(dim) - start;
    if (covered > room) {
      g = slice(g, dim, 0, room, 1, site);
      covered = room;
    }
  }
  return PadDim(g, dim, start, in.size(dim) - start - covered, site);
}

void UnaryGradient(const ForwardOp& op, const Tensor& grad, Tensor& out_grad) {
  const CallSite& site = op.site();
  const auto c = [&](double value) { return Constant(value, grad, site); };
  switch (op.kind()) {
    case OpKind::kNeg:
      out_grad = neg(grad, site);
      return;
    case OpKind::kAbs: {
      // sign(x), which is 0 at 0 as in PyTorch.
      const Tensor x = op.operand(0);
      Tensor sign =
          sub(AsDType(gt(x, c(0), site), grad, site), AsDType(lt(x, c(0), site), grad, site), site);
      out_grad = mul(grad, sign, site);
      return;
    }
    case OpKind::kExp:
      out_grad = mul(grad, op.output(), site);
      return;
    case OpKind::kLog:
      out_grad = div(grad, op.operand(0), site);
      return;
    case OpKind::kSqrt:  // 1 / (2 sqrt(x))
      out_grad = div(grad, mul(op.output(), c(2), site), site);
      return;
    case OpKind::kRsqrt: {  // -x^(-3/2) / 2 = -rsqrt(x)^3 / 2
      const Tensor y = op.output();
      out_grad = mul(grad, mul(mul(mul(y, y, site), y, site), c(-0.5), site), site);
      return;
    }
    case OpKind::kTanh: {
      const Tensor y = op.output();
      out_grad = mul(grad, sub(c(1), mul(y, y, site), site), site);
      return;
    }
    case OpKind::kErf: {  // 2 / sqrt(pi) * exp(-x^2)
      const Tensor x = op.operand(0);
      Tensor bell = exp(neg(mul(x, x, site), site), site);
      out_grad = mul(grad, mul(bell, c(2 * std::numbers::inv_sqrtpi), site), site);
      return;
    }
    case OpKind::kSigmoid: {
      const Tensor y = op.output();
      out_grad = mul(grad, mul(y, sub(c(1), y, site), site), site);
      return;
    }
    case OpKind::kRelu:  // 0 at 0, as in PyTorch
      out_grad = where(gt(op.output(), c(0), site), grad, c(0), site);
      return;
    case OpKind::kSin:
      out_grad = mul(grad, cos(op.operand(0), site), site);
      return;
    case OpKind::kCos:
      out_grad = neg(mul(grad, sin(op.operand(0), site), site), site);
      return;
    case OpKind::kFloor:  // piecewise constant: zero almost everywhere, as in PyTorch
    case OpKind::kCeil:
    case OpKind::kRound:
      out_grad = ZerosOf(op.node().shape(), grad, site);
      return;
    case OpKind::kCast:
      out_grad = internal::CastTo(grad, op.node().operand(0).shape().dtype(), site);
      return;
    default:
      break;
  }
  throw Error(absl::StrCat("backward: ", OpName(op.kind()), " has no gradient formula"));
}

// The binary elementwise ops: both gradients before summing back over broadcasting.
void BinaryGradients(const ForwardOp& op, const Tensor& grad, absl::Span<const bool> needs,
                     Tensor& ga, Tensor& gb) {
  const CallSite& site = op.site();
  const auto c = [&](double value) { return Constant(value, grad, site); };
  const Tensor a = op.operand(0);
  const Tensor b = op.operand(1);
  switch (op.kind()) {
    case OpKind::kAdd:
      ga = grad;
      gb = grad;
      return;
    case OpKind::kSub:
      ga = grad;
      if (needs[1]) gb = neg(grad, site);
      return;
    case OpKind::kMul:
      if (needs[0]) ga = mul(grad, b, site);
      if (needs[1]) gb = mul(grad, a, site);
      return;
    case OpKind::kDiv:
      if (needs[0]) ga = div(grad, b, site);
      if (needs[1]) gb = neg(div(mul(grad, op.output(), site), b, site), site);  // -g a / b^2
      return;
    case OpKind::kPow: {
      const Tensor zero = c(0);
      if (needs[0]) {
        // b a^(b-1), forced to 0 where b == 0 so that 0^-1 cannot turn it into NaN.
        Tensor d = mul(b, pow(a, sub(b, c(1), site), site), site);
        ga = where(eq(b, zero, site), zero, mul(grad, d, site), site);
      }
      if (needs[1]) {
        // a^b log(a). At a == 0 with b >= 0 the value is 0 (or 1) for every nearby b >= 0,
        // so the gradient is taken as 0 there rather than 0 * -inf (PyTorch does the
        // same); a < 0 gives NaN, as the real power has no derivative in b there.
        Tensor d = mul(op.output(), log(a, site), site);
        Tensor flat = logical_and(eq(a, zero, site), ge(b, zero, site), site);
        gb = where(flat, zero, mul(grad, d, site), site);
      }
      return;
    }
    case OpKind::kMaximum:
    case OpKind::kMinimum: {
      // The larger (smaller) operand takes the gradient; a tie splits it evenly.
      const bool is_max = op.kind() == OpKind::kMaximum;
      const Tensor zero = c(0);
      Tensor shared = where(eq(a, b, site), mul(grad, c(0.5), site), grad, site);
      if (needs[0]) ga = where(is_max ? lt(a, b, site) : gt(a, b, site), zero, shared, site);
      if (needs[1]) gb = where(is_max ? gt(a, b, site) : lt(a, b, site), zero, shared, site);
      return;
    }
    default:
      break;
  }
  throw Error(absl::StrCat("backward: ", OpName(op.kind()), " has no gradient formula"));
}

}  // namespace

Tensor SumToSizes(const Tensor& grad, const Sizes& sizes, const CallSite& site) {
  const Sizes& from = grad.sizes();
  if (from == sizes) return grad;
  const int64_t lead = static_cast<int64_t>(from.size()) - static_cast<int64_t>(sizes.size());
  std::vector<int64_t> dims;
  for (int64_t d = 0; d < static_cast<int64_t>(from.size()); ++d) {
    if (d < lead || (sizes[d - lead] == 1 && from[d] != 1)) dims.push_back(d);
  }
  Tensor summed = dims.empty() ? grad : sum(grad, dims, /*keepdim=*/true, site);
  return reshape(summed, ToVector(sizes), site);
}

void OpGradients(const ForwardOp& op, const Tensor& grad, absl::Span<const bool> needs,
                 absl::Span<Tensor> grads) {
  const CallSite& site = op.site();
  const Shape& in = op.node().operand(0).shape();
  // The operand's sizes: elementwise ops broadcast, so their gradients are summed back.
  const auto to_operand = [&](int i, const Tensor& g) {
    return SumToSizes(g, op.node().operand(i).shape().sizes(), site);
  };
  switch (op.kind()) {
    case OpKind::kNeg:
    case OpKind::kAbs:
    case OpKind::kExp:
    case OpKind::kLog:
    case OpKind::kSqrt:
    case OpKind::kRsqrt:
    case OpKind::kTanh:
    case OpKind::kErf:
    case OpKind::kSigmoid:
    case OpKind::kRelu:
    case OpKind::kSin:
    case OpKind::kCos:
    case OpKind::kFloor:
    case OpKind::kCeil:
    case OpKind::kRound:
    case OpKind::kCast:
      if (needs[0]) UnaryGradient(op, grad, grads[0]);
      return;
    case OpKind::kAdd:
    case OpKind::kSub:
    case OpKind::kMul:
    case OpKind::kDiv:
    case OpKind::kPow:
    case OpKind::kMaximum:
    case OpKind::kMinimum: {
      Tensor ga, gb;
      BinaryGradients(op, grad, needs, ga, gb);
      if (needs[0]) grads[0] = to_operand(0, ga);
      if (needs[1]) grads[1] = to_operand(1, gb);
      return;
    }
    case OpKind::kWhere: {  // the bool condition (operand 0) has no gradient
      const Tensor cond = op.operand(0);
      const Tensor zero = Constant(0, grad, site);
      if (needs[1]) grads[1] = to_operand(1, where(cond, grad, zero, site));
      if (needs[2]) grads[2] = to_operand(2, where(cond, zero, grad, site));
      return;
    }
    case OpKind::kSum:
      grads[0] = expand(KeepReducedDims(op, grad), ToVector(in.sizes()), site);
      return;
    case OpKind::kMean: {
      int64_t count = 1;
      for (int64_t d : op.attrs().GetInts("dims")) count *= in.size(d);
      // An empty reduction has an empty input, so the scale never reaches an element. The
      // scale is a runtime scalar, not a constant: it depends on the sizes, and graphs that
      // differ only in batch or sequence size must generate the same code.
      Tensor scaled = internal::RecordScalarOp(OpKind::kMul, KeepReducedDims(op, grad),
                                               count == 0 ? 0.0 : 1.0 / count,
                                               /*scalar_first=*/false, site);
      grads[0] = expand(scaled, ToVector(in.sizes()), site);
      return;
    }
    case OpKind::kProd:
      grads[0] = ProdGradient(op, grad);
      return;
    case OpKind::kMax:
    case OpKind::kMin:
      grads[0] = ExtremumGradient(op, grad);
      return;
    case OpKind::kMatmul:
      MatmulGradients(op, grad, needs, grads);
      return;
    case OpKind::kReshape:
      grads[0] = reshape(grad, ToVector(in.sizes()), site);
      return;
    case OpKind::kPermute: {
      const std::vector<int64_t> perm = op.attrs().GetInts("perm");
      std::vector<int64_t> inverse(perm.size());
      for (size_t i = 0; i < perm.size(); ++i) inverse[perm[i]] = static_cast<int64_t>(i);
      grads[0] = permute(grad, std::move(inverse), site);
      return;
    }
    case OpKind::kExpand:
      grads[0] = to_operand(0, grad);
      return;
    case OpKind::kSlice:
      grads[0] = SliceGradient(op, grad);
      return;
    case OpKind::kConcat: {
      const int64_t dim = op.attrs().GetInt("dim");
      int64_t offset = 0;
      for (size_t i = 0; i < needs.size(); ++i) {
        const int64_t size = op.node().operand(static_cast<int>(i)).shape().size(dim);
        if (needs[i]) grads[i] = slice(grad, dim, offset, offset + size, 1, site);
        offset += size;
      }
      return;
    }
    case OpKind::kPad: {
      // The adjoint of padding is cropping and vice versa: pad by the negated amounts
      // (converted from the IR's [lo0, hi0, ...] to torch's last-dimension-first order).
      const std::vector<int64_t> pads = op.attrs().GetInts("pads");
      const size_t rank = pads.size() / 2;
      std::vector<int64_t> inverse(pads.size());
      for (size_t d = 0; d < rank; ++d) {
        inverse[2 * (rank - 1 - d)] = -pads[2 * d];
        inverse[2 * (rank - 1 - d) + 1] = -pads[2 * d + 1];
      }
      grads[0] = pad(grad, std::move(inverse), 0.0, site);
      return;
    }
    case OpKind::kGather:  // every gathered element sends its gradient back to its source
      if (needs[0]) {
        grads[0] = scatter_add(ZerosOf(in, grad, site), op.attrs().GetInt("dim"), op.operand(1),
                               grad, site);
      }
      return;
    case OpKind::kIndexSelect: {
      if (!needs[0]) return;
      // index_select is a gather whose index is the 1-D index broadcast over the other
      // dimensions, so its gradient is the matching scatter_add.
      const int64_t dim = op.attrs().GetInt("dim");
      std::vector<int64_t> column(grad.dim(), 1);
      column[dim] = grad.sizes()[dim];
      Tensor index =
          expand(reshape(op.operand(1), std::move(column), site), ToVector(grad.sizes()), site);
      grads[0] = scatter_add(ZerosOf(in, grad, site), dim, index, grad, site);
      return;
    }
    case OpKind::kScatterAdd: {  // (self, index, src)
      if (needs[0]) grads[0] = grad;
      if (needs[2]) {
        // src elements outside index's extent are never added: their gradient is 0.
        Tensor picked = gather(grad, op.attrs().GetInt("dim"), op.operand(1), site);
        const Shape& src = op.node().operand(2).shape();
        if (picked.sizes() != src.sizes()) {
          std::vector<int64_t> pads;
          for (int64_t d = src.rank() - 1; d >= 0; --d) {
            pads.push_back(0);
            pads.push_back(src.size(d) - picked.sizes()[d]);
          }
          picked = pad(picked, std::move(pads), 0.0, site);
        }
        grads[2] = picked;
      }
      return;
    }
    default:
      throw Error(absl::StrCat("backward: ", OpName(op.kind()), " has no gradient formula"));
  }
}

}  // namespace kiln::autograd
