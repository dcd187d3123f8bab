#pragma once
// The interp backend's compiled form of a graph: a flat list of steps, one per node in
// post-order, that copies each node's op, attributes and shape but holds no pointer to
// the graph, its nodes or their buffers, so a cached executable keeps no tensor alive.
//
//   graph { %0 = f32[2] device_data()      steps: 0: param 0          slot 0
//           %1 = f32[2] exp(%0)                   1: exp(slot 0)      slot 1, frees 0
//           %2 = f32[] sum(%1) dims=[0]           2: sum(slot 1)      slot 2, frees 1
//           return (%2) }                  outputs: slot 2
//
// Each step writes its own slot; a slot is released right after its last reader runs
// (computed here, at compile time), so a run holds only the live intermediates.
//
// With KILN_CHECK_NAN on at Create, a run stops at the first node whose value (or
// argument) holds a NaN or infinity (backends/nan_check.h).
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "backends/backend.h"
#include "ir/attributes.h"
#include "ir/graph.h"
#include "ir/op_kind.h"
#include "ir/shape.h"

namespace kiln {

class InterpExecutable : public Executable {
 public:
  // Plans `graph`. Unimplemented for graphs that use the reserved dtypes (f16/bf16).
  static absl::StatusOr<std::unique_ptr<InterpExecutable>> Create(const Graph& graph);

  // Thread-safe: a run keeps all of its state on its own stack.
  absl::StatusOr<std::vector<BufferPtr>> Run(absl::Span<const Argument> args) override;

  // The most bytes of computed buffers (intermediates and outputs) alive at once during
  // a run; parameters are borrowed and not counted. Releasing slots after their last
  // reader keeps this near the widest cut of the graph instead of its total size.
  int64_t peak_bytes() const { return peak_bytes_; }

 private:
  // One node of the graph, by value.
  struct Step {
    OpKind op;
    Attributes attrs;
    Shape shape;
    std::vector<int> inputs;   // slots read, in operand order
    int parameter = -1;        // DeviceData/Scalar: index into Run's arguments
    std::vector<int> release;  // slots whose last reader is this step
  };

  InterpExecutable() = default;

  std::vector<Step> steps_;
  std::vector<int> outputs_;      // slot of each graph output
  std::vector<int> param_steps_;  // step of each parameter, in Graph::parameters() order
  int64_t peak_bytes_ = 0;
  // KILN_CHECK_NAN: the graph's IR, a line per step; empty when the check is off.
  std::vector<std::string> nan_check_lines_;
};

}  // namespace kiln
