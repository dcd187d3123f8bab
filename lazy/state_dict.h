#pragma once
// Named tensors of a model or an optimizer, as checkpoints hold them, and the check that
// a state to be loaded fits the tensors it replaces.
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "lazy/tensor.h"

namespace kiln {

// Sorted by name, so iterating it is deterministic whatever the order of insertion.
using StateDict = std::map<std::string, Tensor>;

namespace internal {

// The tensor of `state` for each of `targets`, in order. Throws one kiln::Error
// "<who>: missing keys 'a', ...; unexpected keys ...; mismatch for 'w': the <holder> has
// f32[2], the state dict has f64[2]" naming every problem unless the keys match exactly
// and each tensor has its target's shape, dtype and backend.
std::vector<const Tensor*> MatchStateDict(
    std::string_view who, const char* holder,
    const std::vector<std::pair<std::string, Tensor>>& targets, const StateDict& state);

}  // namespace internal
}  // namespace kiln
