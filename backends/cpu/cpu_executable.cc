#include "backends/cpu/cpu_executable.h"

#include <chrono>
#include <cstring>
#include <limits>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "backends/cpu/avx2_sgemm.h"
#include "backends/cpu/blas.h"
#include "backends/cpu/cpu_backend.h"
#include "backends/graph_parameters.h"
#include "backends/host_copy.h"
#include "backends/kernel_failure.h"
#include "backends/kernel_step.h"
#include "codegen/cpp_emitter.h"
#include "codegen/fusion_plan.h"
#include "codegen/overwrite_in_place.h"
#include "util/config.h"
#include "util/dump_file.h"
#include "util/metrics.h"
#include "util/status_macros.h"
#include "util/trace_events.h"

namespace kiln::cpu {
namespace {

// 2*M*N*K per matrix product, over every batch element.
double MatmulFlops(const codegen::MatmulCall& call) {
  if (call.a_shape.empty()) return 0;
  const size_t rank = call.a_shape.size();
  const int64_t k = call.transpose_a && rank >= 2 ? call.a_shape[rank - 2] : call.a_shape.back();
  double out_elements = 1;
  for (int64_t d : call.out_shape) out_elements *= static_cast<double>(d);
  return 2 * out_elements * static_cast<double>(k);
}

// The profile's description of a kernel: its buffers' bytes and its matmuls' flops.
KernelProfileInfo ProfileInfo(const codegen::KernelIR& ir) {
  KernelProfileInfo info;
  info.name = ir.name;
  info.kind = codegen::KernelKindName(ir.kind);
  for (const codegen::BufferArg& b : ir.buffers) {
    if (b.role != codegen::BufferRole::kScratch) info.bytes += Shape(b.dtype, b.shape).byte_size();
  }
  for (const codegen::MatmulCall& call : ir.matmuls) info.flops += MatmulFlops(call);
  return info;
}

// Whether running the kernel can fail for its data: a check, or a BLAS call on a dtype
// BLAS does not have (blas.h).
bool CanFail(const codegen::KernelIR& ir) {
  if (!ir.checks.empty()) return true;
  return std::any_of(ir.matmuls.begin(), ir.matmuls.end(), [](const codegen::MatmulCall& m) {
    return m.dtype != DType::kF32 && m.dtype != DType::kF64;
  });
}

// Moves each kernel that can fail to just after the last kernel storing one of its inputs.
// A classifier's loss (a gather by label, range-checked) is otherwise the last kernel, and
// no update before it could write over a donated buffer (PlanDonations). Dependencies
// hold: the producers still come first, and the consumers came after it already.
// Failing kernels keep their order among themselves, so the same error is reported.
void HoistFailingKernels(std::vector<codegen::KernelIR>& kernels) {
  int previous = -1;  // position of the previous kernel that can fail
  for (int i = 0; i < static_cast<int>(kernels.size()); ++i) {
    if (!CanFail(kernels[i])) continue;
    int after = previous;
    for (const codegen::BufferArg& in : kernels[i].buffers) {
      if (in.role != codegen::BufferRole::kInput) continue;
      for (int j = i - 1; j > after; --j) {
        const auto& out = kernels[j].buffers;
        if (std::any_of(out.begin(), out.end(), [&](const codegen::BufferArg& b) {
              return b.role == codegen::BufferRole::kOutput && b.node == in.node;
            })) {
          after = j;
          break;
        }
      }
    }
    std::rotate(kernels.begin() + after + 1, kernels.begin() + i, kernels.begin() + i + 1);
    previous = after + 1;
  }
}

// Candidates kept per output: enough for the parameter it updates plus a few others.
constexpr size_t kMaxDonors = 4;

metrics::Counter* SlicedKernelsCounter() {
  static metrics::Counter* c = metrics::GetCounter("BatchSlicedKernels");
  return c;
}

metrics::Counter* DonatedCounter() {
  static metrics::Counter* c = metrics::GetCounter("DonatedBuffers");
  return c;
}

}  // namespace

absl::StatusOr<std::unique_ptr<CpuExecutable>> CpuExecutable::Create(const Graph& graph) {
  std::unique_ptr<CpuExecutable> exe(new CpuExecutable());
  ASSIGN_OR_RETURN(exe->params_, IndexParameters(graph, "cpu"));
  const auto& order = graph.post_order();
  absl::flat_hash_map<const Node*, int> pos;
  for (int i = 0; i < exe->params_.num_nodes; ++i) pos[order[i]] = i;
  const codegen::FusionPlan plan = codegen::PlanFusion(graph);
  const Config& cfg = config();
  exe->graph_hash_ = graph.hash().ToString();
  if (!cfg.dump_dir.empty()) {
    DumpFile(cfg.dump_dir, exe->graph_hash_ + ".plan.txt", plan.ToString(graph));
    DumpFile(cfg.dump_dir, exe->graph_hash_ + ".plan.dot", plan.ToDot(graph));
  }
  std::vector<codegen::KernelIR> kernels;
  for (int k = 0; k < static_cast<int>(plan.kernels.size()); ++k) {
    ASSIGN_OR_RETURN(codegen::KernelIR ir, codegen::LowerKernel(graph, plan, k));
    kernels.push_back(std::move(ir));
  }
  // Members by kernel name: hoisting reorders the kernels.
  absl::flat_hash_map<std::string, std::vector<int>> members_of;
  if (cfg.check_nan) {
    for (size_t k = 0; k < kernels.size(); ++k) members_of[kernels[k].name] = plan.kernels[k].nodes;
  }
  HoistFailingKernels(kernels);
  // Which kernel stores each value, and which kernel reads it last.
  constexpr int kNever = std::numeric_limits<int>::max();
  std::vector<int> stored_by(order.size(), -1);
  std::vector<int> last_use(order.size(), -1);
  for (int k = 0; k < static_cast<int>(kernels.size()); ++k) {
    for (const codegen::BufferArg& b : kernels[k].buffers) {
      if (b.role == codegen::BufferRole::kOutput) {
        stored_by[b.node] = k;
        last_use[b.node] = std::max(last_use[b.node], k);
      } else if (b.role == codegen::BufferRole::kInput) {
        if (stored_by[b.node] < 0 && order[b.node]->op() != OpKind::kDeviceData) {
          return absl::InternalError(absl::StrCat("cpu: kernel ", k, " reads ",
                                                  order[b.node]->ShortString(),
                                                  " which no earlier kernel stores"));
        }
        last_use[b.node] = std::max(last_use[b.node], k);
      }
    }
  }
  std::vector<bool> is_output(order.size(), false);
  for (const Value& out : graph.outputs()) {
    const int p = pos.at(out.node.get());
    if (stored_by[p] < 0 && !IsParameter(order[p]->op())) {
      return absl::InternalError(
          absl::StrCat("cpu: graph output ", order[p]->ShortString(), " is stored by no kernel"));
    }
    exe->outputs_.push_back(p);
    is_output[p] = true;
  }
  exe->PlanDonations(graph, kernels, stored_by, last_use, is_output);
  for (int p : exe->outputs_) last_use[p] = kNever;
  exe->source_ = codegen::EmitCppSource(kernels);
  // Dumped before compiling, so a source the compiler rejects can be inspected.
  if (!cfg.dump_dir.empty()) DumpFile(cfg.dump_dir, exe->graph_hash_ + ".cc", exe->source_);
  const bool any_code = std::any_of(kernels.begin(), kernels.end(),
                                    [](const codegen::KernelIR& k) { return k.has_code(); });
  if (any_code) {
    absl::StatusOr<std::shared_ptr<LoadedLibrary>> library =
        CompileAndLoad(exe->source_, absl::StrCat("graph_", exe->graph_hash_));
    if (!library.ok()) {
      // Which graph: its hash names the kept source and, under KILN_DUMP_DIR, its IR file.
      return absl::Status(library.status().code(),
                          absl::StrCat("cpu: compiling graph ", exe->graph_hash_, " (",
                                       graph.num_nodes(), " nodes): ", library.status().message()));
    }
    exe->library_ = *std::move(library);
  }
  if (cfg.profile) {
    std::vector<KernelProfileInfo> infos;
    for (const codegen::KernelIR& ir : kernels) infos.push_back(ProfileInfo(ir));
    exe->profile_ = RegisterGraphProfile(exe->graph_hash_, std::move(infos));
  }
  exe->trace_ = !cfg.trace.empty();
  exe->timed_ = exe->profile_ != nullptr || exe->trace_;
  std::vector<KernelFn> fns(kernels.size(), nullptr);
  for (size_t k = 0; k < kernels.size(); ++k) {
    if (!kernels[k].has_code()) continue;
    ASSIGN_OR_RETURN(void* fn, exe->library_->Symbol(kernels[k].name));
    fns[k] = reinterpret_cast<KernelFn>(fn);
  }
  if (cfg.batch_slicing) exe->groups_ = PlanSlicedGroups(kernels, fns, stored_by, last_use);
  SlicedKernelsCounter()->Add(exe->num_sliced_kernels());
  exe->group_at_.assign(kernels.size(), -1);
  for (size_t g = 0; g < exe->groups_.size(); ++g) {
    exe->group_at_[exe->groups_[g].first] = static_cast<int>(g);
  }
  for (size_t k = 0; k < kernels.size(); ++k) {
    Step step;
    step.fn = fns[k];
    static_cast<KernelStep&>(step) = TakeKernelStep(kernels[k], exe->params_);
    exe->steps_.push_back(std::move(step));
  }
  if (cfg.check_nan) {
    std::vector<std::vector<int>> members;
    for (const Step& step : exe->steps_) members.push_back(members_of[step.name]);
    exe->nan_check_ = std::make_unique<KernelNanCheck>(graph, std::move(members));
  }
  std::vector<std::vector<int>> releases = Releases(stored_by, last_use, kNever, exe->steps_.size());
  for (size_t k = 0; k < releases.size(); ++k) exe->steps_[k].release = std::move(releases[k]);
  return exe;
}

void CpuExecutable::PlanDonations(const Graph& graph, std::vector<codegen::KernelIR>& kernels,
                                  const std::vector<int>& stored_by,
                                  const std::vector<int>& last_use,
                                  const std::vector<bool>& is_output) {
  int last_failing = -1;
  for (int k = 0; k < static_cast<int>(kernels.size()); ++k) {
    if (CanFail(kernels[k])) last_failing = k;
  }
  std::vector<int> node_of_param(params_.shapes.size(), -1);
  for (int n = 0; n < params_.num_nodes; ++n) {
    if (params_.of_node[n] >= 0) node_of_param[params_.of_node[n]] = n;
  }
  // Donatable parameters: device data that is not also returned as an output.
  std::vector<int> donors;
  for (size_t i = 0; i < params_.shapes.size(); ++i) {
    if (params_.ops[i] == OpKind::kDeviceData && !is_output[node_of_param[i]]) {
      donors.push_back(static_cast<int>(i));
    }
  }
  if (donors.empty()) return;
  const auto& order = graph.post_order();
  std::vector<int> targets;
  for (int node : outputs_) {
    if (stored_by[node] > last_failing &&
        std::find(targets.begin(), targets.end(), node) == targets.end()) {
      targets.push_back(node);
    }
  }
  std::sort(targets.begin(), targets.end(),
            [&](int a, int b) { return stored_by[a] < stored_by[b]; });
  for (int node : targets) {
    const int k = stored_by[node];
    codegen::KernelIR& ir = kernels[k];
    const Shape& shape = order[node]->shape();
    int out_buffer = -1;
    for (size_t b = 0; b < ir.buffers.size(); ++b) {
      if (ir.buffers[b].role == codegen::BufferRole::kOutput && ir.buffers[b].node == node) {
        out_buffer = static_cast<int>(b);
      }
    }
    std::vector<int> same_kernel, earlier;
    for (int param : donors) {
      if (!(params_.shapes[param] == shape)) continue;
      const int pnode = node_of_param[param];
      if (last_use[pnode] < k) {
        earlier.push_back(param);
        continue;
      }
      if (last_use[pnode] != k) continue;
      std::vector<int> reads;
      for (size_t b = 0; b < ir.buffers.size(); ++b) {
        if (ir.buffers[b].role == codegen::BufferRole::kInput && ir.buffers[b].node == pnode) {
          reads.push_back(static_cast<int>(b));
        }
      }
      const bool in_place = std::all_of(reads.begin(), reads.end(), [&](int b) {
        return codegen::CanOverwriteInPlace(ir, b, out_buffer);
      });
      if (!in_place) continue;
      for (int b : reads) ir.buffers[b].may_alias = true;
      ir.buffers[out_buffer].may_alias = true;
      same_kernel.push_back(param);
    }
    // Read here last: most likely the parameter this output replaces. Then the ones read
    // latest before, whose buffers nothing else is waiting for.
    std::stable_sort(earlier.begin(), earlier.end(), [&](int a, int b) {
      return last_use[node_of_param[a]] > last_use[node_of_param[b]];
    });
    Donation d{node, std::move(same_kernel)};
    for (int param : earlier) d.params.push_back(param);
    if (d.params.size() > kMaxDonors) d.params.resize(kMaxDonors);
    if (!d.params.empty()) donations_.push_back(std::move(d));
  }
}

int CpuExecutable::num_sliced_kernels() const {
  int n = 0;
  for (const SlicedGroup& g : groups_) n += static_cast<int>(g.steps.size());
  return n;
}

absl::Status CpuExecutable::Bind(int k, absl::Span<const Argument> args,
                                 absl::Span<const CpuBuffer* const> params,
                                 std::vector<std::shared_ptr<CpuBuffer>>& owned,
                                 absl::Span<const int> local,
                                 std::vector<std::shared_ptr<CpuBuffer>>& scratch,
                                 std::vector<void*>& ptrs, std::vector<double>& scalars) const {
  const Step& step = steps_[k];
  ptrs.clear();
  for (const codegen::BufferArg& b : step.buffers) {
    if (std::find(local.begin(), local.end(), b.node) != local.end()) {
      ptrs.push_back(nullptr);
      continue;
    }
    switch (b.role) {
      case codegen::BufferRole::kInput: {
        const int param = params_.of_node[b.node];
        const CpuBuffer* buffer = param >= 0 ? params[param] : owned[b.node].get();
        if (buffer == nullptr) {
          return absl::InternalError(
              absl::StrCat("cpu: a kernel input (node ", b.node, ") has no buffer"));
        }
        ptrs.push_back(const_cast<void*>(buffer->data()));
        break;
      }
      case codegen::BufferRole::kOutput:
        if (owned[b.node] == nullptr) {
          ASSIGN_OR_RETURN(owned[b.node], CpuBuffer::Create(Shape(b.dtype, b.shape)));
        }
        ptrs.push_back(owned[b.node]->data());
        break;
      case codegen::BufferRole::kScratch: {
        ASSIGN_OR_RETURN(std::shared_ptr<CpuBuffer> buffer,
                         CpuBuffer::Create(Shape(b.dtype, b.shape)));
        ptrs.push_back(buffer->data());
        scratch.push_back(std::move(buffer));
        break;
      }
    }
  }
  scalars.clear();
  for (int param : step.scalar_params) scalars.push_back(args[param].scalar);
  return absl::OkStatus();
}

absl::StatusOr<std::vector<BufferPtr>> CpuExecutable::Run(absl::Span<const Argument> args) {
  ASSIGN_OR_RETURN(
      const std::vector<const CpuBuffer*> params,
      CheckArguments<CpuBuffer>(params_, args, "cpu", [](const CpuBuffer&) { return true; }));
  using Clock = std::chrono::steady_clock;
  Clock::time_point run_start;
  std::vector<double> kernel_seconds;
  if (timed_) {
    run_start = Clock::now();
    kernel_seconds.reserve(steps_.size());
  }
  if (nan_check_ != nullptr) RETURN_IF_ERROR(CheckFiniteArguments(params));
  const int threads = NumThreads();
  SetBlasThreads(threads);
  SetAvx2SgemmEnabled(config().avx2_sgemm);
  std::vector<std::shared_ptr<CpuBuffer>> owned(params_.num_nodes);
  // Outputs written over donated buffers get them now; no kernel reads them before.
  bool any_donated = false;
  for (const Argument& a : args) any_donated = any_donated || a.donated != nullptr;
  if (any_donated && !donations_.empty()) {
    std::vector<bool> taken(args.size(), false);
    for (const Donation& d : donations_) {
      for (int param : d.params) {
        if (taken[param] || args[param].donated == nullptr ||
            args[param].donated.get() != args[param].buffer) {
          continue;
        }
        taken[param] = true;
        owned[d.node] = std::static_pointer_cast<CpuBuffer>(args[param].donated);
        DonatedCounter()->Add();
        break;
      }
    }
  }
  std::vector<void*> ptrs;
  std::vector<double> scalars;
  for (int k = 0; k < static_cast<int>(steps_.size()); ++k) {
    if (group_at_[k] >= 0) {
      const SlicedGroup& group = groups_[group_at_[k]];
      const size_t n = group.steps.size();
      std::vector<std::vector<void*>> group_ptrs(n);
      std::vector<std::vector<double>> group_scalars(n);
      std::vector<std::shared_ptr<CpuBuffer>> scratch;  // stays empty: groups have none
      for (size_t i = 0; i < n; ++i) {
        RETURN_IF_ERROR(Bind(k + static_cast<int>(i), args, params, owned, group.local_nodes,
                             scratch, group_ptrs[i], group_scalars[i]));
      }
      std::vector<double> seconds(timed_ ? n : 0, 0.0);
      const Clock::time_point group_start = timed_ ? Clock::now() : Clock::time_point();
      RETURN_IF_ERROR(RunSlicedGroup(group, group_ptrs, group_scalars, threads,
                                     timed_ ? seconds.data() : nullptr));
      if (nan_check_ != nullptr) {
        for (size_t i = 0; i < n; ++i) {
          RETURN_IF_ERROR(CheckFinite(k + static_cast<int>(i), group_ptrs[i]));
        }
      }
      if (timed_) {
        kernel_seconds.insert(kernel_seconds.end(), seconds.begin(), seconds.end());
        if (trace_) {
          trace_events::Record(absl::StrCat(steps_[k].name, "..", steps_[k + n - 1].name), "kernel",
                               group_start, Clock::now(),
                               {{"kind", "batch-sliced group"}, {"graph", graph_hash_}});
        }
      }
      for (size_t i = 0; i < n; ++i) {
        for (int node : steps_[k + i].release) owned[node].reset();
      }
      k += static_cast<int>(n) - 1;
      continue;
    }
    const Step& step = steps_[k];
    std::vector<std::shared_ptr<CpuBuffer>> scratch;
    RETURN_IF_ERROR(Bind(k, args, params, owned, {}, scratch, ptrs, scalars));
    Clock::time_point kernel_start;
    if (timed_) kernel_start = Clock::now();
    for (int phase = 0; phase < 2; ++phase) {
      if (step.fn != nullptr && (phase == 0 || !step.matmuls.empty())) {
        KernelError error;
        step.fn(ptrs.data(), step.sizes.data(), scalars.data(), threads, phase, &error);
        if (error.check >= 0) {
          return CheckFailure(step.checks[error.check], error.value, error.position);
        }
      }
      if (phase == 0) {
        for (const codegen::MatmulCall& call : step.matmuls) {
          RETURN_IF_ERROR(RunBlasMatmul(call, ptrs.data()));
        }
      }
    }
    if (nan_check_ != nullptr) RETURN_IF_ERROR(CheckFinite(k, ptrs));
    if (timed_) {
      const Clock::time_point kernel_end = Clock::now();
      kernel_seconds.push_back(std::chrono::duration<double>(kernel_end - kernel_start).count());
      if (trace_) {
        trace_events::Record(
            step.name, "kernel", kernel_start, kernel_end,
            {{"kind", codegen::KernelKindName(step.kind)}, {"graph", graph_hash_}});
      }
    }
    for (int node : step.release) owned[node].reset();
  }
  // Buffers are immutable, so an output listed twice shares one buffer. Parameters are
  // only borrowed for the run, so a parameter output is copied.
  std::vector<BufferPtr> results;
  results.reserve(outputs_.size());
  for (int node : outputs_) {
    if (owned[node] == nullptr) {
      const int param = params_.of_node[node];
      ASSIGN_OR_RETURN(std::shared_ptr<CpuBuffer> copy, CpuBuffer::Create(params_.shapes[param]));
      if (params_.ops[param] == OpKind::kScalar) {
        WriteScalarElement(params_.shapes[param].dtype(), args[param].scalar, copy->data());
      } else if (copy->shape().byte_size() > 0) {
        std::memcpy(copy->data(), params[param]->data(), copy->shape().byte_size());
      }
      owned[node] = std::move(copy);
    }
    results.push_back(owned[node]);
  }
  if (profile_ != nullptr) {
    profile_->RecordRun(kernel_seconds,
                        std::chrono::duration<double>(Clock::now() - run_start).count());
  }
  return results;
}

absl::Status CpuExecutable::CheckFinite(int k, absl::Span<void* const> ptrs) const {
  const Step& step = steps_[k];
  for (size_t i = 0; i < step.buffers.size(); ++i) {
    const codegen::BufferArg& b = step.buffers[i];
    if (b.role != codegen::BufferRole::kOutput || ptrs[i] == nullptr) continue;  // group-local
    RETURN_IF_ERROR(nan_check_->KernelOutput(step, k, b, ptrs[i]));
  }
  return absl::OkStatus();
}

absl::Status CpuExecutable::CheckFiniteArguments(absl::Span<const CpuBuffer* const> params) const {
  for (size_t p = 0; p < params.size(); ++p) {
    if (params[p] == nullptr) continue;  // a runtime scalar
    RETURN_IF_ERROR(
        nan_check_->Argument(static_cast<int>(p), params[p]->shape(), params[p]->data()));
  }
  return absl::OkStatus();
}

}  // namespace kiln::cpu
