// The cuda backend on its device: fused kernels against a device-to-device copy of the
// same bytes measured in the same run, and cuBLAS matmul throughput.
//
//   build/bench/cuda_bench                          # on a GPU machine (KILN_DEVICE ignored)
//   build/bench/cuda_bench --device cuda_emulated   # anywhere: a dry run of the same code,
//                                                   # small shapes, no GPU figures
//   options: --reps N (default 10: the median of N timed runs of --steps steps each)
//
// Every figure is the median over repetitions. A repetition queues `steps` runs of the
// compiled graph (each mark_step hits the compile cache) and then waits for the device,
// so the time is the device's, not the host's dispatch; the copy baseline is queued and
// waited for the same way. Bytes = the op's minimum traffic (each input read once, the
// output written once), comparable with the copy's 2 x size.
//
// Prints a table and one JSON line:
//   {"device":"cuda:0 (...)","copy_gbs":..., "chain_gbs":..., "chain_of_copy":...,
//    "layer_norm_gbs":..., "layer_norm_of_copy":..., "sum_gbs":..., "sum_of_copy":...,
//    "column_sum_gbs":..., "column_sum_of_copy":..., "matmul_tflops":...}
// The NaFlex ViT step on the GPU: build/examples/naflex_vit --device cuda --bench.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "backends/cuda/cuda_backend.h"
#include "bench/bench_data.h"
#include "bench/bench_stats.h"
#include "lazy/kiln.h"
#include "util/config.h"

namespace {

using kiln::Tensor;
using Clock = std::chrono::steady_clock;

struct Options {
  std::string device = "cuda";
  int reps = 10;
  int steps = 10;
};

Options Parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--device" && i + 1 < argc) {
      o.device = argv[++i];
    } else if (a == "--reps" && i + 1 < argc) {
      o.reps = std::max(1, std::atoi(argv[++i]));
    } else if (a == "--steps" && i + 1 < argc) {
      o.steps = std::max(1, std::atoi(argv[++i]));
    } else {
      std::fprintf(stderr, "usage: cuda_bench [--device cuda|cuda_emulated] [--reps N] "
                           "[--steps N]\n");
      std::exit(2);
    }
  }
  return o;
}

using kiln::bench::HostData;
using kiln::bench::Median;

// Seconds per step: `reps` times, run `step` `steps` times and wait for the device.
double TimeSteps(const Options& o, kiln::cuda::CudaDevice* device, void* sync_buffer,
                 const std::function<void()>& step) {
  for (int i = 0; i < 2; ++i) step();  // compile and warm up
  float sink = 0;
  if (!device->CopyToHost(&sink, sync_buffer, sizeof(sink)).ok()) std::abort();
  std::vector<double> seconds;
  for (int r = 0; r < o.reps; ++r) {
    const Clock::time_point t0 = Clock::now();
    for (int s = 0; s < o.steps; ++s) step();
    if (!device->CopyToHost(&sink, sync_buffer, sizeof(sink)).ok()) std::abort();
    seconds.push_back(std::chrono::duration<double>(Clock::now() - t0).count() / o.steps);
  }
  return Median(seconds);
}

}  // namespace

int main(int argc, char** argv) {
  const Options o = Parse(argc, argv);
  try {
    kiln::set_device(o.device);
  } catch (const kiln::Error& e) {
    std::fprintf(stderr, "cuda_bench: %s\n", e.what());
    return 2;
  }
  auto* backend = dynamic_cast<kiln::cuda::CudaBackend*>(&kiln::current_backend());
  if (backend == nullptr) {
    std::fprintf(stderr, "cuda_bench: %s is not a cuda backend\n", o.device.c_str());
    return 2;
  }
  kiln::cuda::CudaDevice* device = backend->device();
  // The emulated device runs kernels on the CPU a thread at a time: small shapes.
  const bool emulated = o.device != "cuda";
  const int64_t elements = emulated ? int64_t{1} << 14 : int64_t{1} << 26;  // 256 MiB f32
  const int64_t rows = emulated ? 64 : 16384, cols = emulated ? 256 : 4096;
  const int64_t n = emulated ? 64 : 8192;  // matmul n x n x n

  const int64_t bytes = elements * 4;
  void* src = device->Allocate(bytes).value();
  void* dst = device->Allocate(bytes).value();
  const std::vector<float> host = HostData(elements, 1);
  if (!device->CopyToDevice(src, host.data(), bytes).ok()) return 1;
  const double copy_s = TimeSteps(o, device, dst, [&] {
    if (!device->CopyOnDevice(dst, src, bytes).ok()) std::abort();
  });
  const double copy_gbs = 2.0 * bytes / copy_s / 1e9;

  const Tensor x = Tensor::from_vector<float>(host, {elements});
  const double chain_s = TimeSteps(o, device, dst, [&] {
    Tensor t = kiln::tanh(x * 1.5 + 0.25);
    Tensor y = kiln::abs((t * 0.5 + x) * x - 0.125);
    kiln::mark_step();
  });
  const double chain_gbs = 2.0 * bytes / chain_s / 1e9;

  const Tensor rx = Tensor::from_vector<float>(HostData(rows * cols, 2), {rows, cols});
  const Tensor w = Tensor::from_vector<float>(HostData(cols, 3), {cols});
  const Tensor b = Tensor::from_vector<float>(HostData(cols, 4), {cols});
  const double ln_s = TimeSteps(o, device, dst, [&] {
    Tensor y = kiln::layer_norm(rx, w, b, 1e-5);
    kiln::mark_step();
  });
  const double ln_gbs = (2.0 * rows * cols + 2.0 * cols) * 4 / ln_s / 1e9;

  // Reductions with too few outputs to fill the device unless split (cuda_emitter.h):
  // the whole vector to one number, and a bias gradient's column sums over many rows.
  const double sum_s = TimeSteps(o, device, dst, [&] {
    Tensor y = kiln::sum(kiln::tanh(x));
    kiln::mark_step();
  });
  const double sum_gbs = 1.0 * bytes / sum_s / 1e9;
  const double colsum_s = TimeSteps(o, device, dst, [&] {
    Tensor y = kiln::sum(rx, {0});
    kiln::mark_step();
  });
  const double colsum_gbs = (1.0 * rows * cols + cols) * 4 / colsum_s / 1e9;

  const Tensor ma = Tensor::from_vector<float>(HostData(n * n, 5), {n, n});
  const Tensor mb = Tensor::from_vector<float>(HostData(n * n, 6), {n, n});
  const double mm_s = TimeSteps(o, device, dst, [&] {
    Tensor y = kiln::matmul(ma, mb);
    kiln::mark_step();
  });
  const double tflops = 2.0 * n * n * n / mm_s / 1e12;
  device->Free(src, bytes);
  device->Free(dst, bytes);

  std::printf("%s%s\n", device->Describe().c_str(),
              emulated ? "  (emulated: a dry run; these are not GPU figures)" : "");
  std::printf("%-28s %10s %12s\n", "", "GB/s", "of the copy");
  std::printf("%-28s %10.1f %12s\n", "device-to-device copy", copy_gbs, "1.00");
  std::printf("%-28s %10.1f %12.2f\n", "tanh chain (8 ops)", chain_gbs, chain_gbs / copy_gbs);
  std::printf("%-28s %10.1f %12.2f\n", "layer_norm", ln_gbs, ln_gbs / copy_gbs);
  std::printf("%-28s %10.1f %12.2f\n", "sum of tanh (to 1 value)", sum_gbs, sum_gbs / copy_gbs);
  std::printf("%-28s %10.1f %12.2f\n", "column sums", colsum_gbs, colsum_gbs / copy_gbs);
  std::printf("%-28s %10.3f TFLOP/s (f32, %s)\n", "matmul", tflops,
              kiln::config().allow_tf32 ? "TF32 allowed" : "no TF32");
  std::printf(
      "{\"device\":\"%s\",\"emulated\":%s,\"copy_gbs\":%.2f,\"chain_gbs\":%.2f,"
      "\"chain_of_copy\":%.3f,\"layer_norm_gbs\":%.2f,\"layer_norm_of_copy\":%.3f,"
      "\"sum_gbs\":%.2f,\"sum_of_copy\":%.3f,\"column_sum_gbs\":%.2f,"
      "\"column_sum_of_copy\":%.3f,\"matmul_tflops\":%.4f}\n",
      device->Describe().c_str(), emulated ? "true" : "false", copy_gbs, chain_gbs,
      chain_gbs / copy_gbs, ln_gbs, ln_gbs / copy_gbs, sum_gbs, sum_gbs / copy_gbs, colsum_gbs,
      colsum_gbs / copy_gbs, tflops);
  return 0;
}
