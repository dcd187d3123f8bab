#pragma once
// ExpectRejected: runs a call that must throw kiln::Error and checks that it left the
// operands and the live/pending tensor registry as they were (no IR recorded, no tensor
// changed). Shared by the op error tests.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <vector>

#include "lazy/live_tensors.h"
#include "lazy/tensor.h"
#include "util/error.h"

namespace kiln {

struct OperandSnapshot {
  bool pending;
  const Node* node;  // the pending node, or null for a materialised tensor
};

inline OperandSnapshot TakeSnapshot(const Tensor& t) {
  return {t.is_pending(), t.is_pending() ? t.value().node.get() : nullptr};
}

// Runs `fn`, which must throw kiln::Error containing `message`, and checks that
// `operands` and the set of pending tensors are unchanged.
inline void ExpectRejected(const std::function<void()>& fn, const std::string& message,
                           const std::vector<Tensor>& operands) {
  std::vector<OperandSnapshot> before;
  for (const Tensor& t : operands) before.push_back(TakeSnapshot(t));
  const size_t live_before = live_tensors::Count();
  const size_t pending_before = live_tensors::Pending().size();
  try {
    fn();
    ADD_FAILURE() << "expected a kiln::Error containing: " << message;
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), ::testing::HasSubstr(message));
  }
  EXPECT_EQ(live_tensors::Count(), live_before) << message;
  EXPECT_EQ(live_tensors::Pending().size(), pending_before) << message;
  for (size_t i = 0; i < operands.size(); ++i) {
    const OperandSnapshot after = TakeSnapshot(operands[i]);
    EXPECT_EQ(after.pending, before[i].pending) << "operand " << i << ": " << message;
    EXPECT_EQ(after.node, before[i].node) << "operand " << i << ": " << message;
  }
}

}  // namespace kiln
