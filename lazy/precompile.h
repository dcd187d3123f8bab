#pragma once
// Compiling every shape bucket's training step before training starts, so that a run
// under KILN_ERROR_ON_RECOMPILE=1 is compile-free after warm-up.
//
//   kiln::precompile({64, 128, 256}, [&](int64_t bucket) {
//     train_step(synthetic_batch(bucket));  // traces forward, backward, update; mark_step()
//   });
//   // ... training: every bucket's graph is already in the compile cache
//
// While `trace_step` runs, mark_step() compiles every graph it would run (or finds it
// cached) but runs nothing, and item()/to_vector() throw: no values are computed.
// Afterwards every tensor that existed before precompile gets back its value and its
// autograd state, so parameters, optimizer state and gradients are untouched, even when
// `trace_step` throws. kiln's optimizers do not count a step traced here, and kiln's random
// ops (dropout, rand_like, randn, ...) leave their generators as they were, so a run draws
// the same numbers with and without precompile; other host-side state the step changes is
// the caller's to keep. The compiles run inside a WarmupScope
// and are explained under KILN_DEBUG=1 like any other. One thread at a time: training
// must not run on other threads meanwhile.
#include <cstdint>
#include <functional>
#include <vector>

#include "lazy/generator.h"

namespace kiln {

void precompile(const std::vector<int64_t>& buckets,
                const std::function<void(int64_t bucket)>& trace_step);

// True on the thread while it runs precompile's `trace_step`.
bool precompiling();

namespace internal {

// Puts `gen` back as it was at the end of the scope when the thread is precompiling: how
// random ops keep their generators out of a step traced for precompile.
class KeepGeneratorWhilePrecompiling {
 public:
  explicit KeepGeneratorWhilePrecompiling(Generator& gen) : gen_(gen), saved_(gen) {}
  ~KeepGeneratorWhilePrecompiling() {
    if (precompiling()) gen_ = saved_;
  }
  KeepGeneratorWhilePrecompiling(const KeepGeneratorWhilePrecompiling&) = delete;
  KeepGeneratorWhilePrecompiling& operator=(const KeepGeneratorWhilePrecompiling&) = delete;

 private:
  Generator& gen_;
  const Generator saved_;
};

}  // namespace internal

}  // namespace kiln
