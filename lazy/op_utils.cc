#include "lazy/op_utils.h"

#include <algorithm>

#include "absl/strings/str_join.h"
#include "lazy/tensor_impl.h"

namespace kiln::internal {

const Shape& CheckOperand(std::string_view op, const Tensor& t, std::string_view what) {
  if (!t.defined()) ThrowOpError(op, ": ", what, " is an undefined tensor");
  t.impl()->Own();
  const Shape& shape = t.impl()->shape();
  if (IsReserved(shape.dtype())) {
    ThrowOpError(op, ": dtype ", DTypeName(shape.dtype()), " is not supported by any op yet (",
                 what, " is ", shape.ToString(), ")");
  }
  return shape;
}

void CheckSameBackend(std::string_view op, absl::Span<const Tensor* const> tensors) {
  const Backend* first = nullptr;
  for (const Tensor* t : tensors) {
    if (!t->defined()) continue;
    const Backend* b = t->impl()->backend();
    if (first == nullptr) {
      first = b;
    } else if (b != first) {
      ThrowOpError(op, ": operands are on different devices (", first->name(), " and ", b->name(),
                   ")");
    }
  }
}

int64_t NormalizeDim(std::string_view op, int64_t dim, const Shape& shape) {
  const int64_t rank = shape.rank();
  if (rank == 0) {
    ThrowOpError(op, ": dimension ", dim, " is out of range for ", shape.ToString(),
                 " (a 0-d tensor has no dimensions)");
  }
  const int64_t wrapped = dim < 0 ? dim + rank : dim;
  if (wrapped < 0 || wrapped >= rank) {
    ThrowOpError(op, ": dimension ", dim, " is out of range for ", shape.ToString(), " (expected ",
                 -rank, "..", rank - 1, ")");
  }
  return wrapped;
}

int64_t NormalizeInsertDim(std::string_view op, int64_t dim, const Shape& shape) {
  const int64_t rank = shape.rank() + 1;
  const int64_t wrapped = dim < 0 ? dim + rank : dim;
  if (wrapped < 0 || wrapped >= rank) {
    ThrowOpError(op, ": dimension ", dim, " is out of range for ", shape.ToString(), " (expected ",
                 -rank, "..", rank - 1, ")");
  }
  return wrapped;
}

std::vector<int64_t> NormalizeDims(std::string_view op, absl::Span<const int64_t> dims,
                                   const Shape& shape) {
  std::vector<int64_t> out;
  if (dims.empty()) {
    for (int64_t d = 0; d < shape.rank(); ++d) out.push_back(d);
    return out;
  }
  for (int64_t d : dims) {
    const int64_t wrapped = NormalizeDim(op, d, shape);
    if (std::find(out.begin(), out.end(), wrapped) != out.end()) {
      ThrowOpError(op, ": dimension ", wrapped, " appears more than once in ", SizesToString(dims),
                   " for ", shape.ToString());
    }
    out.push_back(wrapped);
  }
  // Sorted so that equivalent requests ({0,1} and {1,0}) record the same IR.
  std::sort(out.begin(), out.end());
  return out;
}

Sizes BroadcastOrThrow(std::string_view op, absl::Span<const Shape* const> shapes) {
  Sizes out;
  for (const Shape* s : shapes) {
    const Sizes& in = s->sizes();
    if (in.size() > out.size()) out.insert(out.begin(), in.size() - out.size(), 1);
    for (size_t i = 0; i < in.size(); ++i) {
      int64_t& o = out[out.size() - 1 - i];
      const int64_t d = in[in.size() - 1 - i];
      if (o == d || d == 1) continue;
      if (o == 1) {
        o = d;
        continue;
      }
      std::string all = absl::StrJoin(shapes, " with ", [](std::string* text, const Shape* t) {
        absl::StrAppend(text, t->ToString());
      });
      ThrowOpError(op, ": cannot broadcast ", all, ": dimension sizes ", o, " and ", d,
                   " differ and neither is 1");
    }
  }
  return out;
}

std::string SizesToString(absl::Span<const int64_t> sizes) {
  return absl::StrCat("[", absl::StrJoin(sizes, ","), "]");
}

Tensor CastTo(const Tensor& x, DType dtype, const CallSite& site) {
  Tensor cast;
  return CastOrSelf(x, dtype, site, &cast);
}

const Tensor& CastOrSelf(const Tensor& x, DType dtype, const CallSite& site, Tensor* holder) {
  if (x.dtype() == dtype) return x;
  *holder = RecordOpByPtr(OpKind::kCast, {&x}, Attributes().Set("dtype", dtype), site);
  return *holder;
}

Tensor ReshapeTo(const Tensor& x, absl::Span<const int64_t> sizes, const CallSite& site) {
  return RecordOp(OpKind::kReshape, {x},
                  Attributes().Set("sizes", std::vector<int64_t>(sizes.begin(), sizes.end())),
                  site);
}

}  // namespace kiln::internal
