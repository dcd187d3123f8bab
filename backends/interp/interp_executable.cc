#include "backends/interp/interp_executable.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/container/inlined_vector.h"
#include "absl/strings/str_cat.h"
#include "backends/interp/interp_backend.h"
#include "backends/interp/interp_kernels.h"
#include "backends/interp/interp_util.h"
#include "backends/nan_check.h"
#include "ir/ir_text.h"
#include "util/config.h"
#include "util/status_macros.h"

namespace kiln {
namespace {

absl::Status CheckSupported(const Node& node) {
  if (node.num_outputs() != 1) {
    return absl::UnimplementedError(absl::StrCat("interp: ", node.ShortString(), " has ",
                                                 node.num_outputs(), " outputs; expected 1"));
  }
  auto check_dtype = [&](const Shape& shape) {
    if (!IsReserved(shape.dtype())) return absl::OkStatus();
    return absl::UnimplementedError(absl::StrCat("interp: ", node.ShortString(), ": dtype ",
                                                 std::string(DTypeName(shape.dtype())),
                                                 " is reserved and not supported yet"));
  };
  RETURN_IF_ERROR(check_dtype(node.shape()));
  for (const Value& operand : node.operands()) RETURN_IF_ERROR(check_dtype(operand.shape()));
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<InterpExecutable>> InterpExecutable::Create(const Graph& graph) {
  std::unique_ptr<InterpExecutable> exe(new InterpExecutable());
  const std::vector<const Node*>& nodes = graph.post_order();
  absl::flat_hash_map<const Node*, int> slot_of;
  absl::flat_hash_map<const Node*, int> parameter_of;
  for (size_t i = 0; i < graph.parameters().size(); ++i) {
    parameter_of[graph.parameters()[i]] = static_cast<int>(i);
  }
  exe->param_steps_.resize(graph.parameters().size(), -1);
  // A slot is released after its last reader; slots read by nobody go right after
  // their own step, and outputs are never released.
  constexpr int kNever = std::numeric_limits<int>::max();
  std::vector<int> last_use(nodes.size());
  exe->steps_.reserve(nodes.size());
  for (size_t s = 0; s < nodes.size(); ++s) {
    const Node& node = *nodes[s];
    RETURN_IF_ERROR(CheckSupported(node));
    Step step{node.op(), node.attrs(), node.shape(), {}, -1, {}};
    for (const Value& operand : node.operands()) {
      KILN_CHECK(operand.index == 0) << "interp: multi-output operand of " << node.ShortString();
      const auto it = slot_of.find(operand.node.get());
      KILN_CHECK(it != slot_of.end())
          << "interp: operand of " << node.ShortString() << " is not earlier in post-order";
      step.inputs.push_back(it->second);
      last_use[it->second] = static_cast<int>(s);
    }
    if (IsParameter(node.op())) {
      const auto it = parameter_of.find(&node);
      KILN_CHECK(it != parameter_of.end()) << "interp: parameter missing from the graph's list";
      step.parameter = it->second;
      exe->param_steps_[it->second] = static_cast<int>(s);
    }
    slot_of[&node] = static_cast<int>(s);
    last_use[s] = static_cast<int>(s);
    exe->steps_.push_back(std::move(step));
  }
  for (const Value& out : graph.outputs()) {
    KILN_CHECK(out.index == 0) << "interp: multi-output graph output";
    const int slot = slot_of.at(out.node.get());
    exe->outputs_.push_back(slot);
    last_use[slot] = kNever;
  }
  for (size_t s = 0; s < nodes.size(); ++s) {
    if (last_use[s] != kNever) exe->steps_[last_use[s]].release.push_back(static_cast<int>(s));
  }
  if (config().check_nan) exe->nan_check_lines_ = PrintNodeLines(graph);
  // Replays the allocation and release order of Run.
  auto owned_bytes = [&](int slot) {
    const Step& step = exe->steps_[slot];
    return step.op == OpKind::kDeviceData ? int64_t{0} : step.shape.byte_size();
  };
  int64_t live_bytes = 0;
  for (size_t s = 0; s < nodes.size(); ++s) {
    live_bytes += owned_bytes(static_cast<int>(s));
    exe->peak_bytes_ = std::max(exe->peak_bytes_, live_bytes);
    for (int slot : exe->steps_[s].release) live_bytes -= owned_bytes(slot);
  }
  return exe;
}

absl::StatusOr<std::vector<BufferPtr>> InterpExecutable::Run(absl::Span<const Argument> args) {
  if (args.size() != param_steps_.size()) {
    return absl::InvalidArgumentError(absl::StrCat("interp: the graph has ", param_steps_.size(),
                                                   " parameters but ", args.size(),
                                                   " arguments were given"));
  }
  // Check every buffer argument before running anything.
  std::vector<const InterpBuffer*> param_buffers(args.size(), nullptr);
  for (size_t i = 0; i < args.size(); ++i) {
    const Step& step = steps_[param_steps_[i]];
    if (step.op != OpKind::kDeviceData) continue;
    if (args[i].buffer == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat(
          "interp: argument ", i, " for a ", step.shape.ToString(), " device_data has no buffer"));
    }
    const auto* buffer = dynamic_cast<const InterpBuffer*>(args[i].buffer);
    if (buffer == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat("interp: argument ", i, " is not an interp buffer"));
    }
    if (!(buffer->shape() == step.shape)) {
      return absl::InvalidArgumentError(
          absl::StrCat("interp: argument ", i, " is ", buffer->shape().ToString(),
                       " but the graph's parameter ", i, " is ", step.shape.ToString()));
    }
    param_buffers[i] = buffer;
  }

  // live[s]: the value of slot s while it is needed; owned[s] keeps computed ones alive.
  std::vector<const InterpBuffer*> live(steps_.size(), nullptr);
  std::vector<std::shared_ptr<InterpBuffer>> owned(steps_.size());
  absl::InlinedVector<const InterpBuffer*, 3> inputs;
  for (size_t s = 0; s < steps_.size(); ++s) {
    const Step& step = steps_[s];
    if (step.op == OpKind::kDeviceData) {
      live[s] = param_buffers[step.parameter];
      if (!nan_check_lines_.empty()) {
        if (const std::optional<NonFinite> found = FindNonFinite(step.shape, live[s]->data())) {
          return NonFiniteError(absl::StrCat("argument ", step.parameter, " holds"), step.shape,
                                *found, nan_check_lines_[s], {});
        }
      }
    } else {
      ASSIGN_OR_RETURN(std::shared_ptr<InterpBuffer> buffer, InterpBuffer::Create(step.shape));
      if (step.op == OpKind::kScalar) {
        const double value = args[step.parameter].scalar;
        interp::DispatchDType(step.shape.dtype(), [&]<typename T>(interp::TypeTag<T>) {
          *interp::Data<T>(*buffer) = interp::CastTo<T>(value);
        });
      } else {
        inputs.clear();
        for (int slot : step.inputs) inputs.push_back(live[slot]);
        RETURN_IF_ERROR(interp::RunKernel({step.op, &step.attrs, inputs, buffer.get()}));
      }
      if (!nan_check_lines_.empty()) {
        if (const std::optional<NonFinite> found = FindNonFinite(step.shape, buffer->data())) {
          return NonFiniteError("interp wrote", step.shape, *found, nan_check_lines_[s], {});
        }
      }
      live[s] = buffer.get();
      owned[s] = std::move(buffer);
    }
    for (int slot : step.release) {
      live[slot] = nullptr;
      owned[slot].reset();
    }
  }

  // Buffers are immutable, so an output listed twice shares one buffer. An output that
  // is a device_data parameter is copied: the argument is only borrowed for the run.
  std::vector<BufferPtr> results;
  results.reserve(outputs_.size());
  for (int slot : outputs_) {
    if (owned[slot] == nullptr) {
      const InterpBuffer& param = *live[slot];
      ASSIGN_OR_RETURN(std::shared_ptr<InterpBuffer> copy, InterpBuffer::Create(param.shape()));
      if (param.shape().byte_size() > 0) {
        std::memcpy(copy->data(), param.data(), param.shape().byte_size());
      }
      owned[slot] = std::move(copy);
    }
    results.push_back(owned[slot]);
  }
  return results;
}

}  // namespace kiln
