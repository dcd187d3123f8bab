#pragma once
// A conservative interval for every element of every value in a graph, given the inputs
// the differential runner feeds (differential_run.h). The generator uses it to keep its
// random graphs inside every op's domain and away from overflow; the comparison uses it
// to scale the tolerance of an output to the magnitudes that went into it.
//
//   ValueRanges ranges;
//   const ValueRange& r = ranges.Of(value.node);   // r.lo <= every element <= r.hi
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "ir/node.h"

namespace kiln::differential {

// What the runner feeds: float parameters uniform in [-kFloatInputBound, kFloatInputBound],
// integer ones (other than indices) in [-kIntInputBound, kIntInputBound], bools 0 or 1.
inline constexpr double kFloatInputBound = 2;
inline constexpr int kIntInputBound = 4;

struct ValueRange {
  double lo = 0;
  double hi = 0;
  // Computed without rounding (integers, comparisons of exact values, movement, max/min,
  // abs, ...): every backend gets the same bits, so a discontinuous op (a comparison, a
  // cast to an integer, argmax) of it cannot disagree because of a last-bit difference.
  bool exact = true;
  // Every op stayed inside its domain with a margin: log, sqrt and rsqrt of values >= 0.1,
  // divisions by values at least 0.1 away from 0, float pow of a base >= 0.1,
  // sin/cos of magnitudes <= 100 (beyond which argument reduction differs in accuracy).
  bool valid = true;

  double magnitude() const;
  bool finite() const;
};

class ValueRanges {
 public:
  // The range of `node`'s output, computed once per node (operands first).
  const ValueRange& Of(const NodePtr& node);
  // Sets the range of `node` instead of computing it: for a composite op whose safety an
  // interval cannot see (a softmax's sum is at least 1). The nodes inside it are not visited.
  void Assume(const NodePtr& node, const ValueRange& range);

 private:
  ValueRange Compute(const Node& node);

  absl::flat_hash_map<const Node*, ValueRange> ranges_;
  // Keeps every node looked at alive, so a freed node's address never aliases a new one.
  std::vector<NodePtr> seen_;
};

}  // namespace kiln::differential
