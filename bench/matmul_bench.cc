// The cpu backend's BLAS matmuls (backends/cpu/blas.h) on the shapes of the NaFlex ViT
// training step (examples/naflex_vit: 4096 tokens a batch, dim 192, MLP 768, 3 heads of
// 64, sequence buckets 64/128/256), next to one large sgemm called directly in the same run: the
// bound, what OpenBLAS reaches on these cores when the matrix is big enough.
//
// Each shape is timed as the backend runs it (RunBlasMatmul on a MatmulCall, transposes
// as flags), repetitions interleaved across shapes so that a noisy neighbour hits all
// of them alike; the table shows each shape's median GFLOP/s, its share of the bound's
// median, and (OpenBLAS) the median of the same product with every tile sent to
// OpenBLAS (kiln's own gemm, backends/cpu/avx2_sgemm.h, turned off).
//
//   build/bench/matmul_bench [--reps=N] [--min_ms=M]
//   (KILN_NUM_THREADS sets the threads, as for the backend)
#include <cblas.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "backends/cpu/avx2_sgemm.h"
#include "backends/cpu/blas.h"
#include "backends/cpu/blas_kernels.h"
#include "backends/cpu/cpu_backend.h"
#include "bench/bench_stats.h"
#include "codegen/kernel_ir.h"

namespace {

using kiln::bench::IntFlag;
using kiln::bench::Median;
using Clock = std::chrono::steady_clock;

constexpr int64_t kTokens = 4096;
constexpr int64_t kDim = 192;
constexpr int64_t kMlp = 768;
constexpr int64_t kPatch = 768;
constexpr int64_t kHeads = 3;
constexpr int64_t kHeadDim = 64;
constexpr int64_t kBoundSize = 2048;

// One matmul of the step: out[batch, m, n] = op(a) x op(b), a and b batched or shared.
struct Case {
  std::string label;
  int64_t batch, m, n, k;
  bool ta, tb;
  bool shared_b;  // b has no batch dimension (broadcast over the batch)
  double Flops() const { return 2.0 * batch * m * n * k; }
};

std::vector<Case> StepCases() {
  std::vector<Case> cases;
  // nn::linear: y[T, out] = x[T, in] x W^T; backward dX = dY x W, dW = dY^T x X.
  struct Linear {
    const char* name;
    int64_t in, out;
  };
  const Linear linears[] = {{"patch", kPatch, kDim},
                            {"qkv", kDim, 3 * kDim},
                            {"proj", kDim, kDim},
                            {"fc1", kDim, kMlp},
                            {"fc2", kMlp, kDim}};
  for (const Linear& l : linears) {
    const std::string n = l.name;
    cases.push_back({n + " fwd", 1, kTokens, l.out, l.in, false, true, false});
    cases.push_back({n + " dX", 1, kTokens, l.in, l.out, false, false, false});
    cases.push_back({n + " dW", 1, l.out, l.in, kTokens, true, false, false});
  }
  // Attention over B * heads matrices per bucket length L (B = 4096 / L).
  for (int64_t len : {64, 128, 256}) {
    const int64_t batch = kTokens / len * kHeads;
    const std::string p = "L" + std::to_string(len) + " ";
    cases.push_back({p + "q k^T", batch, len, len, kHeadDim, false, true, false});
    cases.push_back({p + "p v", batch, len, kHeadDim, len, false, false, false});
    cases.push_back({p + "p^T dO", batch, len, kHeadDim, len, true, false, false});
  }
  // Small and oddly shaped batches, for the partitioning's edges.
  cases.push_back({"square via the backend", 1, kBoundSize, kBoundSize, kBoundSize, false, false,
                   false});
  cases.push_back({"odd 3x[67,45,29]", 3, 67, 45, 29, false, false, false});
  cases.push_back({"bcast 96x[128,64]x[64,64]", 96, 128, 64, 64, false, false, true});
  return cases;
}

// Buffers and the MatmulCall for one case, filled with values in [-1, 1).
struct Prepared {
  kiln::codegen::MatmulCall call;
  std::vector<float> a, b, out;
  void* bufs[3];
};

Prepared Prepare(const Case& c) {
  Prepared p;
  auto& call = p.call;
  call.a = 0;
  call.b = 1;
  call.out = 2;
  call.transpose_a = c.ta;
  call.transpose_b = c.tb;
  call.dtype = kiln::DType::kF32;
  call.a_shape = {c.batch, c.ta ? c.k : c.m, c.ta ? c.m : c.k};
  call.b_shape = {c.tb ? c.n : c.k, c.tb ? c.k : c.n};
  if (!c.shared_b) call.b_shape.insert(call.b_shape.begin(), c.batch);
  call.out_shape = {c.batch, c.m, c.n};
  p.a.resize(c.batch * c.m * c.k);
  p.b.resize((c.shared_b ? 1 : c.batch) * c.k * c.n);
  p.out.resize(c.batch * c.m * c.n);
  uint32_t state = 12345;
  auto next = [&state] {
    state = state * 1664525u + 1013904223u;
    return static_cast<float>(state >> 8) / static_cast<float>(1 << 23) - 1.0f;
  };
  for (float& x : p.a) x = next();
  for (float& x : p.b) x = next();
  p.bufs[0] = p.a.data();
  p.bufs[1] = p.b.data();
  p.bufs[2] = p.out.data();
  return p;
}

// Seconds per call of `fn`, over enough calls to take at least `min_seconds`.
template <typename Fn>
double TimePerCall(Fn&& fn, double min_seconds) {
  fn();  // warm: first touch of the output, OpenBLAS's buffers
  int64_t calls = 1;
  while (true) {
    const Clock::time_point start = Clock::now();
    for (int64_t i = 0; i < calls; ++i) fn();
    const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
    if (seconds >= min_seconds) return seconds / static_cast<double>(calls);
    calls = seconds <= 0 ? calls * 10
                         : std::max(calls + 1, static_cast<int64_t>(calls * 1.2 * min_seconds /
                                                                    seconds));
  }
}

}  // namespace

int main(int argc, char** argv) {
  const int reps = std::max(1, IntFlag(argc, argv, "--reps", 7));
  const double min_seconds = IntFlag(argc, argv, "--min_ms", 40) / 1000.0;
  const int threads = kiln::cpu::NumThreads();
  // As the backend does before its first matmul (OpenBLAS's kernels, threads).
  kiln::cpu::SetBlasThreads(threads);

  const std::vector<Case> cases = StepCases();
  std::vector<Prepared> prepared;
  prepared.reserve(cases.size());
  for (const Case& c : cases) prepared.push_back(Prepare(c));

  // The bound: one square sgemm straight into OpenBLAS with its own threads.
  const Case bound_case{"bound", 1, kBoundSize, kBoundSize, kBoundSize, false, false, false};
  Prepared bound = Prepare(bound_case);
  auto run_bound = [&] {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, kBoundSize, kBoundSize, kBoundSize,
                1.0f, bound.a.data(), kBoundSize, bound.b.data(), kBoundSize, 0.0f,
                bound.out.data(), kBoundSize);
  };

  std::vector<double> bound_rates;
  std::vector<std::vector<double>> rates(cases.size()), openblas_rates(cases.size());
  for (int r = 0; r < reps; ++r) {
    // The backend's setting is left as the backend chose it once the bound has run.
    const int saved = openblas_get_num_threads();
    openblas_set_num_threads(threads);
    bound_rates.push_back(bound_case.Flops() / TimePerCall(run_bound, min_seconds) / 1e9);
    openblas_set_num_threads(saved);
    // Each shape as the backend runs it, and again with every tile sent to OpenBLAS.
    for (bool own : {true, false}) {
      kiln::cpu::SetAvx2SgemmEnabled(own);
      for (size_t i = 0; i < cases.size(); ++i) {
        Prepared& p = prepared[i];
        auto run = [&] {
          kiln::cpu::SetBlasThreads(threads);
          const absl::Status status = kiln::cpu::RunBlasMatmul(p.call, p.bufs);
          if (!status.ok()) {
            std::fprintf(stderr, "%s: %s\n", cases[i].label.c_str(),
                         std::string(status.message()).c_str());
            std::exit(1);
          }
        };
        (own ? rates : openblas_rates)[i].push_back(cases[i].Flops() /
                                                    TimePerCall(run, min_seconds) / 1e9);
      }
    }
  }

  const double bound_rate = Median(bound_rates);
  std::printf(
      "matmul_bench: %d threads, OpenBLAS %s kernels, medians of %d repetitions (GFLOP/s = "
      "1e9 flop/s)\n",
      threads, kiln::cpu::BlasKernelName().c_str(), reps);
  std::printf("%-28s %5s %5s %5s %5s %2s %2s %9s %8s %8s %8s %11s\n", "shape", "batch", "m", "n",
              "k", "ta", "tb", "GFLOP/s", "of bound", "min", "max", "OpenBLAS");
  std::printf("%-28s %5d %5lld %5lld %5lld %2d %2d %9.1f %8s %8.1f %8.1f\n", "bound (direct sgemm)",
              1, static_cast<long long>(kBoundSize), static_cast<long long>(kBoundSize),
              static_cast<long long>(kBoundSize), 0, 0, bound_rate, "1.00",
              *std::min_element(bound_rates.begin(), bound_rates.end()),
              *std::max_element(bound_rates.begin(), bound_rates.end()));
  for (size_t i = 0; i < cases.size(); ++i) {
    const Case& c = cases[i];
    const double rate = Median(rates[i]);
    std::printf("%-28s %5lld %5lld %5lld %5lld %2d %2d %9.1f %8.2f %8.1f %8.1f %11.1f\n",
                c.label.c_str(), static_cast<long long>(c.batch), static_cast<long long>(c.m),
                static_cast<long long>(c.n), static_cast<long long>(c.k), c.ta, c.tb, rate,
                rate / bound_rate, *std::min_element(rates[i].begin(), rates[i].end()),
                *std::max_element(rates[i].begin(), rates[i].end()), Median(openblas_rates[i]));
  }
  return 0;
}
