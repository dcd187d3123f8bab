#pragma once
// The interp kernels, one entry point per op family. A kernel reads its operands'
// shapes from their buffers, writes every element of `out` (allocated with the node's
// inferred shape) and returns InvalidArgument, naming the op, for data-dependent errors
// (an index out of range, an integer division by zero). Semantics follow ir/op_kind.h.
#include "absl/status/status.h"
#include "absl/types/span.h"
#include "backends/interp/interp_backend.h"
#include "ir/attributes.h"
#include "ir/op_kind.h"

namespace kiln::interp {

// One op application: the op, its attributes, its operands and its output.
struct KernelCall {
  OpKind op;
  const Attributes* attrs;
  absl::Span<const InterpBuffer* const> inputs;
  InterpBuffer* out;
};

// Runs any non-parameter op by forwarding to its family below.
absl::Status RunKernel(const KernelCall& call);

// Constant, Arange, RandUniform.
absl::Status RunGenerator(const KernelCall& call);
// Unary, binary, comparison, logical, where and cast.
absl::Status RunElementwise(const KernelCall& call);
// Sum, Mean, Max, Min, Argmax.
absl::Status RunReduction(const KernelCall& call);
// Matmul.
absl::Status RunMatmul(const KernelCall& call);
// Reshape, Permute, Expand, Slice, Concat, Pad.
absl::Status RunMovement(const KernelCall& call);
// Gather, IndexSelect, ScatterAdd.
absl::Status RunIndexing(const KernelCall& call);

}  // namespace kiln::interp
