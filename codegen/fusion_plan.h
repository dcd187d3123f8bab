#pragma once
// The fusion planner: partitions a Graph into kernels, each of which becomes one
// generated loop nest (or one BLAS call). Pure analysis of the IR: no code, no backend.
//
//   graph                                   plan
//   %0 = f32[64,192] device_data()          kernel 0 (row): %2 %3 %4 %5 %6 ... -> %9
//   %1 = f32[192] device_data()               reduces dims [1] of f32[64,192]; stores %9
//   %2 = f32[64,1] mean(%0) dims=[1] ...    kernel 1 (matmul): %10 = matmul(%9, %1')
//   ...                                       boundary: matmul runs in BLAS
//   %10 = matmul(%9, %8)                    kernel 2 (elementwise): %11 %12 -> %12
//   %11 = add(%10, %1)  %12 = tanh(%11)
//
// Positions below are indices into Graph::post_order(). Parameters (DeviceData, Scalar)
// are never kernel members: kernels load them.
//
// The rules, in the order the planner applies them:
//  1. Results. A node is computed once, in one kernel ("a result") when it is a graph
//     output, a reduction, a matmul, a scatter_add, an operand of a matmul, or used by
//     several nodes and not cheap to recompute (a scatter_add computes its own operands
//     where it reads them). Every other node is inlined:
//     a member of each kernel that reads it, recomputed there, never stored. Cheap to
//     recompute (rule for multi-use nodes): views, constants and arange (index arithmetic,
//     no work), or a chain of elementwise ops costing at most kMaxRecomputedOps (no gather)
//     whose leaves are parameters and constants, or one stored result, constants and
//     parameters it broadcasts along a dimension (like a bias): its readers then load
//     that one tensor instead of this value, about the same traffic and one store less
//     (a forward activation that the backward recomputes from the tensor it already
//     reads; a matmul's output plus its bias). Anything else used twice is stored once
//     and loaded by each reader.
//     A result is stored when a graph output or when another kernel reads it, directly
//     or through a chain it recomputes.
//  2. Matmul operands are buffers: a parameter, or a result stored by an earlier kernel.
//     An operand that transposes the last two dimensions of a buffer is not copied: the
//     permute is a member of the matmul kernel and the kernel loads the un-transposed
//     buffer (the BLAS call takes a transpose flag; two such transposes cancel). Likewise
//     reshapes of a loaded buffer (free: buffers are contiguous) under such transposes are
//     members, so a matmul kernel's members are the matmul plus, per operand, reshape*
//     then transpose*.
//       %2 = permute(%1) perm=[1,0]; %3 = matmul(%0, %2)
//       -> kernel (matmul): members %2 %3, loads %0 %1
//  3. Each result starts a kernel: matmul, scatter_add, reduction (kRow over its input
//     sizes and reduced dims) or elementwise (over its sizes). Going through the results
//     in post-order, a result's kernel merges with each producer's kernel (nearest first)
//     when they are compatible:
//       elementwise + elementwise: equal loop sizes;
//       row + row: the same reduction input sizes and reduced dims;
//       row + elementwise: the elementwise sizes are the row input sizes (a prologue or an
//         epilogue over the row's elements) or the reduced sizes, with or without the
//         reduced dims (a per-row value);
//       never matmul or scatter_add;
//     and the merge forms no cycle between kernels and, in a row kernel, no value derived
//     from a reduction reaches another row (through a permute, slice, pad, concat,
//     indexed load, or a reshape of non-unit sizes). Then kernels of the same loop that
//     read a common input merge too (layer_norm backward's weight and bias gradients).
//  4. A kernel stores its results that a later kernel reads or that are graph outputs; a
//     graph output that is a parameter gets a copy kernel (no members, loads and stores
//     the parameter), as outputs are fresh buffers. Kernels run in dependency order,
//     ready kernels by their first result's position: the plan is deterministic.
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "ir/graph.h"

namespace kiln::codegen {

enum class KernelKind {
  // One loop over the shape of its stores (all stores have that shape): elementwise ops,
  // constants, arange, and views (reshape, permute, expand, slice, pad, concat) as index
  // arithmetic, gather/index_select as indexed loads.
  kElementwise,
  // An outer loop over rows (the kept dimensions of its reductions) and, per row, inner
  // loops over the reduced dimensions: the reductions, their elementwise producers
  // (prologue) and elementwise consumers over the same row (epilogue), so softmax,
  // layer_norm and their backward passes are one kernel. Every reduction in the kernel
  // reduces the same input sizes over the same dimensions. When the reductions keep the
  // input's contiguous last dimension (column sums), the kernel IR sweeps rows outer and
  // columns inner instead (codegen/kernel_ir.h, NestKind::kColumnReduce).
  kRow,
  // One matmul, run by BLAS; operands are loaded buffers (a transposed operand is a flag).
  kMatmul,
  // One scatter_add, in its own kernel so that threads never race on an element.
  kScatterAdd,
};

const char* KernelKindName(KernelKind kind);

struct Kernel {
  KernelKind kind;
  // Member nodes, in post-order. A cheap node (a constant, arange, or a view of a
  // parameter) may be a member of several kernels: it is recomputed, not stored.
  std::vector<int> nodes;
  // Members whose values are written to buffers: read by a later kernel or a graph
  // output. In post-order. (A parameter's copy kernel stores the parameter itself.)
  std::vector<int> stores;
  // Nodes outside the kernel that it reads: parameters and earlier kernels' stores, in
  // post-order.
  std::vector<int> loads;
  // Why the kernel ends where it does (e.g. "matmul runs in BLAS", "reduction over
  // different dimensions"), for the printed plan.
  std::string boundary;
};

struct FusionPlan {
  std::vector<Kernel> kernels;  // in execution order: a kernel's loads come before it
  // One line per kernel: kind, members, loads, stores and boundary.
  std::string ToString(const Graph& graph) const;
  // Graphviz DOT: nodes clustered by kernel.
  std::string ToDot(const Graph& graph) const;
};

// The most elementwise work a multi-use node may repeat per element in each kernel that
// reads it (rule 1 above), in arithmetic ops with a transcendental counted as three; past
// this it is stored once. Each node counts once, however often the chain uses it. Eight
// covers tanh-GELU's tanh(sqrt(2/pi) (x + 0.044715 x^3)) of a stored x, which the
// backward then recomputes from x. A Linear's x = matmul + bias adds one: its tanh is
// stored, and the backward loads it next to the matmul's output (on the ViT's MLP, 3M
// elements, that backward kernel took 1.25 ms; recomputing tanh there, 2.8 ms).
inline constexpr int kMaxRecomputedOps = 8;

FusionPlan PlanFusion(const Graph& graph);

// Checks the plan's invariants: every non-parameter node an output needs is a member of
// some kernel; every load is a parameter or an earlier kernel's store; every member's
// operands are members or loads; a kElementwise kernel's stores share sizes; a kRow
// kernel's reductions share input sizes and reduced dims; every graph output is stored.
// For tests and debug builds.
absl::Status VerifyFusionPlan(const Graph& graph, const FusionPlan& plan);

}  // namespace kiln::codegen
