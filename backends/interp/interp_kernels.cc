#include "backends/interp/interp_kernels.h"

#include "absl/strings/str_cat.h"

namespace kiln::interp {

absl::Status RunKernel(const KernelCall& call) {
  switch (call.op) {
    case OpKind::kDeviceData:
    case OpKind::kScalar:
      return absl::InternalError(
          absl::StrCat("interp: ", std::string(OpName(call.op)), " is a parameter, not a kernel"));
    case OpKind::kConstant:
    case OpKind::kArange:
    case OpKind::kRandUniform:
      return RunGenerator(call);
    case OpKind::kSum:
    case OpKind::kMean:
    case OpKind::kProd:
    case OpKind::kMax:
    case OpKind::kMin:
    case OpKind::kArgmax:
      return RunReduction(call);
    case OpKind::kMatmul:
      return RunMatmul(call);
    case OpKind::kReshape:
    case OpKind::kPermute:
    case OpKind::kExpand:
    case OpKind::kSlice:
    case OpKind::kConcat:
    case OpKind::kPad:
      return RunMovement(call);
    case OpKind::kGather:
    case OpKind::kIndexSelect:
    case OpKind::kScatterAdd:
      return RunIndexing(call);
    default:
      return RunElementwise(call);
  }
}

}  // namespace kiln::interp
