#include "ir/shape_inference.h"

#include <algorithm>
#include <cstdint>
#include <initializer_list>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "util/status_macros.h"

namespace kiln {
namespace {

// Out of line and cold: the checks below (forced inline, as GCC otherwise keeps several
// of them out of line for their Status) then become a compare and a branch, which
// matters because every traced op runs several of them.
template <typename... Args>
[[gnu::noinline, gnu::cold]] absl::Status Invalid(OpKind op, const Args&... args) {
  return absl::InvalidArgumentError(absl::StrCat(OpName(op), ": ", args...));
}

// The operand shapes joined for messages: "f32[2,3], f32[3]".
std::string ShapesString(absl::Span<const Shape* const> operands) {
  return absl::StrJoin(operands, ", ", [](std::string* out, const Shape* s) {
    absl::StrAppend(out, s->ToString());
  });
}

// Node::Create checks the count, but InferShape is public and callable directly.
[[gnu::always_inline]] inline absl::Status CheckArity(OpKind op,
                                                      absl::Span<const Shape* const> operands) {
  const int arity = OpArity(op);
  const bool ok = arity >= 0 ? static_cast<int>(operands.size()) == arity : !operands.empty();
  if (ok) return absl::OkStatus();
  return Invalid(op, "expected ", arity >= 0 ? absl::StrCat(arity) : "at least 1",
                 " operands, got ", operands.size());
}

[[gnu::always_inline]] inline absl::Status CheckNotReserved(OpKind op, const Shape& s) {
  if (!IsReserved(s.dtype())) return absl::OkStatus();
  return Invalid(op, "dtype ", DTypeName(s.dtype()),
                 " is reserved and not supported by any op yet: ", s.ToString());
}

// i32, i64, f32, f64: what arithmetic accepts.
bool IsNumeric(DType d) { return IsIntegral(d) || d == DType::kF32 || d == DType::kF64; }

[[gnu::always_inline]] inline absl::Status CheckNumeric(OpKind op, const Shape& s) {
  if (IsNumeric(s.dtype())) return absl::OkStatus();
  return Invalid(op, "expected a numeric dtype (i32, i64, f32 or f64), got ", s.ToString());
}

[[gnu::always_inline]] inline absl::Status CheckFloating(OpKind op, const Shape& s) {
  if (s.dtype() == DType::kF32 || s.dtype() == DType::kF64) return absl::OkStatus();
  return Invalid(op, "expected a floating dtype, got ", s.ToString());
}

[[gnu::always_inline]] inline absl::Status CheckBool(OpKind op, const Shape& s) {
  if (s.dtype() == DType::kBool) return absl::OkStatus();
  return Invalid(op, "expected a bool operand, got ", s.ToString());
}

[[gnu::always_inline]] inline absl::Status CheckIndex(OpKind op, const Shape& s) {
  if (IsIntegral(s.dtype())) return absl::OkStatus();
  return Invalid(op, "expected an i32 or i64 index, got ", s.ToString());
}

// An index into a dimension of size 0 is out of range whatever its values: an error as soon
// as the op is traced rather than when it runs.
absl::Status CheckIndexedDimNotEmpty(OpKind op, const Shape& in, int64_t dim, const Shape& index) {
  if (in.size(dim) == 0 && index.numel() > 0) {
    return Invalid(op, "index ", index.ToString(), " indexes dimension ", dim, " of ",
                   in.ToString(), ", which is empty: every index is out of range");
  }
  return absl::OkStatus();
}

[[gnu::always_inline]] inline absl::Status CheckSameDType(OpKind op, const Shape& a,
                                                          const Shape& b) {
  if (a.dtype() == b.dtype()) return absl::OkStatus();
  return Invalid(op, "operand dtypes differ: ", a.ToString(), " vs ", b.ToString(),
                 " (cast first)");
}

// Attributes are validated rather than read with the checking getters: the parser feeds
// arbitrary text here, and a bad attribute must be an error, not an abort.
[[gnu::always_inline]] inline absl::Status CheckAttrNames(
    OpKind op, const Attributes& attrs, std::initializer_list<std::string_view> allowed) {
  for (const auto& [name, value] : attrs.entries()) {
    if (std::find(allowed.begin(), allowed.end(), name) == allowed.end()) {
      return Invalid(op, "unexpected attribute '", std::string(name), "'");
    }
  }
  return absl::OkStatus();
}

// The operand count and the attribute names, checked first by every Infer function.
[[gnu::always_inline]] inline absl::Status CheckSignature(
    OpKind op, absl::Span<const Shape* const> operands, const Attributes& attrs,
    std::initializer_list<std::string_view> allowed) {
  RETURN_IF_ERROR(CheckArity(op, operands));
  return CheckAttrNames(op, attrs, allowed);
}

template <typename T>
constexpr const char* kAttrTypeName = "";
template <>
constexpr const char* kAttrTypeName<int64_t> = "an integer";
template <>
constexpr const char* kAttrTypeName<double> = "a float";
template <>
constexpr const char* kAttrTypeName<bool> = "a bool";
template <>
constexpr const char* kAttrTypeName<DType> = "a dtype";
template <>
constexpr const char* kAttrTypeName<std::vector<int64_t>> = "an integer list";

template <typename T>
absl::StatusOr<T> GetAttr(OpKind op, const Attributes& attrs, std::string_view name) {
  const AttrValue* v = attrs.Find(name);
  if (v == nullptr) {
    return Invalid(op, "missing attribute '", std::string(name), "' (", kAttrTypeName<T>, ")");
  }
  const T* typed = std::get_if<T>(v);
  if (typed == nullptr) {
    return Invalid(op, "attribute '", std::string(name), "' must be ", kAttrTypeName<T>, ", got ",
                   AttrValueToString(*v));
  }
  return *typed;
}

// An axis attribute: already normalised by the lazy layer, so 0 <= axis < rank.
absl::StatusOr<int64_t> GetAxis(OpKind op, const Attributes& attrs, std::string_view name,
                                const Shape& s) {
  ASSIGN_OR_RETURN(int64_t axis, GetAttr<int64_t>(op, attrs, name));
  if (axis < 0 || axis >= s.rank()) {
    return Invalid(op, std::string(name), "=", axis, " is out of range for ", s.ToString(),
                   " (expected 0 <= ", std::string(name), " < ", s.rank(), ")");
  }
  return axis;
}

absl::StatusOr<DType> GetDTypeAttr(OpKind op, const Attributes& attrs) {
  ASSIGN_OR_RETURN(DType dtype, GetAttr<DType>(op, attrs, "dtype"));
  if (IsReserved(dtype)) {
    return Invalid(op, "dtype ", DTypeName(dtype), " is reserved and not supported by any op yet");
  }
  return dtype;
}

// Broadcasts two size lists; on failure reports both shapes.
absl::StatusOr<Sizes> Broadcast(OpKind op, absl::Span<const int64_t> a, absl::Span<const int64_t> b,
                                const Shape& shown_a, const Shape& shown_b,
                                std::string_view what = "") {
  const size_t rank = std::max(a.size(), b.size());
  Sizes out(rank);
  for (size_t i = 0; i < rank; ++i) {
    const int64_t da = i < a.size() ? a[a.size() - 1 - i] : 1;
    const int64_t db = i < b.size() ? b[b.size() - 1 - i] : 1;
    if (da != db && da != 1 && db != 1) {
      return Invalid(op, "cannot broadcast ", std::string(what), shown_a.ToString(), " with ",
                     shown_b.ToString(), ": dimension sizes ", da, " and ", db,
                     " differ and neither is 1");
    }
    out[rank - 1 - i] = da == 1 ? db : da;
  }
  return out;
}

// Sizes' operator== calls memcmp; for the few dimensions of a shape a loop is cheaper.
[[gnu::always_inline]] inline bool SameSizes(const Sizes& a, const Sizes& b) {
  if (a.size() != b.size()) return false;
  const int64_t* a_data = a.data();
  const int64_t* b_data = b.data();
  for (size_t i = 0; i < a.size(); ++i) {
    if (a_data[i] != b_data[i]) return false;
  }
  return true;
}

[[gnu::always_inline]] inline absl::Status BinarySameDType(OpKind op,
                                                           absl::Span<const Shape* const> operands,
                                                           DType out_dtype_if_not_same,
                                                           Shape* result) {
  const Shape& a = *operands[0];
  const Shape& b = *operands[1];
  RETURN_IF_ERROR(CheckNotReserved(op, a));
  RETURN_IF_ERROR(CheckNotReserved(op, b));
  RETURN_IF_ERROR(CheckSameDType(op, a, b));
  // Equal sizes and a 0-d operand (every tensor-scalar op) are the common cases on the
  // tracing hot path: no broadcast to work out.
  if (b.rank() == 0 || SameSizes(a.sizes(), b.sizes())) {
    *result = Shape(out_dtype_if_not_same, a.sizes());
    return absl::OkStatus();
  }
  if (a.rank() == 0) {
    *result = Shape(out_dtype_if_not_same, b.sizes());
    return absl::OkStatus();
  }
  ASSIGN_OR_RETURN(Sizes sizes, BroadcastSizes(op, a, b));
  *result = Shape(out_dtype_if_not_same, std::move(sizes));
  return absl::OkStatus();
}

// Rejects shapes whose element count (or byte size) does not fit in int64, so numel()
// and byte_size() never overflow downstream. A size-0 dimension makes any shape valid.
[[gnu::always_inline]] inline absl::Status CheckElementCount(OpKind op, const Shape& s) {
  for (int64_t d : s.sizes()) {
    if (d < 0) return Invalid(op, "negative size in output shape ", s.SizesString());
  }
  if (!CheckedProduct(s.sizes(), DTypeSize(s.dtype()))) {
    return Invalid(op, "output shape ", s.ToString(), " has more bytes than int64 can count");
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<Sizes> BroadcastSizes(OpKind op, const Shape& a, const Shape& b) {
  return Broadcast(op, a.sizes(), b.sizes(), a, b);
}

absl::Status InferShapeInto(OpKind op, absl::Span<const Shape* const> operands,
                            const Attributes& attrs, Shape* result) {
  switch (op) {
#define KILN_INFER_CASE(name, text, arity, infer)        \
  case OpKind::k##name:                                  \
    RETURN_IF_ERROR(infer(op, operands, attrs, result)); \
    break;
    KILN_FOR_EACH_OP(KILN_INFER_CASE)
#undef KILN_INFER_CASE
    default:
      return absl::InvalidArgumentError(absl::StrCat("unknown op kind ", static_cast<int>(op)));
  }
  return CheckElementCount(op, *result);
}

absl::StatusOr<Shape> InferShape(OpKind op, absl::Span<const Shape* const> operands,
                                 const Attributes& attrs) {
  Shape shape;
  RETURN_IF_ERROR(InferShapeInto(op, operands, attrs, &shape));
  return shape;
}

absl::Status InferLeaf(OpKind op, absl::Span<const Shape* const> operands, const Attributes& attrs,
                       Shape* result) {
  return absl::FailedPreconditionError(
      absl::StrCat(OpName(op), ": a parameter's shape is given, not inferred"));
}

absl::Status InferConstant(OpKind op, absl::Span<const Shape* const> operands,
                           const Attributes& attrs, Shape* result) {
  RETURN_IF_ERROR(CheckSignature(op, operands, attrs, {"value", "dtype"}));
  RETURN_IF_ERROR(GetAttr<double>(op, attrs, "value").status());
  ASSIGN_OR_RETURN(DType dtype, GetDTypeAttr(op, attrs));
  *result = Shape(dtype, {});
  return absl::OkStatus();
}

absl::Status InferArange(OpKind op, absl::Span<const Shape* const> operands,
                         const Attributes& attrs, Shape* result) {
  RETURN_IF_ERROR(CheckSignature(op, operands, attrs, {"start", "step", "size", "dtype"}));
  RETURN_IF_ERROR(GetAttr<double>(op, attrs, "start").status());
  RETURN_IF_ERROR(GetAttr<double>(op, attrs, "step").status());
  ASSIGN_OR_RETURN(int64_t size, GetAttr<int64_t>(op, attrs, "size"));
  ASSIGN_OR_RETURN(DType dtype, GetDTypeAttr(op, attrs));
  if (size < 0) return Invalid(op, "size must be >= 0, got ", size);
  if (!IsNumeric(dtype)) {
    return Invalid(op, "expected a numeric dtype (i32, i64, f32 or f64), got ", DTypeName(dtype));
  }
  *result = Shape(dtype, {size});
  return absl::OkStatus();
}

absl::Status InferRandUniform(OpKind op, absl::Span<const Shape* const> operands,
                              const Attributes& attrs, Shape* result) {
  RETURN_IF_ERROR(CheckSignature(op, operands, attrs, {"sizes", "dtype"}));
  ASSIGN_OR_RETURN(std::vector<int64_t> sizes, GetAttr<std::vector<int64_t>>(op, attrs, "sizes"));
  ASSIGN_OR_RETURN(DType dtype, GetDTypeAttr(op, attrs));
  const Shape& key = *operands[0];
  if (key.dtype() != DType::kI64 || key.rank() != 0) {
    return Invalid(op, "expected a 0-d i64 key, got ", key.ToString());
  }
  for (int64_t s : sizes) {
    if (s < 0) return Invalid(op, "sizes=", AttrValueToString(sizes), " has a negative size");
  }
  if (dtype != DType::kF32 && dtype != DType::kF64) {
    return Invalid(op, "expected a floating dtype (f32 or f64), got ", DTypeName(dtype));
  }
  *result = Shape(dtype, sizes);
  return absl::OkStatus();
}

absl::Status InferUnaryNumeric(OpKind op, absl::Span<const Shape* const> operands,
                               const Attributes& attrs, Shape* result) {
  RETURN_IF_ERROR(CheckSignature(op, operands, attrs, {}));
  RETURN_IF_ERROR(CheckNotReserved(op, *operands[0]));
  RETURN_IF_ERROR(CheckNumeric(op, *operands[0]));
  *result = *operands[0];
  return absl::OkStatus();
}

absl::Status InferUnaryFloat(OpKind op, absl::Span<const Shape* const> operands,
                             const Attributes& attrs, Shape* result) {
  RETURN_IF_ERROR(CheckSignature(op, operands, attrs, {}));
  RETURN_IF_ERROR(CheckNotReserved(op, *operands[0]));
  RETURN_IF_ERROR(CheckFloating(op, *operands[0]));
  *result = *operands[0];
  return absl::OkStatus();
}

absl::Status InferUnaryBool(OpKind op, absl::Span<const Shape* const> operands,
                            const Attributes& attrs, Shape* result) {
  RETURN_IF_ERROR(CheckSignature(op, operands, attrs, {}));
  RETURN_IF_ERROR(CheckBool(op, *operands[0]));
  *result = *operands[0];
  return absl::OkStatus();
}

absl::Status InferCast(OpKind op, absl::Span<const Shape* const> operands, const Attributes& attrs,
                       Shape* result) {
  RETURN_IF_ERROR(CheckSignature(op, operands, attrs, {"dtype"}));
  RETURN_IF_ERROR(CheckNotReserved(op, *operands[0]));
  ASSIGN_OR_RETURN(DType dtype, GetDTypeAttr(op, attrs));
  *result = Shape(dtype, operands[0]->sizes());
  return absl::OkStatus();
}

absl::Status InferBinaryNumeric(OpKind op, absl::Span<const Shape* const> operands,
                                const Attributes& attrs, Shape* result) {
  RETURN_IF_ERROR(CheckSignature(op, operands, attrs, {}));
  RETURN_IF_ERROR(BinarySameDType(op, operands, operands[0]->dtype(), result));
  return CheckNumeric(op, *operands[0]);
}

absl::Status InferCompare(OpKind op, absl::Span<const Shape* const> operands,
                          const Attributes& attrs, Shape* result) {
  RETURN_IF_ERROR(CheckSignature(op, operands, attrs, {}));
  return BinarySameDType(op, operands, DType::kBool, result);
}

absl::Status InferBinaryBool(OpKind op, absl::Span<const Shape* const> operands,
                             const Attributes& attrs, Shape* result) {
  RETURN_IF_ERROR(CheckSignature(op, operands, attrs, {}));
  RETURN_IF_ERROR(CheckBool(op, *operands[0]));
  RETURN_IF_ERROR(CheckBool(op, *operands[1]));
  return BinarySameDType(op, operands, DType::kBool, result);
}

absl::Status InferWhere(OpKind op, absl::Span<const Shape* const> operands, const Attributes& attrs,
                        Shape* result) {
  RETURN_IF_ERROR(CheckSignature(op, operands, attrs, {}));
  const Shape& cond = *operands[0];
  RETURN_IF_ERROR(CheckBool(op, cond));
  Shape ab;
  RETURN_IF_ERROR(BinarySameDType(op, operands.subspan(1), operands[1]->dtype(), &ab));
  ASSIGN_OR_RETURN(Sizes sizes, Broadcast(op, cond.sizes(), ab.sizes(), cond, ab));
  *result = Shape(ab.dtype(), std::move(sizes));
  return absl::OkStatus();
}

absl::Status InferReduce(OpKind op, absl::Span<const Shape* const> operands,
                         const Attributes& attrs, Shape* result) {
  RETURN_IF_ERROR(CheckSignature(op, operands, attrs, {"dims", "keepdim"}));
  const Shape& in = *operands[0];
  RETURN_IF_ERROR(CheckNotReserved(op, in));
  ASSIGN_OR_RETURN(std::vector<int64_t> dims, GetAttr<std::vector<int64_t>>(op, attrs, "dims"));
  ASSIGN_OR_RETURN(bool keepdim, GetAttr<bool>(op, attrs, "keepdim"));
  if (op == OpKind::kMean) {
    RETURN_IF_ERROR(CheckFloating(op, in));
  } else {
    RETURN_IF_ERROR(CheckNumeric(op, in));
  }
  std::vector<bool> reduced(in.rank(), false);
  for (int64_t d : dims) {
    if (d < 0 || d >= in.rank()) {
      return Invalid(op, "dims=", AttrValueToString(dims), " out of range for ", in.ToString(),
                     " (expected 0 <= dim < ", in.rank(), ")");
    }
    if (reduced[d]) {
      return Invalid(op, "dims=", AttrValueToString(dims), " repeats dimension ", d);
    }
    reduced[d] = true;
  }
  // Max and min have no identity element, so an empty extent has no answer.
  const bool needs_elements = op == OpKind::kMax || op == OpKind::kMin;
  Sizes out;
  for (int64_t d = 0; d < in.rank(); ++d) {
    if (!reduced[d]) {
      out.push_back(in.size(d));
      continue;
    }
    if (needs_elements && in.size(d) == 0) {
      return Invalid(op, "cannot reduce over an empty dimension ", d, " of ", in.ToString());
    }
    if (keepdim) out.push_back(1);
  }
  *result = Shape(in.dtype(), std::move(out));
  return absl::OkStatus();
}

absl::Status InferArgmax(OpKind op, absl::Span<const Shape* const> operands,
                         const Attributes& attrs, Shape* result) {
  RETURN_IF_ERROR(CheckSignature(op, operands, attrs, {"dim", "keepdim"}));
  const Shape& in = *operands[0];
  RETURN_IF_ERROR(CheckNotReserved(op, in));
  RETURN_IF_ERROR(CheckNumeric(op, in));
  ASSIGN_OR_RETURN(int64_t dim, GetAxis(op, attrs, "dim", in));
  ASSIGN_OR_RETURN(bool keepdim, GetAttr<bool>(op, attrs, "keepdim"));
  if (in.size(dim) == 0) {
    return Invalid(op, "cannot reduce over an empty dimension ", dim, " of ", in.ToString());
  }
  Sizes out;
  for (int64_t d = 0; d < in.rank(); ++d) {
    if (d != dim) {
      out.push_back(in.size(d));
    } else if (keepdim) {
      out.push_back(1);
    }
  }
  *result = Shape(DType::kI64, std::move(out));
  return absl::OkStatus();
}

absl::Status InferMatmul(OpKind op, absl::Span<const Shape* const> operands,
                         const Attributes& attrs, Shape* result) {
  RETURN_IF_ERROR(CheckSignature(op, operands, attrs, {}));
  const Shape& a = *operands[0];
  const Shape& b = *operands[1];
  RETURN_IF_ERROR(CheckNotReserved(op, a));
  RETURN_IF_ERROR(CheckNotReserved(op, b));
  RETURN_IF_ERROR(CheckSameDType(op, a, b));
  RETURN_IF_ERROR(CheckNumeric(op, a));
  if (a.rank() < 2 || b.rank() < 2) {
    return Invalid(op, "expected operands of rank >= 2, got ", a.ToString(), " x ", b.ToString());
  }
  const int64_t m = a.size(a.rank() - 2);
  const int64_t k = a.size(a.rank() - 1);
  const int64_t k2 = b.size(b.rank() - 2);
  const int64_t n = b.size(b.rank() - 1);
  if (k != k2) {
    return Invalid(op, "inner sizes differ: ", a.ToString(), " x ", b.ToString(), " (", k, " vs ",
                   k2, ")");
  }
  absl::Span<const int64_t> a_batch(a.sizes().data(), a.rank() - 2);
  absl::Span<const int64_t> b_batch(b.sizes().data(), b.rank() - 2);
  ASSIGN_OR_RETURN(Sizes out, Broadcast(op, a_batch, b_batch, a, b, "the batch dimensions of "));
  out.push_back(m);
  out.push_back(n);
  *result = Shape(a.dtype(), std::move(out));
  return absl::OkStatus();
}

absl::Status InferReshape(OpKind op, absl::Span<const Shape* const> operands,
                          const Attributes& attrs, Shape* result) {
  RETURN_IF_ERROR(CheckSignature(op, operands, attrs, {"sizes"}));
  const Shape& in = *operands[0];
  RETURN_IF_ERROR(CheckNotReserved(op, in));
  ASSIGN_OR_RETURN(std::vector<int64_t> sizes, GetAttr<std::vector<int64_t>>(op, attrs, "sizes"));
  Shape out(in.dtype(), sizes);
  for (int64_t s : sizes) {
    if (s < 0) return Invalid(op, "sizes=", AttrValueToString(sizes), " has a negative size");
  }
  // The count check in InferShape bounds the output; here the product only has to match,
  // so an overflowing product is simply a mismatch.
  if (CheckedProduct(sizes) != in.numel()) {
    return Invalid(op, "cannot reshape ", in.ToString(), " (", in.numel(), " elements) to ",
                   out.SizesString());
  }
  *result = std::move(out);
  return absl::OkStatus();
}

absl::Status InferPermute(OpKind op, absl::Span<const Shape* const> operands,
                          const Attributes& attrs, Shape* result) {
  RETURN_IF_ERROR(CheckSignature(op, operands, attrs, {"perm"}));
  const Shape& in = *operands[0];
  RETURN_IF_ERROR(CheckNotReserved(op, in));
  ASSIGN_OR_RETURN(std::vector<int64_t> perm, GetAttr<std::vector<int64_t>>(op, attrs, "perm"));
  const auto bad = [&] {
    return Invalid(op, "perm=", AttrValueToString(perm), " is not a permutation of the ", in.rank(),
                   " dimensions of ", in.ToString());
  };
  if (static_cast<int64_t>(perm.size()) != in.rank()) return bad();
  std::vector<bool> seen(in.rank(), false);
  Sizes out;
  for (int64_t p : perm) {
    if (p < 0 || p >= in.rank() || seen[p]) return bad();
    seen[p] = true;
    out.push_back(in.size(p));
  }
  *result = Shape(in.dtype(), std::move(out));
  return absl::OkStatus();
}

absl::Status InferExpand(OpKind op, absl::Span<const Shape* const> operands,
                         const Attributes& attrs, Shape* result) {
  RETURN_IF_ERROR(CheckSignature(op, operands, attrs, {"sizes"}));
  const Shape& in = *operands[0];
  RETURN_IF_ERROR(CheckNotReserved(op, in));
  ASSIGN_OR_RETURN(std::vector<int64_t> sizes, GetAttr<std::vector<int64_t>>(op, attrs, "sizes"));
  const int64_t rank = static_cast<int64_t>(sizes.size());
  if (rank < in.rank()) {
    return Invalid(op, "cannot expand ", in.ToString(),
                   " to fewer dimensions: sizes=", AttrValueToString(sizes));
  }
  for (int64_t i = 0; i < rank; ++i) {
    const int64_t target = sizes[i];
    if (target < 0) return Invalid(op, "sizes=", AttrValueToString(sizes), " has a negative size");
    const int64_t in_dim = i - (rank - in.rank());
    if (in_dim < 0) continue;
    const int64_t have = in.size(in_dim);
    if (have != target && have != 1) {
      return Invalid(op, "cannot expand ", in.ToString(), " to ", AttrValueToString(sizes),
                     ": dimension ", in_dim, " has size ", have, ", expected ", target, " or 1");
    }
  }
  *result = Shape(in.dtype(), sizes);
  return absl::OkStatus();
}

absl::Status InferSlice(OpKind op, absl::Span<const Shape* const> operands, const Attributes& attrs,
                        Shape* result) {
  RETURN_IF_ERROR(CheckSignature(op, operands, attrs, {"dim", "start", "end", "step"}));
  const Shape& in = *operands[0];
  RETURN_IF_ERROR(CheckNotReserved(op, in));
  ASSIGN_OR_RETURN(int64_t dim, GetAxis(op, attrs, "dim", in));
  ASSIGN_OR_RETURN(int64_t start, GetAttr<int64_t>(op, attrs, "start"));
  ASSIGN_OR_RETURN(int64_t end, GetAttr<int64_t>(op, attrs, "end"));
  ASSIGN_OR_RETURN(int64_t step, GetAttr<int64_t>(op, attrs, "step"));
  if (step <= 0) return Invalid(op, "step must be > 0, got ", step);
  const int64_t size = in.size(dim);
  if (start < 0 || start > end || end > size) {
    return Invalid(op, "bounds start=", start, " end=", end, " out of range for dimension ", dim,
                   " of ", in.ToString(), " (expected 0 <= start <= end <= ", size, ")");
  }
  const int64_t extent = end - start;
  Sizes out = in.sizes();
  out[dim] = extent / step + (extent % step != 0 ? 1 : 0);
  *result = Shape(in.dtype(), std::move(out));
  return absl::OkStatus();
}

absl::Status InferConcat(OpKind op, absl::Span<const Shape* const> operands,
                         const Attributes& attrs, Shape* result) {
  RETURN_IF_ERROR(CheckSignature(op, operands, attrs, {"dim"}));
  const Shape& first = *operands[0];
  for (const Shape* s : operands) RETURN_IF_ERROR(CheckNotReserved(op, *s));
  ASSIGN_OR_RETURN(int64_t dim, GetAxis(op, attrs, "dim", first));
  Sizes out = first.sizes();
  for (size_t i = 1; i < operands.size(); ++i) {
    const Shape& s = *operands[i];
    if (s.dtype() != first.dtype()) {
      return Invalid(op, "operand dtypes differ: ", ShapesString(operands), " (cast first)");
    }
    if (s.rank() != first.rank()) {
      return Invalid(op, "operand ranks differ: ", ShapesString(operands));
    }
    for (int64_t d = 0; d < s.rank(); ++d) {
      if (d != dim && s.size(d) != first.size(d)) {
        return Invalid(op, "operand sizes differ in dimension ", d, " (only dim=", dim,
                       " may differ): ", ShapesString(operands));
      }
    }
    if (__builtin_add_overflow(out[dim], s.size(dim), &out[dim])) {
      return Invalid(op, "concatenated size overflows: ", ShapesString(operands));
    }
  }
  *result = Shape(first.dtype(), std::move(out));
  return absl::OkStatus();
}

absl::Status InferPad(OpKind op, absl::Span<const Shape* const> operands, const Attributes& attrs,
                      Shape* result) {
  RETURN_IF_ERROR(CheckSignature(op, operands, attrs, {"pads", "value"}));
  const Shape& in = *operands[0];
  RETURN_IF_ERROR(CheckNotReserved(op, in));
  ASSIGN_OR_RETURN(std::vector<int64_t> pads, GetAttr<std::vector<int64_t>>(op, attrs, "pads"));
  RETURN_IF_ERROR(GetAttr<double>(op, attrs, "value").status());
  if (static_cast<int64_t>(pads.size()) != 2 * in.rank()) {
    return Invalid(op, "pads=", AttrValueToString(pads), " must have 2 entries per dimension of ",
                   in.ToString(), " (", 2 * in.rank(), "), got ", pads.size());
  }
  Sizes out = in.sizes();
  for (int64_t d = 0; d < in.rank(); ++d) {
    int64_t size = 0;
    if (__builtin_add_overflow(in.size(d), pads[2 * d], &size) ||
        __builtin_add_overflow(size, pads[2 * d + 1], &size) || size < 0) {
      return Invalid(op, "pads=", AttrValueToString(pads), " give dimension ", d, " of ",
                     in.ToString(), " an invalid size (expected >= 0)");
    }
    out[d] = size;
  }
  *result = Shape(in.dtype(), std::move(out));
  return absl::OkStatus();
}

absl::Status InferGather(OpKind op, absl::Span<const Shape* const> operands,
                         const Attributes& attrs, Shape* result) {
  RETURN_IF_ERROR(CheckSignature(op, operands, attrs, {"dim"}));
  const Shape& in = *operands[0];
  const Shape& index = *operands[1];
  RETURN_IF_ERROR(CheckNotReserved(op, in));
  RETURN_IF_ERROR(CheckIndex(op, index));
  ASSIGN_OR_RETURN(int64_t dim, GetAxis(op, attrs, "dim", in));
  if (index.rank() != in.rank()) {
    return Invalid(op, "index ", index.ToString(), " must have the rank of the input ",
                   in.ToString());
  }
  for (int64_t d = 0; d < in.rank(); ++d) {
    if (d != dim && index.size(d) > in.size(d)) {
      return Invalid(op, "index ", index.ToString(), " is larger than the input ", in.ToString(),
                     " in dimension ", d, " (", index.size(d), " > ", in.size(d), ")");
    }
  }
  RETURN_IF_ERROR(CheckIndexedDimNotEmpty(op, in, dim, index));
  *result = Shape(in.dtype(), index.sizes());
  return absl::OkStatus();
}

absl::Status InferIndexSelect(OpKind op, absl::Span<const Shape* const> operands,
                              const Attributes& attrs, Shape* result) {
  RETURN_IF_ERROR(CheckSignature(op, operands, attrs, {"dim"}));
  const Shape& in = *operands[0];
  const Shape& index = *operands[1];
  RETURN_IF_ERROR(CheckNotReserved(op, in));
  RETURN_IF_ERROR(CheckIndex(op, index));
  ASSIGN_OR_RETURN(int64_t dim, GetAxis(op, attrs, "dim", in));
  if (index.rank() != 1) {
    return Invalid(op, "expected a 1-d index, got ", index.ToString(), " for input ",
                   in.ToString());
  }
  RETURN_IF_ERROR(CheckIndexedDimNotEmpty(op, in, dim, index));
  Sizes out = in.sizes();
  out[dim] = index.size(0);
  *result = Shape(in.dtype(), std::move(out));
  return absl::OkStatus();
}

absl::Status InferScatterAdd(OpKind op, absl::Span<const Shape* const> operands,
                             const Attributes& attrs, Shape* result) {
  RETURN_IF_ERROR(CheckSignature(op, operands, attrs, {"dim"}));
  const Shape& self = *operands[0];
  const Shape& index = *operands[1];
  const Shape& src = *operands[2];
  RETURN_IF_ERROR(CheckNotReserved(op, self));
  RETURN_IF_ERROR(CheckNotReserved(op, src));
  RETURN_IF_ERROR(CheckNumeric(op, self));
  RETURN_IF_ERROR(CheckIndex(op, index));
  RETURN_IF_ERROR(CheckSameDType(op, self, src));
  ASSIGN_OR_RETURN(int64_t dim, GetAxis(op, attrs, "dim", self));
  if (index.rank() != self.rank() || src.rank() != self.rank()) {
    return Invalid(op, "self, index and src must have one rank, got ", ShapesString(operands));
  }
  for (int64_t d = 0; d < self.rank(); ++d) {
    if (index.size(d) > src.size(d)) {
      return Invalid(op, "index ", index.ToString(), " is larger than src ", src.ToString(),
                     " in dimension ", d, " (", index.size(d), " > ", src.size(d), ")");
    }
    if (d != dim && index.size(d) > self.size(d)) {
      return Invalid(op, "index ", index.ToString(), " is larger than self ", self.ToString(),
                     " in dimension ", d, " (", index.size(d), " > ", self.size(d), ")");
    }
  }
  RETURN_IF_ERROR(CheckIndexedDimNotEmpty(op, self, dim, index));
  *result = self;
  return absl::OkStatus();
}

}  // namespace kiln
