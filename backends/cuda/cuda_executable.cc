#include "backends/cuda/cuda_executable.h"

#include <algorithm>
#include <limits>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "backends/graph_parameters.h"
#include "backends/host_copy.h"
#include "backends/kernel_failure.h"
#include "backends/kernel_step.h"
#include "codegen/fusion_plan.h"
#include "util/config.h"
#include "util/dump_file.h"
#include "util/status_macros.h"

namespace kiln::cuda {
namespace {

// Matches KilnError in the generated preamble (codegen/cuda_emitter.cc).
struct KernelError {
  int32_t check = -1;
  int32_t order = 0;
  int64_t value = 0;
  int64_t position = 0;
  int32_t lock = 0;
};

constexpr unsigned kFlatBlock = 256;
constexpr int64_t kMaxSplit = 256;

unsigned RoundUpToWarp(int64_t threads) {
  return static_cast<unsigned>(std::max<int64_t>(32, (threads + 31) / 32 * 32));
}

// Grid and block for `launch` at the kernel's current sizes.
std::pair<unsigned, unsigned> Geometry(const codegen::KernelIR& ir,
                                       const codegen::CudaLaunch& launch, unsigned max_grid) {
  const int64_t threads = codegen::VarsProduct(ir, launch.thread_vars);
  if (launch.kind == codegen::CudaLaunch::Kind::kFlat) {
    if (threads == 0) return {0, 0};
    const unsigned block = threads < kFlatBlock ? RoundUpToWarp(threads) : kFlatBlock;
    const int64_t blocks = (threads + block - 1) / block;
    return {static_cast<unsigned>(std::min<int64_t>(blocks, max_grid)), block};
  }
  const int64_t rows = codegen::VarsProduct(ir, launch.block_vars);
  if (rows == 0) return {0, 0};
  unsigned block = 32;
  while (block < kFlatBlock && block < threads) block *= 2;
  return {static_cast<unsigned>(std::min<int64_t>(rows, max_grid)), block};
}

int64_t CeilDiv(int64_t a, int64_t b) { return (a + b - 1) / b; }

// How many parts a launch's reductions are split into (1: not split). A row launch's
// rows go to `split` blocks each, every block taking at least a block's worth of the
// row; a column launch's rows to `split` threads per column, each taking at least
// kMinPartRows of them. Either until the grid the device runs at once is full.
int64_t Split(const codegen::KernelIR& ir, const codegen::CudaLaunch& launch, unsigned block,
              unsigned max_grid) {
  if (launch.split_stages.empty()) return 1;
  constexpr int64_t kMinPartRows = 16;
  int64_t work = 0;
  for (int e : launch.shared_reductions) {
    work = std::max(work, codegen::VarsProduct(ir, ir.exprs[e].vars));
  }
  int64_t parallel = 0, room = 0, part_work = 0;
  if (launch.kind == codegen::CudaLaunch::Kind::kRows) {
    parallel = codegen::VarsProduct(ir, launch.block_vars);
    room = max_grid;
    work = std::max(work, codegen::VarsProduct(ir, launch.thread_vars));
    part_work = block;
  } else {
    parallel = codegen::VarsProduct(ir, launch.thread_vars);
    room = int64_t{max_grid} * kFlatBlock;
    part_work = kMinPartRows;
  }
  if (parallel == 0 || parallel >= room / 2) return 1;
  return std::clamp<int64_t>(std::min(CeilDiv(room, parallel), CeilDiv(work, part_work)), 1,
                             kMaxSplit);
}

}  // namespace

absl::StatusOr<std::shared_ptr<CudaBuffer>> AllocateCudaBuffer(CudaDevice* device,
                                                               const Shape& shape) {
  const size_t bytes = std::max<size_t>(4, static_cast<size_t>(shape.byte_size()));
  absl::StatusOr<void*> data = device->Allocate(bytes);
  if (absl::IsResourceExhausted(data.status())) {
    // Named like the other backends' out-of-memory errors: "... allocating N bytes for <shape>".
    return absl::ResourceExhaustedError(
        absl::StrCat(data.status().message(), " for ", shape.ToString()));
  }
  if (!data.ok()) return data.status();
  return std::make_shared<CudaBuffer>(shape, device, *data, bytes);
}

absl::StatusOr<std::unique_ptr<CudaExecutable>> CudaExecutable::Create(const Graph& graph,
                                                                      CudaDevice* device) {
  std::unique_ptr<CudaExecutable> exe(new CudaExecutable(device));
  ASSIGN_OR_RETURN(exe->params_, IndexParameters(graph, "cuda"));
  const auto& order = graph.post_order();
  absl::flat_hash_map<const Node*, int> pos;
  for (int i = 0; i < exe->params_.num_nodes; ++i) pos[order[i]] = i;
  const codegen::FusionPlan plan = codegen::PlanFusion(graph);
  std::vector<codegen::KernelIR> kernels;
  for (int k = 0; k < static_cast<int>(plan.kernels.size()); ++k) {
    ASSIGN_OR_RETURN(codegen::KernelIR ir, codegen::LowerKernel(graph, plan, k));
    kernels.push_back(std::move(ir));
  }
  // Which kernel reads each stored value last: its buffer is released after it.
  constexpr int kNever = std::numeric_limits<int>::max();
  std::vector<int> stored_by(order.size(), -1);
  std::vector<int> last_use(order.size(), -1);
  for (int k = 0; k < static_cast<int>(kernels.size()); ++k) {
    for (const codegen::BufferArg& b : kernels[k].buffers) {
      if (b.role == codegen::BufferRole::kOutput) stored_by[b.node] = k;
      if (b.role != codegen::BufferRole::kScratch) last_use[b.node] = k;
    }
  }
  for (const Value& out : graph.outputs()) {
    const int p = pos.at(out.node.get());
    if (stored_by[p] < 0 && !IsParameter(order[p]->op())) {
      return absl::InternalError(
          absl::StrCat("cuda: graph output ", order[p]->ShortString(), " is stored by no kernel"));
    }
    exe->outputs_.push_back(p);
    last_use[p] = kNever;
  }
  std::vector<codegen::CudaKernelSource> sources;
  std::vector<std::string> kernel_sources;  // the kernels with code
  exe->source_ = codegen::CudaPreamble();
  for (const codegen::KernelIR& ir : kernels) {
    sources.push_back(codegen::EmitCudaKernel(ir));
    if (!ir.has_code()) continue;
    kernel_sources.push_back(sources.back().source);
    absl::StrAppend(&exe->source_, sources.back().source, "\n");
  }
  const std::string name = absl::StrCat("graph_", graph.hash().ToString());
  // Dumped before compiling, so a source NVRTC rejects can be inspected.
  if (!config().dump_dir.empty()) DumpFile(config().dump_dir, name + ".cu", exe->source_);
  if (!kernel_sources.empty()) {
    ASSIGN_OR_RETURN(exe->module_, device->LoadModule(kernel_sources, name));
  }
  for (size_t k = 0; k < kernels.size(); ++k) {
    codegen::KernelIR& ir = kernels[k];
    Step step;
    for (const codegen::CudaLaunch& launch : sources[k].launches) {
      Launch l;
      l.name = launch.function;
      std::tie(l.grid, l.block) = Geometry(ir, launch, device->MaxGridBlocks());
      const unsigned max_grid = device->MaxGridBlocks();
      l.split = Split(ir, launch, l.block, max_grid);
      if (l.split > 1) {
        // Units: (row, part) blocks, or (column, part) threads.
        const bool rows = launch.kind == codegen::CudaLaunch::Kind::kRows;
        const int64_t units =
            codegen::VarsProduct(ir, rows ? launch.block_vars : launch.thread_vars) * l.split;
        if (!rows) l.block = units < kFlatBlock ? RoundUpToWarp(units) : kFlatBlock;
        l.grid = static_cast<unsigned>(
            std::min<int64_t>(rows ? units : CeilDiv(units, l.block), max_grid));
        l.partial_bytes = units * launch.shared_reductions.size() * codegen::kPartialSlotBytes;
        for (const std::string& stage : launch.split_stages) {
          ASSIGN_OR_RETURN(l.functions.emplace_back(), exe->module_->Function(stage));
        }
      } else {
        ASSIGN_OR_RETURN(l.functions.emplace_back(), exe->module_->Function(launch.function));
      }
      l.after_matmuls = launch.after_matmuls;
      step.launches.push_back(l);
    }
    static_cast<KernelStep&>(step) = TakeKernelStep(ir, exe->params_);
    exe->steps_.push_back(std::move(step));
  }
  std::vector<std::vector<int>> releases = Releases(stored_by, last_use, kNever, exe->steps_.size());
  for (size_t k = 0; k < releases.size(); ++k) exe->steps_[k].release = std::move(releases[k]);
  if (config().check_nan) {
    std::vector<std::vector<int>> members;
    for (const codegen::Kernel& k : plan.kernels) members.push_back(k.nodes);
    exe->nan_check_ = std::make_unique<KernelNanCheck>(graph, std::move(members));
  }
  if (!config().dump_dir.empty())
    DumpFile(config().dump_dir, name + ".launches.txt", exe->LaunchPlan());
  return exe;
}

absl::StatusOr<std::vector<BufferPtr>> CudaExecutable::Run(absl::Span<const Argument> args) {
  ASSIGN_OR_RETURN(const std::vector<const CudaBuffer*> params,
                   CheckArguments<CudaBuffer>(params_, args, "cuda", [&](const CudaBuffer& b) {
                     return b.device() == device_;
                   }));
  if (nan_check_ != nullptr) RETURN_IF_ERROR(CheckFiniteArguments(params));
  std::vector<std::shared_ptr<CudaBuffer>> owned(params_.num_nodes);
  std::shared_ptr<CudaBuffer> error_record;
  std::vector<void*> ptrs;
  std::vector<double> scalars;
  std::vector<void*> launch_args;
  for (size_t k = 0; k < steps_.size(); ++k) {
    const Step& step = steps_[k];
    ptrs.clear();
    std::vector<std::shared_ptr<CudaBuffer>> scratch;
    for (const codegen::BufferArg& b : step.buffers) {
      if (b.role == codegen::BufferRole::kInput) {
        const int param = params_.of_node[b.node];
        const CudaBuffer* buffer = param >= 0 ? params[param] : owned[b.node].get();
        if (buffer == nullptr) {
          return absl::InternalError(
              absl::StrCat("cuda: a kernel input (node ", b.node, ") has no buffer"));
        }
        ptrs.push_back(buffer->data());
        continue;
      }
      ASSIGN_OR_RETURN(std::shared_ptr<CudaBuffer> buffer,
                       AllocateCudaBuffer(device_, Shape(b.dtype, b.shape)));
      ptrs.push_back(buffer->data());
      if (b.role == codegen::BufferRole::kOutput) {
        owned[b.node] = std::move(buffer);
      } else {
        scratch.push_back(std::move(buffer));
      }
    }
    scalars.clear();
    for (int param : step.scalar_params) scalars.push_back(args[param].scalar);
    void* error_ptr = nullptr;
    if (!step.checks.empty()) {
      if (error_record == nullptr) {
        ASSIGN_OR_RETURN(error_record, AllocateCudaBuffer(device_, Shape(DType::kI64, {4})));
      }
      const KernelError clean;
      RETURN_IF_ERROR(device_->CopyToDevice(error_record->data(), &clean, sizeof(clean)));
      error_ptr = error_record->data();
    }
    // cudaLaunchKernel's convention: a pointer to each parameter's value.
    launch_args.clear();
    for (void*& p : ptrs) launch_args.push_back(&p);
    for (const int64_t& s : step.sizes) launch_args.push_back(const_cast<int64_t*>(&s));
    for (double& s : scalars) launch_args.push_back(&s);
    launch_args.push_back(&error_ptr);
    for (bool after : {false, true}) {
      for (const Launch& l : step.launches) {
        if (l.after_matmuls != after || l.grid == 0) continue;
        // A split launch's stages take the partials and the split after the error record.
        std::shared_ptr<CudaBuffer> partials;
        void* partials_ptr = nullptr;
        int64_t split = l.split;
        if (l.split > 1) {
          ASSIGN_OR_RETURN(
              partials,
              AllocateCudaBuffer(device_, Shape(DType::kI64, {int64_t(l.partial_bytes / 8)})));
          partials_ptr = partials->data();
          launch_args.insert(launch_args.end(), {&partials_ptr, &split});
        }
        for (const void* function : l.functions) {
          RETURN_IF_ERROR(device_->Launch(function, l.grid, l.block, launch_args.data()));
        }
        if (l.split > 1) launch_args.resize(launch_args.size() - 2);
      }
      if (!after) {
        for (const codegen::MatmulCall& call : step.matmuls) {
          RETURN_IF_ERROR(device_->Matmul(call, ptrs.data()));
        }
      }
    }
    if (!step.checks.empty()) {
      KernelError error;
      RETURN_IF_ERROR(device_->CopyToHost(&error, error_record->data(), sizeof(error)));
      if (error.check >= 0) {
        return CheckFailure(step.checks[error.check], error.value, error.position);
      }
    }
    if (nan_check_ != nullptr) {
      RETURN_IF_ERROR(CheckFinite(static_cast<int>(k), ptrs));
    }
    for (int node : step.release) owned[node].reset();
  }
  std::vector<BufferPtr> results;
  results.reserve(outputs_.size());
  for (int node : outputs_) {
    if (owned[node] == nullptr) {
      // A parameter returned as it is: copied, since parameters are only borrowed.
      const int param = params_.of_node[node];
      const Shape& shape = params_.shapes[param];
      ASSIGN_OR_RETURN(std::shared_ptr<CudaBuffer> copy, AllocateCudaBuffer(device_, shape));
      if (params_.ops[param] == OpKind::kScalar) {
        int64_t element = 0;
        WriteScalarElement(shape.dtype(), args[param].scalar, &element);
        RETURN_IF_ERROR(device_->CopyToDevice(copy->data(), &element, shape.byte_size()));
      } else if (shape.byte_size() > 0) {
        RETURN_IF_ERROR(
            device_->CopyOnDevice(copy->data(), params[param]->data(), shape.byte_size()));
      }
      owned[node] = std::move(copy);
    }
    results.push_back(owned[node]);
  }
  return results;
}

absl::Status CudaExecutable::CheckFinite(int k, absl::Span<void* const> ptrs) const {
  const Step& step = steps_[k];
  std::vector<char> host;
  for (size_t i = 0; i < step.buffers.size(); ++i) {
    const codegen::BufferArg& b = step.buffers[i];
    if (b.role != codegen::BufferRole::kOutput || !IsFloating(b.dtype)) continue;
    host.resize(Shape(b.dtype, b.shape).byte_size());
    RETURN_IF_ERROR(device_->CopyToHost(host.data(), ptrs[i], host.size()));
    RETURN_IF_ERROR(nan_check_->KernelOutput(step, k, b, host.data()));
  }
  return absl::OkStatus();
}

absl::Status CudaExecutable::CheckFiniteArguments(
    absl::Span<const CudaBuffer* const> params) const {
  std::vector<char> host;
  for (size_t p = 0; p < params.size(); ++p) {
    if (params[p] == nullptr || !IsFloating(params[p]->shape().dtype())) continue;
    host.resize(params[p]->shape().byte_size());
    RETURN_IF_ERROR(device_->CopyToHost(host.data(), params[p]->data(), host.size()));
    RETURN_IF_ERROR(nan_check_->Argument(static_cast<int>(p), params[p]->shape(), host.data()));
  }
  return absl::OkStatus();
}

std::string CudaExecutable::LaunchPlan() const {
  std::string plan;
  for (const Step& step : steps_) {
    for (const Launch& l : step.launches) {
      absl::StrAppend(&plan, l.name, ": grid ", l.grid, " x block ", l.block);
      if (l.split > 1)
        absl::StrAppend(&plan, ", split ", l.split, " in ", l.functions.size(), " stages");
      absl::StrAppend(&plan, "\n");
    }
  }
  return plan;
}

}  // namespace kiln::cuda
