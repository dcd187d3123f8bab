#pragma once
// Random valid graphs over the whole op set, for differential testing of the backends.
//
//   Graph g = RandomGraph(seed);   // the same seed always gives the same graph
//
// A graph is traced through the lazy API on interp (so dtype promotion, composite ops and
// autograd build it as a model would), from a few parameters of random shapes (size-1
// and broadcasting dimensions, empty tensors, 0-d) and dtypes: a chain of random ops
// drawn from every op kind (unary and binary elementwise with broadcasting, comparisons
// and where, casts, reductions over random axes, matmuls, views and data movement,
// gather / index_select / scatter_add, softmax, log_softmax, layer_norm, gelu,
// cross_entropy), each op taking recent results more often than old ones so that chains
// cross fusion boundaries. Half the graphs also differentiate a loss over their results
// and return the gradients of their float parameters.
//
// Ops stay inside their domains and away from overflow (value_ranges.h), and a
// discontinuous op (comparison, cast to an integer or bool, argmax) only takes values
// every backend computes bit for bit, so a correct backend agrees with interp.
#include <cstdint>

#include "ir/graph.h"

namespace kiln::differential {

struct RandomGraphOptions {
  // Ops the forward part tries to add (one that would leave its domain is dropped).
  int max_ops = 12;
  // Largest element count of any value.
  int64_t max_numel = 4096;
  // Probability of a backward pass.
  double backward_probability = 0.5;
};

// Traces on the interp device and restores the current device afterwards.
Graph RandomGraph(uint64_t seed, const RandomGraphOptions& options = {});

}  // namespace kiln::differential
