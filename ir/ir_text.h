#pragma once
// The text form of the IR, for tests, dumps and debugging. One node per line, numbered
// in post-order; parameters print as leaves without data:
//
//   graph {
//     %0 = f32[32,128] device_data()
//     %1 = f32[] scalar()
//     %2 = f32[32,128] mul(%0, %1)
//     %3 = f32[32] sum(%2) dims=[1] keepdim=false
//     return (%3, %2)
//   }
//
// ParseGraph(PrintGraph(g)) == g. The parser checks every line (op names, operand
// references, attribute types, and that the printed shape equals the inferred one) and
// reports the line number and what it expected; it never crashes on malformed text.
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "ir/graph.h"

namespace kiln {

std::string PrintGraph(const Graph& graph);

// The node lines of PrintGraph without their indentation, one per node in post-order
// ("%3 = f32[32] sum(%2) dims=[1] keepdim=false"), for messages about single nodes.
std::vector<std::string> PrintNodeLines(const Graph& graph);

// Parses text produced by PrintGraph. DeviceData leaves get no buffer; Scalar leaves
// get the value 0 (a runtime value is supplied when the graph runs).
absl::StatusOr<Graph> ParseGraph(std::string_view text);

}  // namespace kiln
