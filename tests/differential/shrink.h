#pragma once
// Shrinking a graph that shows a failure to a small one that still shows it, for a
// regression test to load as IR text.
//
//   Graph small = ShrinkGraph(graph, [&](const Graph& g) { return !Compare(g).empty(); });
#include <functional>

#include "ir/graph.h"

namespace kiln::differential {

// Greedy reduction while `fails` holds: keep one output, then repeatedly cut a node's
// whole producer tree by replacing it with a new parameter of its shape, or bypass a
// node by one of its operands (of the same shape, or any one when the node is an output),
// trying the nodes nearest the outputs first. `graph` must fail; the result fails and no single
// step of either kind shrinks it further.
Graph ShrinkGraph(const Graph& graph, const std::function<bool(const Graph&)>& fails);

}  // namespace kiln::differential
