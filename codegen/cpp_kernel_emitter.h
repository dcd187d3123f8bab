#pragma once
// The C++ emitter's per-kernel printer (codegen/cpp_emitter.h), shared by the files that
// implement it: cpp_emitter.cc (loop nests and the function) and cpp_reduce_emitter.cc
// (reductions: per-row loops and column reductions). Expressions and stores are printed
// by the shared KernelPrinter (codegen/kernel_printer.h).
#include <cstdint>
#include <string>
#include <vector>

#include "codegen/kernel_ir.h"
#include "codegen/kernel_printer.h"

namespace kiln::codegen::internal {

constexpr int64_t kSumBlock = 1024;      // elements per f32 partial sum
constexpr int64_t kMinParallel = 32768;  // fewer elements than this run on one thread

// Prints one kernel as a C++ function with OpenMP loops. One per kernel.
class CppKernelEmitter : public KernelPrinter {
 public:
  explicit CppKernelEmitter(const KernelIR& ir) : KernelPrinter(ir, Dialect::kHostCpp) {}

  std::string Emit();

 private:
  void EmitReduce(int e, const std::vector<bool>& bound) override;
  void EmitNest(const LoopNest& nest);
  // A kColumnReduce nest (cpp_reduce_emitter.cc): its sweeps and combines.
  void EmitColumnNest(const LoopNest& nest);
  void EmitColumnSweep(const LoopNest& nest, const ColumnSchedule& schedule, int sweep);
  void EmitColumnCombine(const LoopNest& nest, const ColumnSchedule& schedule, int level);
  // Opens the innermost loop, over variable `v`, of the expressions reachable from `roots`
  // (`bound`: the variables of the loops around it), after `pragma` when that is not
  // empty. An index division in it whose divisor is fixed outside the loop and whose
  // dividend is i<v> plus something fixed outside it makes the loop run in blocks over
  // which the quotient is constant (kn::IdxQuotientUntil): one division per block, and a
  // remainder that grows with i<v>, so that loads through it are contiguous rather than
  // gathers (the views around a head split or a concatenation). A comparison of i<v> with a
  // bound fixed outside the loop (the seams of a concatenation or a pad) ends the blocks at the
  // bound too (kn::IdxBelowUntil), so it is evaluated once per block. Returns the number of
  // loops opened, for CloseInnermostLoop.
  int OpenInnermostLoop(int v, const std::vector<int>& roots, const std::vector<bool>& bound,
                        const std::string& pragma);
  void CloseInnermostLoop(int opened);
  // Whether the part of `root` that depends on `inner_vars` contains a check or a nested
  // reduction, which keep the loop from being an OpenMP simd loop.
  bool Reaches(int root, const std::vector<bool>& inner_vars, bool* has_check) const;

  // The row sum's summands kept for the element loop after it. A blocked f32/f64 sum
  // over one variable writes each block's summands to an array before adding them
  // (BlockSum); a row of at most kSumBlock elements is one block, so the array then holds
  // every summand of the row. When the row's element loop computes one of them again
  // (softmax: p = e / sum(e), e = exp(x - max)), it reads the array instead, in a second
  // version of the loop taken when the row fits one block:
  //   if (n1 <= 1024) { for i3: v9 = block7[i3]; b0[...] = v9 * rcp8; }
  //   else            { for i3: v9 = exp(x - max) ...;  b0[...] = v9 * rcp8; }
  struct SummandBlock {
    int reduce;         // the kReduce expression
    std::string block;  // the array, declared where the sum's accumulator is
  };
  std::vector<SummandBlock> summand_blocks_;
  // The expressions of an element loop over `v` (reachable from `roots`, not yet
  // emitted) that equal the summand of a row sum in scope, each with the text that reads
  // it from the sum's array.
  std::vector<std::pair<int, std::string>> SummandsInBlocks(int v,
                                                            const std::vector<int>& roots) const;
  // Whether expression `a`, with loop variable `a_var`, computes what `b` does with
  // `b_var` in its place.
  bool SameUpToVar(int a, int b, int a_var, int b_var) const;

  std::vector<int> blocked_exprs_;  // what the open innermost loop computes per block
};

}  // namespace kiln::codegen::internal
