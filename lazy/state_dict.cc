// Matching a state dict against the tensors it is to replace.
#include "lazy/state_dict.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "lazy/op_utils.h"
#include "lazy/tensor_impl.h"

namespace kiln::internal {
namespace {

// "'a', 'b'": key lists in load errors.
std::string QuotedList(const std::vector<std::string>& keys) {
  std::vector<std::string> quoted;
  quoted.reserve(keys.size());
  for (const std::string& key : keys) quoted.push_back(absl::StrCat("'", key, "'"));
  return absl::StrJoin(quoted, ", ");
}

}  // namespace

std::vector<const Tensor*> MatchStateDict(
    std::string_view who, const char* holder,
    const std::vector<std::pair<std::string, Tensor>>& targets, const StateDict& state) {
  std::vector<std::string> missing;
  std::vector<std::string> mismatched;
  std::vector<const Tensor*> sources;
  sources.reserve(targets.size());
  for (const auto& [name, target] : targets) {
    auto it = state.find(name);
    if (it == state.end()) {
      missing.push_back(name);
      sources.push_back(nullptr);
      continue;
    }
    const Tensor& source = it->second;
    if (!source.defined()) {
      mismatched.push_back(absl::StrCat("'", name, "' is an undefined tensor"));
    } else if (!(source.shape() == target.shape())) {
      mismatched.push_back(absl::StrCat("'", name, "': the ", holder, " has ",
                                        target.shape().ToString(), ", the state dict has ",
                                        source.shape().ToString()));
    } else if (source.impl()->backend() != target.impl()->backend()) {
      mismatched.push_back(absl::StrCat("'", name, "': the ", holder, " has it on ",
                                        target.impl()->backend()->name(), ", the state dict on ",
                                        source.impl()->backend()->name()));
    }
    sources.push_back(&source);
  }
  std::vector<std::string> unexpected;
  if (state.size() + missing.size() != targets.size()) {
    StateDict expected_keys;
    for (const auto& [name, target] : targets) expected_keys.emplace(name, Tensor());
    for (const auto& [name, tensor] : state) {
      if (!expected_keys.contains(name)) unexpected.push_back(name);
    }
  }
  if (missing.empty() && unexpected.empty() && mismatched.empty()) return sources;
  std::vector<std::string> problems;
  if (!missing.empty()) problems.push_back(absl::StrCat("missing keys ", QuotedList(missing)));
  if (!unexpected.empty()) {
    problems.push_back(absl::StrCat("unexpected keys ", QuotedList(unexpected)));
  }
  for (const std::string& m : mismatched) problems.push_back(absl::StrCat("mismatch for ", m));
  ThrowOpError(who, ": ", absl::StrJoin(problems, "; "));
}

}  // namespace kiln::internal
