// Views and data movement: reshape, permute, expand, slice, concat, pad and the ops
// expressed through them (view, transpose, broadcast_to, unsqueeze, squeeze, diagonal,
// flatten).
// The IR takes fully resolved attributes (no -1, clamped bounds, dimension-order pads).
#include <algorithm>
#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "lazy/op_utils.h"
#include "lazy/ops.h"
#include "lazy/scalar_tensor.h"
#include "lazy/tensor_impl.h"

namespace kiln {
namespace {

using internal::ArangeTensor;
using internal::CastTo;
using internal::CheckOperand;
using internal::CheckSameBackend;
using internal::NormalizeDim;
using internal::NormalizeDims;
using internal::NormalizeInsertDim;
using internal::ReshapeTo;
using internal::SizesToString;
using internal::ThrowOpError;

// Resolves one -1 in `sizes` against the element count of `shape`.
std::vector<int64_t> ResolveReshape(std::string_view op, const Shape& shape,
                                    std::vector<int64_t> sizes) {
  const auto fail = [&](std::string_view why) {
    ThrowOpError(op, ": cannot reshape ", shape.ToString(), " (", shape.numel(), " elements) to ",
                 SizesToString(sizes), why);
  };
  int64_t inferred = -1;
  int64_t known = 1;
  for (size_t i = 0; i < sizes.size(); ++i) {
    if (sizes[i] == -1) {
      if (inferred >= 0) fail(": only one size may be -1");
      inferred = static_cast<int64_t>(i);
    } else if (sizes[i] < 0) {
      fail(": sizes must be >= 0 or -1");
    } else if (__builtin_mul_overflow(known, sizes[i], &known)) {
      fail("");
    }
  }
  if (inferred >= 0) {
    if (known == 0) fail(": the -1 is ambiguous when another size is 0");
    if (shape.numel() % known != 0) fail("");
    sizes[inferred] = shape.numel() / known;
  } else if (known != shape.numel()) {
    fail("");
  }
  return sizes;
}

Tensor RecordPermute(const Tensor& x, std::vector<int64_t> perm, const CallSite& site) {
  return RecordOp(OpKind::kPermute, {x}, Attributes().Set("perm", std::move(perm)), site);
}

}  // namespace

Tensor reshape(const Tensor& x, std::vector<int64_t> sizes, CallSite site) {
  CheckOperand("reshape", x);
  std::vector<int64_t> resolved = ResolveReshape("reshape", x.shape(), std::move(sizes));
  return ReshapeTo(x, resolved, site);
}

Tensor permute(const Tensor& x, std::vector<int64_t> dims, CallSite site) {
  CheckOperand("permute", x);
  const Shape& shape = x.shape();
  const auto fail = [&] {
    ThrowOpError("permute: ", SizesToString(dims), " is not a permutation of the ", shape.rank(),
                 " dimensions of ", shape.ToString());
  };
  if (static_cast<int64_t>(dims.size()) != shape.rank()) fail();
  std::vector<int64_t> perm;
  for (int64_t d : dims) {
    const int64_t wrapped = d < 0 ? d + shape.rank() : d;
    if (wrapped < 0 || wrapped >= shape.rank()) fail();
    if (std::find(perm.begin(), perm.end(), wrapped) != perm.end()) fail();
    perm.push_back(wrapped);
  }
  return RecordPermute(x, std::move(perm), site);
}

Tensor transpose(const Tensor& x, int64_t dim0, int64_t dim1, CallSite site) {
  CheckOperand("transpose", x);
  const int64_t a = NormalizeDim("transpose", dim0, x.shape());
  const int64_t b = NormalizeDim("transpose", dim1, x.shape());
  std::vector<int64_t> perm(x.dim());
  for (int64_t i = 0; i < x.dim(); ++i) perm[i] = i;
  std::swap(perm[a], perm[b]);
  return RecordPermute(x, std::move(perm), site);
}

Tensor expand(const Tensor& x, std::vector<int64_t> sizes, CallSite site) {
  CheckOperand("expand", x);
  const Shape& shape = x.shape();
  const int64_t rank = static_cast<int64_t>(sizes.size());
  if (rank < shape.rank()) {
    ThrowOpError("expand: cannot expand ", shape.ToString(), " to ", SizesToString(sizes),
                 ", which has fewer dimensions");
  }
  std::vector<int64_t> resolved = sizes;
  for (int64_t i = 0; i < rank; ++i) {
    const int64_t in_dim = i - (rank - shape.rank());
    if (sizes[i] == -1 && in_dim >= 0) {
      resolved[i] = shape.size(in_dim);
      continue;
    }
    if (sizes[i] < 0) {
      ThrowOpError("expand: cannot expand ", shape.ToString(), " to ", SizesToString(sizes),
                   ": size ", sizes[i], " at position ", i,
                   in_dim < 0 ? " (a new leading dimension needs an explicit size)"
                              : " (expected >= 0 or -1)");
    }
    if (in_dim >= 0 && shape.size(in_dim) != 1 && shape.size(in_dim) != sizes[i]) {
      ThrowOpError("expand: cannot expand ", shape.ToString(), " to ", SizesToString(sizes),
                   ": dimension ", in_dim, " has size ", shape.size(in_dim), " (expected 1 or ",
                   sizes[i], ")");
    }
  }
  return RecordOp(OpKind::kExpand, {x}, Attributes().Set("sizes", std::move(resolved)), site);
}

Tensor broadcast_to(const Tensor& x, std::vector<int64_t> sizes, CallSite site) {
  return expand(x, std::move(sizes), site);
}

Tensor unsqueeze(const Tensor& x, int64_t dim, CallSite site) {
  CheckOperand("unsqueeze", x);
  const int64_t at = NormalizeInsertDim("unsqueeze", dim, x.shape());
  std::vector<int64_t> sizes(x.sizes().begin(), x.sizes().end());
  sizes.insert(sizes.begin() + at, 1);
  return ReshapeTo(x, sizes, site);
}

Tensor squeeze(const Tensor& x, int64_t dim, CallSite site) {
  CheckOperand("squeeze", x);
  const int64_t at = NormalizeDim("squeeze", dim, x.shape());
  if (x.shape().size(at) != 1) {
    ThrowOpError("squeeze: dimension ", dim, " of ", x.shape().ToString(), " has size ",
                 x.shape().size(at), " (expected 1)");
  }
  std::vector<int64_t> sizes(x.sizes().begin(), x.sizes().end());
  sizes.erase(sizes.begin() + at);
  return ReshapeTo(x, sizes, site);
}

Tensor diagonal(const Tensor& x, int64_t offset, int64_t dim1, int64_t dim2, CallSite site) {
  CheckOperand("diagonal", x);
  const Shape& shape = x.shape();
  if (shape.rank() < 2) {
    ThrowOpError("diagonal: needs at least 2 dimensions, got ", shape.ToString());
  }
  const int64_t a = NormalizeDim("diagonal", dim1, shape);
  const int64_t b = NormalizeDim("diagonal", dim2, shape);
  if (a == b) {
    ThrowOpError("diagonal: dim1 and dim2 are both dimension ", a, " of ", shape.ToString());
  }
  // The two dimensions moved last and merged: the diagonal is then every (cols + 1)-th
  // element from the first one's position.
  std::vector<int64_t> perm, sizes;
  for (int64_t d = 0; d < shape.rank(); ++d) {
    if (d == a || d == b) continue;
    perm.push_back(d);
    sizes.push_back(shape.size(d));
  }
  const int64_t rows = shape.size(a), cols = shape.size(b);
  perm.push_back(a);
  perm.push_back(b);
  sizes.push_back(rows * cols);
  const int64_t length = std::max<int64_t>(
      0, offset >= 0 ? std::min(rows, cols - offset) : std::min(rows + offset, cols));
  const bool in_order = a < b && a == shape.rank() - 2 && b == shape.rank() - 1;
  Tensor merged = ReshapeTo(in_order ? x : RecordPermute(x, std::move(perm), site), sizes, site);
  if (length == 0) return slice(merged, -1, 0, 0, 1, site);
  const int64_t first = offset >= 0 ? offset : -offset * cols;
  return slice(merged, -1, first, first + (length - 1) * (cols + 1) + 1, cols + 1, site);
}

Tensor flatten(const Tensor& x, int64_t start_dim, int64_t end_dim, CallSite site) {
  CheckOperand("flatten", x);
  const Shape& shape = x.shape();
  // As in PyTorch, a 0-d tensor flattens to one element.
  if (shape.rank() == 0) return ReshapeTo(x, {1}, site);
  const int64_t start = NormalizeDim("flatten", start_dim, shape);
  const int64_t end = NormalizeDim("flatten", end_dim, shape);
  if (start > end) {
    ThrowOpError("flatten: start_dim ", start_dim, " comes after end_dim ", end_dim, " for ",
                 shape.ToString());
  }
  std::vector<int64_t> sizes;
  int64_t merged = 1;
  for (int64_t d = 0; d < shape.rank(); ++d) {
    if (d < start || d > end) {
      sizes.push_back(shape.size(d));
      continue;
    }
    merged *= shape.size(d);
    if (d == end) sizes.push_back(merged);
  }
  return ReshapeTo(x, sizes, site);
}

Tensor slice(const Tensor& x, int64_t dim, int64_t start, int64_t end, int64_t step,
             CallSite site) {
  CheckOperand("slice", x);
  const int64_t axis = NormalizeDim("slice", dim, x.shape());
  if (step <= 0) {
    ThrowOpError("slice: step must be > 0, got ", step, " (slicing dimension ", dim, " of ",
                 x.shape().ToString(), ")");
  }
  // Python's clamping: negative bounds count from the end, then clamp to [0, size].
  const int64_t size = x.shape().size(axis);
  const auto clamp = [size](int64_t bound) {
    if (bound < 0) bound += size;
    return std::clamp<int64_t>(bound, 0, size);
  };
  const int64_t lo = clamp(start);
  const int64_t hi = std::max(lo, clamp(end));
  return RecordOp(OpKind::kSlice, {x},
                  Attributes().Set("dim", axis).Set("start", lo).Set("end", hi).Set("step", step),
                  site);
}

Tensor concat(const std::vector<Tensor>& tensors, int64_t dim, CallSite site) {
  if (tensors.empty()) ThrowOpError("concat: expected at least one tensor, got none");
  std::vector<const Tensor*> all;
  for (size_t i = 0; i < tensors.size(); ++i) {
    CheckOperand("concat", tensors[i], absl::StrCat("tensor ", i));
    all.push_back(&tensors[i]);
  }
  CheckSameBackend("concat", all);
  const auto shapes_text = [&] {
    return absl::StrJoin(tensors, ", ", [](std::string* out, const Tensor& t) {
      absl::StrAppend(out, t.shape().ToString());
    });
  };
  const Shape& first = tensors[0].shape();
  if (first.rank() == 0)
    ThrowOpError("concat: 0-d tensors cannot be concatenated: ", shapes_text());
  const int64_t axis = NormalizeDim("concat", dim, first);
  DType dtype = first.dtype();
  for (const Tensor& t : tensors) {
    if (t.dim() != first.rank()) {
      ThrowOpError("concat: all tensors need the same rank, got ", shapes_text());
    }
    for (int64_t d = 0; d < first.rank(); ++d) {
      if (d != axis && t.shape().size(d) != first.size(d)) {
        ThrowOpError("concat: sizes differ in dimension ", d, " (only dimension ", axis,
                     " may differ): ", shapes_text());
      }
    }
    dtype = PromoteTypes(dtype, t.dtype());
  }
  std::vector<Tensor> operands;
  operands.reserve(tensors.size());
  for (const Tensor& t : tensors) operands.push_back(CastTo(t, dtype, site));
  return RecordOp(OpKind::kConcat, operands, Attributes().Set("dim", axis), site);
}

Tensor stack(const std::vector<Tensor>& tensors, int64_t dim, CallSite site) {
  if (tensors.empty()) ThrowOpError("stack: expected at least one tensor, got none");
  std::vector<const Tensor*> all;
  for (size_t i = 0; i < tensors.size(); ++i) {
    CheckOperand("stack", tensors[i], absl::StrCat("tensor ", i));
    all.push_back(&tensors[i]);
  }
  CheckSameBackend("stack", all);
  for (const Tensor& t : tensors) {
    if (t.sizes() != tensors[0].sizes()) {
      ThrowOpError("stack: all tensors need the same sizes, got ",
                   absl::StrJoin(tensors, ", ", [](std::string* out, const Tensor& u) {
                     absl::StrAppend(out, u.shape().ToString());
                   }));
    }
  }
  const int64_t at = NormalizeInsertDim("stack", dim, tensors[0].shape());
  std::vector<Tensor> columns;
  columns.reserve(tensors.size());
  for (const Tensor& t : tensors) columns.push_back(unsqueeze(t, at, site));
  return concat(columns, at, site);
}

namespace {

// split's and chunk's checks: the axis to cut along, with a positive `count` (the pieces'
// size or their number, named by `what`).
int64_t SplitAxis(std::string_view op, const Tensor& x, int64_t dim, int64_t count,
                  std::string_view what) {
  CheckOperand(op, x);
  if (x.dim() == 0) ThrowOpError(op, ": a 0-d tensor cannot be split");
  const int64_t axis = NormalizeDim(op, dim, x.shape());
  if (count <= 0) {
    ThrowOpError(op, ": expected a positive ", what, ", got ", count, " for ",
                 x.shape().ToString());
  }
  return axis;
}

}  // namespace

std::vector<Tensor> split(const Tensor& x, int64_t split_size, int64_t dim, CallSite site) {
  const int64_t axis = SplitAxis("split", x, dim, split_size, "split size");
  const int64_t n = x.shape().size(axis);
  if (n == 0) return {slice(x, axis, 0, 0, 1, site)};
  std::vector<Tensor> parts;
  for (int64_t start = 0; start < n; start += split_size) {
    parts.push_back(slice(x, axis, start, std::min(n, start + split_size), 1, site));
  }
  return parts;
}

std::vector<Tensor> chunk(const Tensor& x, int64_t chunks, int64_t dim, CallSite site) {
  const int64_t axis = SplitAxis("chunk", x, dim, chunks, "number of chunks");
  const int64_t n = x.shape().size(axis);
  if (n == 0) {
    std::vector<Tensor> empty;
    for (int64_t i = 0; i < chunks; ++i) empty.push_back(slice(x, axis, 0, 0, 1, site));
    return empty;
  }
  return split(x, (n + chunks - 1) / chunks, axis, site);
}

Tensor flip(const Tensor& x, std::vector<int64_t> dims, CallSite site) {
  CheckOperand("flip", x);
  Tensor out = x;
  if (dims.empty()) return out;
  for (int64_t d : NormalizeDims("flip", dims, x.shape())) {
    const int64_t n = x.shape().size(d);
    if (n <= 1) continue;
    out = index_select(out, d, sub(n - 1, ArangeTensor(n, DType::kI64, x, site), site), site);
  }
  return out;
}

Tensor roll(const Tensor& x, std::vector<int64_t> shifts, std::vector<int64_t> dims,
            CallSite site) {
  CheckOperand("roll", x);
  if (dims.empty()) {
    if (shifts.size() != 1) {
      ThrowOpError("roll: without dims, expected one shift (of the flattened tensor), got ",
                   SizesToString(shifts), " for ", x.shape().ToString());
    }
    return ReshapeTo(roll(flatten(x, 0, -1, site), shifts, {0}, site), x.sizes(), site);
  }
  if (shifts.size() != dims.size()) {
    ThrowOpError("roll: expected one shift per dimension, got shifts ", SizesToString(shifts),
                 " and dims ", SizesToString(dims), " for ", x.shape().ToString());
  }
  Tensor out = x;
  for (size_t i = 0; i < dims.size(); ++i) {
    const int64_t d = NormalizeDim("roll", dims[i], x.shape());
    const int64_t n = x.shape().size(d);
    if (n == 0) continue;
    const int64_t s = (shifts[i] % n + n) % n;  // the elements that wrap to the front
    if (s == 0) continue;
    out = concat({slice(out, d, n - s, n, 1, site), slice(out, d, 0, n - s, 1, site)}, d, site);
  }
  return out;
}

Tensor repeat(const Tensor& x, std::vector<int64_t> repeats, CallSite site) {
  CheckOperand("repeat", x);
  const Shape& shape = x.shape();
  if (static_cast<int64_t>(repeats.size()) < shape.rank()) {
    ThrowOpError("repeat: expected at least one repeat count per dimension of ", shape.ToString(),
                 ", got ", SizesToString(repeats));
  }
  // [n0, n1] repeated [r0, r1]: viewed as [1, n0, 1, n1], expanded to [r0, n0, r1, n1].
  const size_t lead = repeats.size() - shape.rank();
  std::vector<int64_t> spread, expanded, sizes;
  for (size_t i = 0; i < repeats.size(); ++i) {
    const int64_t n = i < lead ? 1 : shape.size(static_cast<int64_t>(i - lead));
    int64_t size;
    if (repeats[i] < 0 || __builtin_mul_overflow(repeats[i], n, &size)) {
      ThrowOpError("repeat: repeat counts ", SizesToString(repeats), " for ", shape.ToString(),
                   " must be >= 0 and give sizes that fit in an int64");
    }
    spread.insert(spread.end(), {1, n});
    expanded.insert(expanded.end(), {repeats[i], n});
    sizes.push_back(size);
  }
  return ReshapeTo(expand(ReshapeTo(x, spread, site), expanded, site), sizes, site);
}

Tensor pad(const Tensor& x, std::vector<int64_t> pads, double value, CallSite site) {
  CheckOperand("pad", x);
  const Shape& shape = x.shape();
  if (pads.size() % 2 != 0 || static_cast<int64_t>(pads.size()) > 2 * shape.rank()) {
    ThrowOpError("pad: padding ", SizesToString(pads), " must have an even length of at most ",
                 2 * shape.rank(), " (2 per dimension of ", shape.ToString(), ")");
  }
  // torch order (last dimension first) to the IR's dimension order, zeros elsewhere.
  std::vector<int64_t> ir_pads(2 * shape.rank(), 0);
  for (size_t i = 0; i < pads.size() / 2; ++i) {
    const int64_t d = shape.rank() - 1 - static_cast<int64_t>(i);
    ir_pads[2 * d] = pads[2 * i];
    ir_pads[2 * d + 1] = pads[2 * i + 1];
    int64_t size;
    if (__builtin_add_overflow(shape.size(d), pads[2 * i], &size) ||
        __builtin_add_overflow(size, pads[2 * i + 1], &size)) {
      ThrowOpError("pad: padding ", SizesToString(pads), " gives dimension ", d, " of ",
                   shape.ToString(), " a size that does not fit in an int64");
    }
    if (size < 0) {
      ThrowOpError("pad: padding ", SizesToString(pads), " makes dimension ", d, " of ",
                   shape.ToString(), " negative (", size, ")");
    }
  }
  return RecordOp(OpKind::kPad, {x},
                  Attributes().Set("pads", std::move(ir_pads)).Set("value", value), site);
}

}  // namespace kiln
