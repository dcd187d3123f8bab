#include "backends/cpu/batch_sliced_groups.h"

#include <atomic>
#include <chrono>
#include <mutex>
#include <optional>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "backends/cpu/blas.h"
#include "backends/cpu/host_allocator.h"
#include "ir/dtype.h"

namespace kiln::cpu {
namespace {

using codegen::BatchSlicing;
using codegen::BufferRole;
using codegen::KernelIR;

// Kernels [first, end) as a group: sliced sizes and matmuls, strides in bytes, and the
// values no kernel after the group reads, kept per thread.
SlicedGroup MakeGroup(absl::Span<const KernelIR> kernels, absl::Span<const KernelFn> fns,
                      absl::Span<const BatchSlicing> slicing, int first, int end,
                      absl::Span<const int> stored_by, absl::Span<const int> last_use) {
  SlicedGroup group;
  group.first = first;
  group.slices = slicing[0].slices;
  absl::flat_hash_map<int, int> local_of;  // node -> thread-local value
  for (int k = first; k < end; ++k) {
    const KernelIR& ir = kernels[k];
    const BatchSlicing& s = slicing[k - first];
    SlicedGroup::Step step;
    step.fn = fns[k];
    step.sizes = ir.size_values;
    if (s.size_symbol >= 0) step.sizes[s.size_symbol] = 1;
    for (const codegen::MatmulCall& call : ir.matmuls) {
      step.matmuls.push_back(codegen::SliceMatmul(call, group.slices));
    }
    for (size_t b = 0; b < ir.buffers.size(); ++b) {
      const codegen::BufferArg& buffer = ir.buffers[b];
      const int64_t bytes = s.strides[b] * DTypeSize(buffer.dtype);
      step.stride_bytes.push_back(bytes);
      int local = -1;
      if (auto it = local_of.find(buffer.node); it != local_of.end()) {
        local = it->second;
      } else if (buffer.role == BufferRole::kOutput && stored_by[buffer.node] == k &&
                 last_use[buffer.node] < end) {
        local = static_cast<int>(group.local_nodes.size());
        local_of[buffer.node] = local;
        group.local_nodes.push_back(buffer.node);
        group.local_bytes.push_back(bytes);
      }
      step.local.push_back(local);
    }
    group.steps.push_back(std::move(step));
  }
  return group;
}

}  // namespace

std::vector<SlicedGroup> PlanSlicedGroups(absl::Span<const KernelIR> kernels,
                                          absl::Span<const KernelFn> fns,
                                          absl::Span<const int> stored_by,
                                          absl::Span<const int> last_use) {
  const int n = static_cast<int>(kernels.size());
  std::vector<std::optional<BatchSlicing>> slicing;
  for (const KernelIR& ir : kernels) slicing.push_back(codegen::SliceByBatch(ir));
  std::vector<SlicedGroup> groups;
  int first = 0;
  while (first < n) {
    if (!slicing[first]) {
      ++first;
      continue;
    }
    // Extend the group while each kernel reads the group's values slice by slice as
    // they were written.
    absl::flat_hash_map<int, int64_t> stored;  // node -> stride, for values the group stores
    bool hands_off = false;
    int end = first;
    for (; end < n && slicing[end] && slicing[end]->slices == slicing[first]->slices; ++end) {
      const KernelIR& ir = kernels[end];
      bool fits = true, reads_group = false;
      for (size_t b = 0; b < ir.buffers.size() && fits; ++b) {
        if (ir.buffers[b].role != BufferRole::kInput) continue;
        auto it = stored.find(ir.buffers[b].node);
        if (it == stored.end()) continue;
        fits = it->second == slicing[end]->strides[b];
        reads_group = true;
      }
      if (!fits) break;  // the kernel stays out, so its reads do not count
      hands_off = hands_off || reads_group;
      for (size_t b = 0; b < ir.buffers.size(); ++b) {
        if (ir.buffers[b].role == BufferRole::kOutput) {
          stored[ir.buffers[b].node] = slicing[end]->strides[b];
        }
      }
    }
    if (end - first >= 2 && hands_off) {
      std::vector<BatchSlicing> members;
      for (int k = first; k < end; ++k) members.push_back(*slicing[k]);
      groups.push_back(MakeGroup(kernels, fns, members, first, end, stored_by, last_use));
    }
    first = std::max(end, first + 1);
  }
  return groups;
}

absl::Status RunSlicedGroup(const SlicedGroup& group,
                            const std::vector<std::vector<void*>>& buffers,
                            const std::vector<std::vector<double>>& scalars, int threads,
                            double* seconds) {
  using Clock = std::chrono::steady_clock;
  const size_t n = group.steps.size();
  std::vector<double> busy(n, 0.0);  // thread time in each kernel, summed over threads
  std::mutex mu;
  absl::Status status;
  std::atomic<bool> failed{false};
  const Clock::time_point start = Clock::now();
#pragma omp parallel num_threads(threads)
  {
    std::vector<double> my_busy(n, 0.0);
    std::vector<void*> ptrs;
    absl::Status my_status;
    std::vector<void*> local;
    for (int64_t bytes : group.local_bytes) {
      local.push_back(HostAllocator::Global().Allocate(static_cast<size_t>(bytes)));
      if (local.back() == nullptr) {
        my_status = absl::ResourceExhaustedError(
            absl::StrCat("cpu: out of memory allocating ", bytes, " bytes of slice scratch"));
      }
    }
#pragma omp for schedule(dynamic, 1)
    for (int64_t s = 0; s < group.slices; ++s) {
      if (failed.load(std::memory_order_relaxed)) continue;
      for (size_t i = 0; i < n && my_status.ok(); ++i) {
        const SlicedGroup::Step& step = group.steps[i];
        Clock::time_point t0;
        if (seconds != nullptr) t0 = Clock::now();
        ptrs.clear();
        for (size_t b = 0; b < step.local.size(); ++b) {
          ptrs.push_back(step.local[b] >= 0
                             ? local[step.local[b]]
                             : static_cast<char*>(buffers[i][b]) + s * step.stride_bytes[b]);
        }
        for (int phase = 0; phase < 2 && my_status.ok(); ++phase) {
          if (step.fn != nullptr && (phase == 0 || !step.matmuls.empty())) {
            KernelError error;
            step.fn(ptrs.data(), step.sizes.data(), scalars[i].data(), 1, phase, &error);
            // Kernels with checks never slice (codegen/batch_slicing.h).
            if (error.check >= 0) {
              my_status = absl::InternalError("cpu: a check failed in a batch-sliced kernel");
            }
          }
          if (phase == 0) {
            for (const codegen::MatmulCall& call : step.matmuls) {
              if (my_status.ok()) my_status = RunBlasMatmul(call, ptrs.data(), true);
            }
          }
        }
        if (seconds != nullptr) {
          my_busy[i] += std::chrono::duration<double>(Clock::now() - t0).count();
        }
      }
      if (!my_status.ok()) failed.store(true, std::memory_order_relaxed);
    }
    for (size_t l = 0; l < local.size(); ++l) {
      HostAllocator::Global().Free(local[l], static_cast<size_t>(group.local_bytes[l]));
    }
    std::lock_guard<std::mutex> lock(mu);
    for (size_t i = 0; i < n; ++i) busy[i] += my_busy[i];
    if (status.ok() && !my_status.ok()) status = my_status;
  }
  if (seconds != nullptr) {
    const double wall = std::chrono::duration<double>(Clock::now() - start).count();
    double total = 0;
    for (double b : busy) total += b;
    for (size_t i = 0; i < n; ++i) {
      seconds[i] += total > 0 ? wall * busy[i] / total : wall / static_cast<double>(n);
    }
  }
  return status;
}

}  // namespace kiln::cpu
