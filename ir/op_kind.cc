#include "ir/op_kind.h"

namespace kiln {
namespace {

struct OpInfo {
  const char* name;
  int arity;
};

constexpr OpInfo kOpInfo[] = {
#define KILN_OP_INFO(name, text, arity, infer) {text, arity},
    KILN_FOR_EACH_OP(KILN_OP_INFO)
#undef KILN_OP_INFO
};

}  // namespace

const char* OpName(OpKind op) { return kOpInfo[static_cast<int>(op)].name; }

int OpArity(OpKind op) { return kOpInfo[static_cast<int>(op)].arity; }

std::optional<OpKind> ParseOpKind(std::string_view name) {
  for (int i = 0; i < kNumOpKinds; ++i) {
    if (name == kOpInfo[i].name) return static_cast<OpKind>(i);
  }
  return std::nullopt;
}

}  // namespace kiln
