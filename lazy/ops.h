#pragma once
// Free functions for every op. All elementwise ops broadcast NumPy-style and promote
// dtypes as PyTorch does (bool < integers < floating; a Scalar never widens a tensor
// within its category; see lazy/scalar.h). Axes may be negative. Bad input throws
// kiln::Error naming the op, the shapes and what was expected, and changes nothing.
//
// Dtype rules that differ by op (as in PyTorch):
//   exp, log, sqrt, rsqrt, tanh, erf, sigmoid, sin, cos, div: integer/bool inputs are
//     computed in f32;
//   logical_*: any dtype, non-zero is true; comparisons and logical ops return bool;
//   sum and prod of bool/integers return i64; mean requires a floating dtype; argmax and argmin
//     return i64;
//   gather / index_select / scatter_add take i32 or i64 indices.
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "lazy/tensor.h"

namespace kiln {

// --- unary ---
Tensor neg(const Tensor& x, CallSite site = {});
Tensor abs(const Tensor& x, CallSite site = {});
// -1, 0 or 1 in x's dtype by the sign of x, as torch.sign: (x > 0) - (x < 0), so NaN and
// -0 give 0; bool x is returned as it is. No gradient flows through it (torch's is 0).
Tensor sign(const Tensor& x, CallSite site = {});
Tensor exp(const Tensor& x, CallSite site = {});
Tensor log(const Tensor& x, CallSite site = {});
Tensor sqrt(const Tensor& x, CallSite site = {});
Tensor rsqrt(const Tensor& x, CallSite site = {});
Tensor tanh(const Tensor& x, CallSite site = {});
Tensor erf(const Tensor& x, CallSite site = {});
Tensor sigmoid(const Tensor& x, CallSite site = {});
// x * sigmoid(x) (SiLU, swish).
Tensor silu(const Tensor& x, CallSite site = {});
Tensor relu(const Tensor& x, CallSite site = {});
Tensor sin(const Tensor& x, CallSite site = {});
Tensor cos(const Tensor& x, CallSite site = {});
// Rounding to an integral value in x's dtype; integer inputs are returned as they are.
// round: to the nearest, ties to even (as torch.round). Their gradients are zero.
Tensor floor(const Tensor& x, CallSite site = {});
Tensor ceil(const Tensor& x, CallSite site = {});
Tensor round(const Tensor& x, CallSite site = {});
Tensor logical_not(const Tensor& x, CallSite site = {});
// log(1 + x) and exp(x) - 1, accurate for small |x| (where 1 + x and exp(x) round to
// nearly 1); integer and bool inputs are computed in f32.
Tensor log1p(const Tensor& x, CallSite site = {});
Tensor expm1(const Tensor& x, CallSite site = {});
// Elementwise tests returning bool: NaN; +-inf; neither. Integers and bool are finite.
Tensor isnan(const Tensor& x, CallSite site = {});
Tensor isinf(const Tensor& x, CallSite site = {});
Tensor isfinite(const Tensor& x, CallSite site = {});
// Converts to `dtype` (float -> int truncates toward zero; non-zero -> true).
Tensor cast(const Tensor& x, DType dtype, CallSite site = {});

// --- binary (tensor or Scalar on either side where it makes sense) ---
Tensor add(const Tensor& a, const Tensor& b, CallSite site = {});
Tensor add(const Tensor& a, Scalar b, CallSite site = {});
Tensor sub(const Tensor& a, const Tensor& b, CallSite site = {});
Tensor sub(const Tensor& a, Scalar b, CallSite site = {});
Tensor sub(Scalar a, const Tensor& b, CallSite site = {});
Tensor mul(const Tensor& a, const Tensor& b, CallSite site = {});
Tensor mul(const Tensor& a, Scalar b, CallSite site = {});
// True division: integer operands are divided in f32.
Tensor div(const Tensor& a, const Tensor& b, CallSite site = {});
Tensor div(const Tensor& a, Scalar b, CallSite site = {});
Tensor div(Scalar a, const Tensor& b, CallSite site = {});
Tensor pow(const Tensor& a, const Tensor& b, CallSite site = {});
Tensor pow(const Tensor& a, Scalar b, CallSite site = {});
Tensor maximum(const Tensor& a, const Tensor& b, CallSite site = {});
Tensor maximum(const Tensor& a, Scalar b, CallSite site = {});
Tensor minimum(const Tensor& a, const Tensor& b, CallSite site = {});
Tensor minimum(const Tensor& a, Scalar b, CallSite site = {});
Tensor eq(const Tensor& a, const Tensor& b, CallSite site = {});
Tensor eq(const Tensor& a, Scalar b, CallSite site = {});
Tensor ne(const Tensor& a, const Tensor& b, CallSite site = {});
Tensor ne(const Tensor& a, Scalar b, CallSite site = {});
Tensor lt(const Tensor& a, const Tensor& b, CallSite site = {});
Tensor lt(const Tensor& a, Scalar b, CallSite site = {});
Tensor le(const Tensor& a, const Tensor& b, CallSite site = {});
Tensor le(const Tensor& a, Scalar b, CallSite site = {});
Tensor gt(const Tensor& a, const Tensor& b, CallSite site = {});
Tensor gt(const Tensor& a, Scalar b, CallSite site = {});
Tensor ge(const Tensor& a, const Tensor& b, CallSite site = {});
Tensor ge(const Tensor& a, Scalar b, CallSite site = {});
Tensor logical_and(const Tensor& a, const Tensor& b, CallSite site = {});
Tensor logical_or(const Tensor& a, const Tensor& b, CallSite site = {});
// x limited to [min, max] (either bound may be absent, not both), as torch.clamp: a NaN
// in x stays NaN, min > max gives max everywhere, and the gradient is 1 where
// min <= x <= max and 0 elsewhere. Bounds promote with x like a Scalar operand.
Tensor clamp(const Tensor& x, std::optional<Scalar> min, std::optional<Scalar> max,
             CallSite site = {});
// x with `value` where the bool `mask` (broadcast to x's shape) is true; x's dtype and
// shape, as torch.Tensor.masked_fill. The value is converted to x's dtype as by cast.
Tensor masked_fill(const Tensor& x, const Tensor& mask, Scalar value, CallSite site = {});
// The lower (tril) or upper (triu) triangle of the last two dimensions, from diagonal
// `diagonal` (0: the main one, > 0 above it, < 0 below), the rest zero; x's dtype.
Tensor tril(const Tensor& x, int64_t diagonal = 0, CallSite site = {});
Tensor triu(const Tensor& x, int64_t diagonal = 0, CallSite site = {});
// cond ? a : b elementwise; cond is converted to bool; a and b promote together.
Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b, CallSite site = {});
Tensor where(const Tensor& cond, const Tensor& a, Scalar b, CallSite site = {});
Tensor where(const Tensor& cond, Scalar a, const Tensor& b, CallSite site = {});

// --- reductions: over `dims` (empty = all dimensions), duplicates are an error ---
Tensor sum(const Tensor& x, std::vector<int64_t> dims = {}, bool keepdim = false,
           CallSite site = {});
Tensor mean(const Tensor& x, std::vector<int64_t> dims = {}, bool keepdim = false,
            CallSite site = {});
// The product (torch.prod); of nothing, 1. Its gradient is the product of the other
// factors, also where a factor is 0.
Tensor prod(const Tensor& x, std::vector<int64_t> dims = {}, bool keepdim = false,
            CallSite site = {});
// The variance: the sum of squared deviations from the mean over N - correction, with N
// the number of values reduced (correction 1: unbiased, as torch.var; 0: the population
// variance). N <= correction divides by zero (inf or NaN), as in torch. Floating dtypes.
Tensor var(const Tensor& x, std::vector<int64_t> dims = {}, bool keepdim = false,
           int64_t correction = 1, CallSite site = {});
// sqrt(var(...)); its gradient is 0 where the variance is 0 (as torch.std), not NaN.
Tensor std(const Tensor& x, std::vector<int64_t> dims = {}, bool keepdim = false,
           int64_t correction = 1, CallSite site = {});
// Whether any / every element over `dims` is non-zero (NaN counts as non-zero), as bool;
// any of nothing is false, all of nothing is true. Any dtype.
Tensor any(const Tensor& x, std::vector<int64_t> dims = {}, bool keepdim = false,
           CallSite site = {});
Tensor all(const Tensor& x, std::vector<int64_t> dims = {}, bool keepdim = false,
           CallSite site = {});
Tensor max(const Tensor& x, std::vector<int64_t> dims = {}, bool keepdim = false,
           CallSite site = {});
Tensor min(const Tensor& x, std::vector<int64_t> dims = {}, bool keepdim = false,
           CallSite site = {});
// Running sums along `dim` (torch.cumsum): out[..., i, ...] = the sum of x's elements 0..i
// along dim. Integers and bool are summed in i64 (wrapping on overflow).
Tensor cumsum(const Tensor& x, int64_t dim, CallSite site = {});
// Running products along `dim` (torch.cumprod), with the same dtype rule; the gradient at
// zeros is the product of the other factors, as prod's.
Tensor cumprod(const Tensor& x, int64_t dim, CallSite site = {});
// Index of the first maximum along `dim`, or into the flattened tensor when dim is absent
// (a NaN counts as the maximum, as in torch).
Tensor argmax(const Tensor& x, std::optional<int64_t> dim = std::nullopt, bool keepdim = false,
              CallSite site = {});
// Index of the first minimum, likewise (a NaN counts as the minimum, as in torch).
Tensor argmin(const Tensor& x, std::optional<int64_t> dim = std::nullopt, bool keepdim = false,
              CallSite site = {});

// --- ordering: O(n^2) comparisons per row of n (a count of the elements before each one),
// so meant for rows up to a few thousand ---
struct SortResult {
  Tensor values;
  Tensor indices;  // i64, positions along the sorted dimension
};
// torch.sort: ascending, or descending; NaN counts as the largest value. Equal values
// keep their order (stable).
SortResult sort(const Tensor& x, int64_t dim = -1, bool descending = false, CallSite site = {});
// The indices of sort(x, dim, descending).
Tensor argsort(const Tensor& x, int64_t dim = -1, bool descending = false, CallSite site = {});
// The k largest (or smallest) along `dim`, in order: sort's first k (torch.topk, sorted).
SortResult topk(const Tensor& x, int64_t k, int64_t dim = -1, bool largest = true,
                CallSite site = {});

// --- linear algebra ---
// torch.matmul: 1-D operands are promoted to matrices and the added dimension removed;
// batch dimensions broadcast.
Tensor matmul(const Tensor& a, const Tensor& b, CallSite site = {});
// torch.einsum: `equation` names each operand's dimensions by letters ("bhqd,bhkd->bhqk"),
// "..." stands for dimensions not named; letters of the output are kept, the others
// summed, and a letter repeated in one operand takes its diagonal. Without "->" the
// output is "..." then the letters that appear once, upper case before lower case.
// A letter's sizes must agree or be 1 (broadcast). Operands are contracted from left to
// right, each pair as one matmul (or a product when no letter is summed); the result has
// the operands' promoted dtype (integers wrap).
Tensor einsum(std::string_view equation, const std::vector<Tensor>& operands, CallSite site = {});

// --- views and data movement ---
// One size may be -1 (inferred).
Tensor reshape(const Tensor& x, std::vector<int64_t> sizes, CallSite site = {});
Tensor permute(const Tensor& x, std::vector<int64_t> dims, CallSite site = {});
Tensor transpose(const Tensor& x, int64_t dim0, int64_t dim1, CallSite site = {});
// -1 keeps a size; new leading dimensions may be added.
Tensor expand(const Tensor& x, std::vector<int64_t> sizes, CallSite site = {});
Tensor broadcast_to(const Tensor& x, std::vector<int64_t> sizes, CallSite site = {});
Tensor unsqueeze(const Tensor& x, int64_t dim, CallSite site = {});
// Removes dimension `dim`, which must have size 1.
Tensor squeeze(const Tensor& x, int64_t dim, CallSite site = {});
// The elements x[..., i, ..., i + offset, ...] of dimensions dim1 and dim2 (offset > 0:
// above the main diagonal, < 0: below it), as a last dimension replacing both
// (torch.diagonal). A strided view: no copy, and its gradient scatters back.
Tensor diagonal(const Tensor& x, int64_t offset = 0, int64_t dim1 = 0, int64_t dim2 = 1,
                CallSite site = {});
Tensor flatten(const Tensor& x, int64_t start_dim = 0, int64_t end_dim = -1, CallSite site = {});
// Python-style bounds: negative start/end count from the end, out-of-range bounds clamp;
// step > 0.
Tensor slice(const Tensor& x, int64_t dim, int64_t start, int64_t end, int64_t step = 1,
             CallSite site = {});
Tensor concat(const std::vector<Tensor>& tensors, int64_t dim = 0, CallSite site = {});
// Tensors of one shape joined along a new dimension `dim` (torch.stack); dtypes promote.
Tensor stack(const std::vector<Tensor>& tensors, int64_t dim = 0, CallSite site = {});
// Slices of `split_size` (> 0) along `dim`, the last one shorter when the size does not
// divide; a dimension of size 0 gives one empty tensor (torch.split).
std::vector<Tensor> split(const Tensor& x, int64_t split_size, int64_t dim = 0, CallSite site = {});
// At most `chunks` (> 0) slices of ceil(size / chunks) along `dim`, so possibly fewer;
// a dimension of size 0 gives `chunks` empty tensors (torch.chunk).
std::vector<Tensor> chunk(const Tensor& x, int64_t chunks, int64_t dim = 0, CallSite site = {});
// Reverses the order of the elements along each of `dims` (torch.flip).
Tensor flip(const Tensor& x, std::vector<int64_t> dims, CallSite site = {});
// Shifts the elements along each of `dims` by the matching shift, those pushed past the
// end coming back at the front (torch.roll); without dims, the flattened tensor by one
// shift.
Tensor roll(const Tensor& x, std::vector<int64_t> shifts, std::vector<int64_t> dims = {},
            CallSite site = {});
// Tiles x `repeats[i]` times along each dimension; extra leading counts add dimensions
// (torch.Tensor.repeat).
Tensor repeat(const Tensor& x, std::vector<int64_t> repeats, CallSite site = {});
// torch.nn.functional.pad order: `pads` = (last dim low, last dim high, next-to-last
// low, high, ...); negative pads crop. `value` is baked into the code.
Tensor pad(const Tensor& x, std::vector<int64_t> pads, double value = 0.0, CallSite site = {});

// --- indexing ---
// out[i][j] = x[index[i][j]][j] for dim 0 (torch.gather); index has x's rank.
Tensor gather(const Tensor& x, int64_t dim, const Tensor& index, CallSite site = {});
// Selects entries of 1-D `index` along `dim`.
Tensor index_select(const Tensor& x, int64_t dim, const Tensor& index, CallSite site = {});
// self with src added at `index` along `dim` (torch.scatter_add, out of place).
Tensor scatter_add(const Tensor& self, int64_t dim, const Tensor& index, const Tensor& src,
                   CallSite site = {});

}  // namespace kiln
