#pragma once
// Runs of consecutive kernels that the cpu backend executes one batch slice at a time
// (codegen/batch_slicing.h). Attention's kernels each stream every batch element's
// [heads, L, L] scores through memory: at L = 128 and 4096 tokens a batch, 6 MB per
// kernel, more than the cache a core of a shared machine keeps, so the matmul that
// reads the scores back (and the softmax between) wait on memory. A group instead runs
// slice s through all of its kernels before slice s + 1, one thread per slice:
//
//   kernels:  k7 q,k,v = split(qkv)  k8 S = q k^T  k9 P = softmax(S)  k10 O = P v  k11 permute(O)
//   plain:    k7 over B; k8 over B; k9 over B; k10 over B; k11 over B
//   grouped:  for each slice s (threads share the slices): k7(s) k8(s) k9(s) k10(s) k11(s)
//
// A group's kernels must slice alike: the same number of slices, and a value stored in
// the group is read by later kernels of the group with the stride it was written with
// (so slice s reads only what slice s wrote). Values the group stores and reads and no
// later kernel needs (S, O above) never get a full buffer: each thread reuses one slice's
// worth for every slice it runs. Counter "BatchSlicedKernels": the kernels of each
// compiled graph that run in groups. KILN_BATCH_SLICING=0 turns groups off.
#include <cstdint>
#include <vector>

#include "absl/status/status.h"
#include "absl/types/span.h"
#include "backends/cpu/kernel_abi.h"
#include "codegen/batch_slicing.h"

namespace kiln::cpu {

struct SlicedGroup {
  // One kernel of the group, as a slice runs it.
  struct Step {
    KernelFn fn = nullptr;
    std::vector<int64_t> sizes;                // the batch symbol set to 1
    std::vector<codegen::MatmulCall> matmuls;  // the leading batch dimension set to 1
    std::vector<int64_t> stride_bytes;         // per buffer: bytes from slice to slice
    std::vector<int> local;                    // per buffer: its thread-local value, or -1
  };
  int first = 0;  // the group is steps [first, first + steps.size())
  int64_t slices = 0;
  std::vector<Step> steps;
  std::vector<int64_t> local_bytes;  // one slice of each thread-local value
  std::vector<int> local_nodes;      // the node each thread-local value holds
};

// Groups of at least two consecutive kernels that slice alike and hand a value from one
// to another. `fns[k]` is kernel k's entry point (null when it has no loops),
// `stored_by` / `last_use` the kernel storing / last reading each node (a graph output's
// last use is past every kernel).
std::vector<SlicedGroup> PlanSlicedGroups(absl::Span<const codegen::KernelIR> kernels,
                                          absl::Span<const KernelFn> fns,
                                          absl::Span<const int> stored_by,
                                          absl::Span<const int> last_use);

// Runs every slice of `group` through its kernels on `threads` threads. `buffers[i]` are
// kernel first + i's buffer pointers (whole buffers; null for thread-local values),
// `scalars[i]` its scalar arguments. With `seconds` (one entry per kernel of the group),
// adds to each kernel its share of the wall time, in proportion to the time the threads
// spent in it.
absl::Status RunSlicedGroup(const SlicedGroup& group,
                            const std::vector<std::vector<void*>>& buffers,
                            const std::vector<std::vector<double>>& scalars, int threads,
                            double* seconds);

}  // namespace kiln::cpu
