#pragma once
// Shape inference for every op kind (the functions named in KILN_FOR_EACH_OP). An invalid
// combination gives InvalidArgument with a message that names the op, the operand shapes
// and what was expected, e.g.
//   "add: cannot broadcast f32[3,4] with f32[5]: dimension sizes 4 and 5 differ and neither is 1"
//   "matmul: inner sizes differ: f32[2,3] x f32[4,5] (3 vs 4)"
// The lazy API turns these into kiln::Error; the IR parser into a parse error.
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "ir/attributes.h"
#include "ir/op_kind.h"
#include "ir/shape.h"

namespace kiln {

// Infers the output shape of `op` applied to operands of shapes `operands`.
// Leaves whose shape is given (DeviceData, Scalar) return FailedPrecondition.
absl::StatusOr<Shape> InferShape(OpKind op, absl::Span<const Shape* const> operands,
                                 const Attributes& attrs);

// InferShape writing into `*result`, for Node::Create, which infers straight into the
// node it allocates: no StatusOr<Shape> to build and move on every traced op. On error
// `*result` is left unspecified.
absl::Status InferShapeInto(OpKind op, absl::Span<const Shape* const> operands,
                            const Attributes& attrs, Shape* result);

// The NumPy broadcast of two size lists: aligned at the trailing dimension, size 1
// stretches. `op` only names the op in the error.
absl::StatusOr<Sizes> BroadcastSizes(OpKind op, const Shape& a, const Shape& b);

// The per-op functions behind InferShapeInto, with the same contract.
#define KILN_DECLARE_INFER(name, text, arity, infer)                                              \
  absl::Status infer(OpKind op, absl::Span<const Shape* const> operands, const Attributes& attrs, \
                     Shape* result);
KILN_FOR_EACH_OP(KILN_DECLARE_INFER)
#undef KILN_DECLARE_INFER

}  // namespace kiln
