#include "ir/op_kind.h"

namespace kiln {
namespace {

constexpr const char* kOpNames[] = {
#define KILN_OP_NAME(name, text, arity, infer) text,
    KILN_FOR_EACH_OP(KILN_OP_NAME)
#undef KILN_OP_NAME
};

}  // namespace

const char* OpName(OpKind op) { return kOpNames[static_cast<int>(op)]; }

std::optional<OpKind> ParseOpKind(std::string_view name) {
  for (int i = 0; i < kNumOpKinds; ++i) {
    if (name == kOpNames[i]) return static_cast<OpKind>(i);
  }
  return std::nullopt;
}

}  // namespace kiln
