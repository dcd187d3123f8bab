// Tracing cost: nanoseconds to record one op (shape inference, node hash, the tensor
// handle and its live-registry entry). Nothing runs: the timed loops only trace, and
// dropping the traced chain is excluded. Items processed = ops recorded, so the
// "items_per_second" column reads as ops/s (ns/op = 1e9 / that).
//
//   build/bench/tracing_bench --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
#include <cstdint>
#include <memory>
#include <vector>

#include "benchmark/benchmark.h"
#include "lazy/kiln.h"

namespace {

using kiln::Tensor;

Tensor Small(float start) {
  std::vector<float> data(16);
  for (size_t i = 0; i < data.size(); ++i) data[i] = start + 0.25f * static_cast<float>(i);
  return Tensor::from_vector<float>(data, {4, 4});
}

// Alternating tensor-tensor add and mul: one node per op.
void BM_TraceTensorOps(benchmark::State& state) {
  const int64_t ops = state.range(0);
  const Tensor x = Small(1);
  const Tensor y = Small(2);
  for (auto _ : state) {
    Tensor t = x;
    for (int64_t i = 0; i < ops; i += 2) {
      t = t + y;
      t = t * y;
    }
    benchmark::DoNotOptimize(t);
    state.PauseTiming();
    t = Tensor();  // freeing the chain is not tracing
    state.ResumeTiming();
  }
  state.SetItemsProcessed(state.iterations() * ops);
}
BENCHMARK(BM_TraceTensorOps)->Arg(1000);

// Tensor-scalar ops (`t * 0.5 + 1`): each op also records a runtime scalar leaf, as
// learning-rate updates do.
void BM_TraceScalarOps(benchmark::State& state) {
  const int64_t ops = state.range(0);
  const Tensor x = Small(1);
  for (auto _ : state) {
    Tensor t = x;
    for (int64_t i = 0; i < ops; i += 2) {
      t = t * 0.5;
      t = t + 1.0;
    }
    benchmark::DoNotOptimize(t);
    state.PauseTiming();
    t = Tensor();
    state.ResumeTiming();
  }
  state.SetItemsProcessed(state.iterations() * ops);
}
BENCHMARK(BM_TraceScalarOps)->Arg(1000);

// A matmul + bias + relu layer repeated: ops with more attribute and shape work.
void BM_TraceLayers(benchmark::State& state) {
  const int64_t layers = state.range(0);
  const Tensor x = Small(1);
  const Tensor w = Small(-1);
  const Tensor b = Tensor::from_vector<float>({0.5f, -0.5f, 1, 2}, {4});
  for (auto _ : state) {
    Tensor t = x;
    for (int64_t i = 0; i < layers; ++i) t = kiln::relu(kiln::matmul(t, w) + b);
    benchmark::DoNotOptimize(t);
    state.PauseTiming();
    t = Tensor();
    state.ResumeTiming();
  }
  state.SetItemsProcessed(state.iterations() * layers * 3);
}
BENCHMARK(BM_TraceLayers)->Arg(333);

// The baseline, run beside the others because this machine's speed drifts from minute
// to minute: the floor of any shared-pointer IR, two allocations per op (a node-sized
// object that owns its operand, and a tensor-handle-sized one) and nothing else. Divide
// a tracing benchmark's ns/op by this one's to compare runs.
void BM_BaselineTwoAllocationsPerOp(benchmark::State& state) {
  struct FakeNode {
    std::shared_ptr<const FakeNode> operand;
    char payload[200];  // about sizeof(kiln::Node)
  };
  struct FakeHandle {
    std::shared_ptr<const FakeNode> value;
    char payload[64];  // about sizeof(kiln::TensorImpl)
  };
  const int64_t ops = state.range(0);
  for (auto _ : state) {
    auto t = std::make_shared<FakeHandle>();
    for (int64_t i = 0; i < ops; ++i) {
      auto node = std::make_shared<FakeNode>();
      node->operand = t->value;
      auto next = std::make_shared<FakeHandle>();
      next->value = std::move(node);
      t = std::move(next);
    }
    benchmark::DoNotOptimize(t);
    state.PauseTiming();
    t.reset();
    state.ResumeTiming();
  }
  state.SetItemsProcessed(state.iterations() * ops);
}
BENCHMARK(BM_BaselineTwoAllocationsPerOp)->Arg(1000);

}  // namespace

BENCHMARK_MAIN();
