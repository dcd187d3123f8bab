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
  // Whether the part of `root` that depends on `inner_vars` contains a check or a nested
  // reduction, which keep the loop from being an OpenMP simd loop.
  bool Reaches(int root, const std::vector<bool>& inner_vars, bool* has_check) const;
};

}  // namespace kiln::codegen::internal
