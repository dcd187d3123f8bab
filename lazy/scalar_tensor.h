#pragma once
// Leaves made for one operand of an op, on the other operand's backend (and in-graph
// random numbers, whose only operand is such a leaf).
//
//   x * 0.5  ->  mul(x, ScalarTensor(0.5, f32, x))   // a runtime Scalar leaf
//
// A runtime scalar hashes by dtype only, so `x * 0.5` and `x * 0.25` share one compiled
// graph; a baked constant hashes by value and is for numbers that never vary (the
// 0.5 in gelu), which lets code generation fold them.
#include <cstdint>
#include <vector>

#include "backends/backend.h"
#include "ir/dtype.h"
#include "ir/op_kind.h"
#include "lazy/generator.h"
#include "lazy/tensor.h"

namespace kiln::internal {

// A 0-d tensor holding the runtime Scalar `value` as `dtype`, on `backend`.
Tensor ScalarTensor(double value, DType dtype, Backend* backend, const CallSite& site);
// The same on `like`'s backend (like must be defined).
Tensor ScalarTensor(double value, DType dtype, const Tensor& like, const CallSite& site);

// Records `op` on `t` and a new runtime Scalar leaf holding `value` in t's dtype, the leaf
// first when `scalar_first`: the node RecordOpByPtr(op, {&t, &ScalarTensor(...)}) would
// record, without a tensor (and its live-registry entry) for a leaf used only here. `t`
// must be defined.
//   RecordScalarOp(OpKind::kMul, x, 0.5, /*scalar_first=*/false, site);  // x * 0.5
Tensor RecordScalarOp(OpKind op, const Tensor& t, double value, bool scalar_first,
                      const CallSite& site);

// A 0-d tensor whose `value` is baked into the code (a Constant leaf), on `backend`.
Tensor ConstantTensor(double value, DType dtype, Backend* backend, const CallSite& site);
// The same on `like`'s backend (like must be defined).
Tensor ConstantTensor(double value, DType dtype, const Tensor& like, const CallSite& site);

// 0, 1, ..., size - 1 as `dtype` (an Arange leaf, computed in the kernels that read it), on
// `like`'s backend.
Tensor ArangeTensor(int64_t size, DType dtype, const Tensor& like, const CallSite& site);

// Uniform numbers in [0, 1) of `sizes` and floating `dtype`, drawn inside the graph (a
// rand_uniform node under a new key from `gen`, a runtime scalar), on `like`'s backend.
Tensor RandUniformTensor(std::vector<int64_t> sizes, DType dtype, Generator& gen,
                         const Tensor& like, const CallSite& site);

}  // namespace kiln::internal
