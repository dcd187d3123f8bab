#pragma once
// Kernel IR: one planned kernel (codegen/fusion_plan.h) lowered to loops over index
// expressions, independent of the target language. The C++ emitter (cpp_emitter.h)
// prints it; a CUDA emitter can map the parallel loops to a grid instead.
//
//   kernel (row): %1 = max(%0) dims=[1]      KernelIR k0 (buffers b0:f32 in, b1:f32 out)
//                 %2 = sub(%0, %1')            nest: parallel i0 < n0; i1 < n1
//                 %3 = exp(%2) ...               e2 = reduce max over i2 < n1 of
//                 stores %6 f32[N,512]                  load b0[i0*n1 + i2]
//                                                e5 = load b0[i0*n1 + i1] - e2 ...
//                                                b1[i0*n1 + i1] = e9
//
// Everything is an expression in one DAG (`Expr`): loop variables, index arithmetic,
// loads, elementwise math, and reductions, each of which owns the loop variables it
// iterates. Views become index arithmetic on the loads (reshape = linearise and
// delinearise, permute, expand = index 0, slice = start + i*step, pad = a bounds test
// that masks the load and selects the pad value, concat = a select by range); gather
// and index_select load their index and range-check it. Where an expression is placed
// (which loop it is computed in) is the emitter's business: it hoists every expression
// to the outermost loop whose variables it uses, so a row's mean is computed once per row.
//
// Sizes: every dimension of size other than 1 is a runtime size (codegen/size_symbols.h):
// loop bounds and index arithmetic are expressions over `kSizeArg` symbols, the same
// symbol wherever the ops make two sizes equal. Only size-1 dimensions (broadcasts) and
// numbers from op attributes (slice starts, pad widths, constants) are baked. Two graphs
// that differ only in their batch or sequence sizes therefore lower to identical IR and
// identical source, and share one compiled library; the sizes come in as arguments.
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "codegen/fusion_plan.h"
#include "ir/dtype.h"
#include "ir/graph.h"
#include "ir/op_kind.h"

namespace kiln::codegen {

enum class ExprKind : uint8_t {
  kConstant,   // `number` converted to dtype (bool, integers: exact; floats: nearest)
  kVar,        // loop variable `var` (i64)
  kSizeArg,    // runtime size symbol `arg` (i64, >= 0)
  kScalarArg,  // runtime scalar `arg`, passed as f64 and converted to dtype
  kLoad,       // buffer `arg` at element args[0]; args[1], when present, masks the load
               // (false reads 0 and touches no memory)
  kOp,         // the elementwise op `op` (unary, binary, where, cast) with op semantics
  kIdxAdd,     // i64 index arithmetic: args[0] + args[1] (may be negative: pad offsets)
  kIdxMul,     // args[0] * args[1]
  kIdxDiv,     // args[0] / args[1], both >= 0
  kIdxMod,     // args[0] % args[1], both >= 0
  kReduce,     // `op` (sum, mean, prod, max, min, argmax) of args[0] over loop variables `vars`;
               // mean: args[1] is the count; argmax: args[1] is the position along the dim;
               // sums accumulate in `acc_dtype`
  kCheck,      // args[0] checked by check `arg` (KernelIR::checks) when args[1] (a guard) is
               // true; args[2] is the element position reported on failure; args[3] the
               // exclusive bound of an index. The value is args[0], or 0 for an
               // out-of-range index so that no load goes astray.
};

struct Expr {
  ExprKind kind = ExprKind::kConstant;
  DType dtype = DType::kF32;
  OpKind op = OpKind::kAdd;       // kOp, kReduce
  std::vector<int> args;          // operand expression ids (always smaller than this id)
  double number = 0;              // kConstant (integers up to 2^53 are exact)
  int64_t inumber = 0;            // kConstant of i64: the exact value
  int arg = -1;                   // kVar, kSizeArg, kScalarArg, kLoad, kCheck
  std::vector<int> vars;          // kReduce: the loop variables it iterates, outer to inner
  DType acc_dtype = DType::kF32;  // kReduce of sum/mean
};

// One loop variable: 0 <= i < size_expr, an i64 expression over constants and size
// symbols only (so the emitter computes it once, at the top of the function).
struct LoopVar {
  int64_t size = 0;    // the bound's current value
  int size_expr = -1;  // expression id of the bound
};

// buffers[buffer][offset] = value (or += value with wrapping integer arithmetic).
struct Store {
  int buffer;
  int offset;  // expression id
  int value;   // expression id
  bool accumulate = false;
};

enum class NestKind : uint8_t {
  // Plain loops; each reduction is computed where it is used, in loops of its own.
  kLoops,
  // A reduction over leading dimensions that keeps the contiguous last one (a column
  // sum: the bias gradient, sum over rows of dY[rows, C]). `vars` are the kept outer
  // dimensions (`num_parallel` of them), then the reduced ones (`num_reduced`), then the
  // kept inner ones (at least one: the columns). The nest sweeps rows outer and columns
  // inner, accumulating every reduction in `reductions` (kReduce expressions over exactly
  // the reduced vars, which are also the vars of the element stores, so a value both
  // stored and reduced is computed once) into one partial result per column and per
  // chunk of rows; the chunks are combined in order, then the per-column stores run.
  //   sum over i1 of g[i1, i0]       ->  for rows i1: for columns i0 (simd):
  //   b2[i0] = b1[i0] - lr * sum            part[i0] += g[i1 * n0 + i0]
  //                                       for columns i0: b2[i0] = b1[i0] - lr * part[i0]
  // A reduction whose body uses another of the nest's reductions runs in a later sweep
  // (ScheduleColumns).
  kColumnReduce,
};

// A loop nest: `vars` outer to inner, the first `num_parallel` of them parallel (run by
// several threads; stores there never collide). Each store sits in the innermost loop
// whose variables it uses.
struct LoopNest {
  std::vector<int> vars;
  int num_parallel = 0;
  std::vector<Store> stores;
  NestKind kind = NestKind::kLoops;
  int num_reduced = 0;          // kColumnReduce only
  std::vector<int> reductions;  // kColumnReduce only: expression ids, increasing
};

// The order in which a kColumnReduce nest does its work. Sweep k runs over every element,
// accumulating the reductions of level k (level: 0, or one more than the highest level
// of the nest's reductions its body uses) and storing the element stores of phase k;
// after the sweep the level-k partial results are combined per column. The per-column
// stores (those whose offset and value use no reduced variable) run with the last
// combine. An element store that uses a reduction of the last level gets a sweep of its
// own after that combine.
struct ColumnSchedule {
  std::vector<int> level;        // per entry of LoopNest::reductions
  std::vector<int> store_phase;  // per store: its sweep, or -1 for a per-column store
  int num_levels = 0;            // sweeps that accumulate: 1 + the highest level
  int num_sweeps = 0;            // num_levels, plus one when a store needs the last level
};

// A data-dependent failure found while a kernel runs: an index out of range, an
// integer division by zero, a negative integer exponent.
struct Check {
  enum Kind { kIndexRange, kDivByZero, kNegativeExponent } kind = kIndexRange;
  OpKind op = OpKind::kGather;
  int order = 0;    // post-order position of the node: the first failing node wins
  int64_t dim = 0;  // kIndexRange: the indexed dimension and its size
  int64_t size = 0;
  Sizes shape;  // positions are reported as multi-indices into this shape
};

// A BLAS-style matmul between buffers: out[b] = op(a[b]) x op(b[b]) where op transposes
// the last two dimensions when the flag is set. Batch dimensions broadcast.
struct MatmulCall {
  int a = -1, b = -1, out = -1;  // buffer indices
  bool transpose_a = false, transpose_b = false;
  DType dtype = DType::kF32;
  Sizes a_shape, b_shape, out_shape;  // as stored (a_shape is [.., k, m] when transposed)
};

// A matmul call's sizes: each output matrix is m x n, summing over k; the batch sizes
// of the output and of each operand (views into the call's shapes); lda and ldb, the
// operands' row lengths as stored.
struct MatmulDims {
  int64_t m = 0, n = 0, k = 0, batches = 1, lda = 0, ldb = 0;
  absl::Span<const int64_t> out_batch, a_batch, b_batch;
};
MatmulDims GetMatmulDims(const MatmulCall& call);

// The element offset of matrix `flat` (a row-major index over the output's batch sizes
// `out_batch`) within an operand whose own batch sizes are `batch`, broadcast against
// them (trailing-aligned; size-1 dimensions repeat), with `matrix` elements per matrix.
int64_t MatmulBatchOffset(int64_t flat, absl::Span<const int64_t> out_batch,
                          absl::Span<const int64_t> batch, int64_t matrix);

enum class BufferRole { kInput, kOutput, kScratch };

struct BufferArg {
  DType dtype;
  BufferRole role;
  int node = -1;  // post-order position of the graph value held (-1: scratch)
  Sizes shape;    // current sizes (not part of the generated code)
  // May share memory with another buffer of the kernel (a donated input and the output
  // written over it, backends/cpu/cpu_executable.h): emitted without __restrict, so the
  // compiler keeps each element's load before the store that overwrites it.
  bool may_alias = false;
};

struct KernelIR {
  std::string name;  // the function's name, e.g. "kiln_k3"
  KernelKind kind;
  std::vector<BufferArg> buffers;
  std::vector<DType> scalar_dtypes;
  std::vector<int> scalar_nodes;     // post-order position of each runtime scalar leaf
  std::vector<int64_t> size_values;  // current value of each size symbol
  std::vector<LoopVar> vars;
  std::vector<Expr> exprs;
  std::vector<LoopNest> nests;  // run in order
  int num_pre_nests = 0;        // nests before the matmul calls; the rest run after
  std::vector<Check> checks;
  std::vector<MatmulCall> matmuls;  // run by the backend after the nests
  bool has_code() const { return !nests.empty(); }
};

// The schedule of `nest`, a kColumnReduce nest of `ir`.
ColumnSchedule ScheduleColumns(const KernelIR& ir, const LoopNest& nest);

// Marks every expression of `ir` that `roots` (expression ids; -1 entries ignored) use.
std::vector<bool> ReachableExprs(const KernelIR& ir, std::vector<int> roots);

// Lowers kernel `index` of `plan` over `graph`. Every node that is not a member must be a
// parameter or a value some kernel stores. Unimplemented for reserved dtypes.
absl::StatusOr<KernelIR> LowerKernel(const Graph& graph, const FusionPlan& plan, int index);

}  // namespace kiln::codegen
