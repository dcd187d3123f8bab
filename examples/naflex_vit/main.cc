// Trains the NaFlex ViT of shared/specs/vit_naflex.md on the cpu backend (or any other)
// and reports loss, held-out accuracy, throughput and compiles:
//
//   build/examples/naflex_vit/naflex_vit                    # the spec's defaults
//   build/examples/naflex_vit/naflex_vit --data fashion-mnist --steps 300
//   KILN_DEBUG=1 build/examples/naflex_vit/naflex_vit --steps 5   # one compile per bucket
//
// Every bucket's training and evaluation graph is compiled before the first step
// (kiln::precompile), so the run compiles nothing after that.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_join.h"
#include "examples/naflex_vit/checkpoints.h"
#include "examples/naflex_vit/flags.h"
#include "examples/naflex_vit/report.h"
#include "examples/naflex_vit/trainer.h"
#include "lazy/bucketing.h"
#include "lazy/device.h"
#include "lazy/safetensors.h"
#include "util/config.h"
#include "util/error.h"
#include "util/metrics.h"

namespace {

using Clock = std::chrono::steady_clock;

int Run(const naflex::CliOptions& cli) {
  const Clock::time_point start = Clock::now();
  // The cpu backend reads its thread count from the configuration at every run.
  std::optional<kiln::ScopedConfigOverride> threads;
  if (cli.threads > 0) {
    threads.emplace();
    (*threads)->num_threads = cli.threads;
  }
  if (!cli.device.empty()) kiln::set_device(cli.device);
  const naflex::TrainOptions& t = cli.train;
  std::printf("naflex_vit: %s data, %lld steps, buckets {%s}, token budget %lld, lr %g, seed %llu, "
              "device %s\n",
              t.data.c_str(), static_cast<long long>(t.steps),
              absl::StrJoin(t.buckets, ", ").c_str(), static_cast<long long>(t.token_budget), t.lr,
              static_cast<unsigned long long>(t.seed),
              cli.device.empty() ? kiln::config().device.c_str() : cli.device.c_str());
  if (!t.resume_path.empty()) std::printf("resuming from %s\n", t.resume_path.c_str());
  std::printf("compiling every bucket's training and evaluation step first (kiln::precompile)...\n");
  std::fflush(stdout);

  const bool tty = isatty(fileno(stdout)) != 0;
  const int64_t log_every = std::max<int64_t>(1, t.steps / 20);
  Clock::time_point train_start;
  int64_t valid_so_far = 0;
  std::optional<int64_t> first_step;  // 0, or where a resumed run started
  const auto on_step = [&](const naflex::StepRecord& r, int64_t total) {
    if (!first_step) {
      train_start = Clock::now() - std::chrono::duration_cast<Clock::duration>(
                                       std::chrono::duration<double>(r.seconds + r.data_seconds));
      first_step = r.step;
    }
    valid_so_far += r.valid_tokens;
    const double elapsed = std::chrono::duration<double>(Clock::now() - train_start).count();
    const std::string line = naflex::ProgressLine(r, *first_step, total, elapsed,
                                                  elapsed > 0 ? valid_so_far / elapsed : 0);
    if (tty) {
      std::printf("\r%s\033[K", line.c_str());
      if (r.step + 1 == total) std::printf("\n");
      std::fflush(stdout);
    } else if ((r.step + 1) % log_every == 0 || r.step == *first_step || r.step + 1 == total) {
      std::printf("%s\n", line.c_str());
      std::fflush(stdout);
    }
  };

  const naflex::TrainResult result = naflex::Train(t, on_step);
  const naflex::RunFigures f = naflex::Figures(result);

  std::filesystem::create_directories(cli.out_dir);
  const std::string csv = (std::filesystem::path(cli.out_dir) / "train_log.csv").string();
  const std::string svg = (std::filesystem::path(cli.out_dir) / "loss_curve.svg").string();
  naflex::WriteTextFile(csv, naflex::StepsCsv(result.steps));
  naflex::WriteTextFile(svg, naflex::LossCurveSvg(result.steps));
  if (!cli.save_path.empty()) {
    kiln::save_checkpoint(cli.save_path, *result.model,
                          {{"steps", std::to_string(t.steps)},
                           {"seed", std::to_string(t.seed)},
                           {"data", t.data}});
  }

  std::printf("\n%s", kiln::metrics::report().c_str());
  std::printf("\n%s", kiln::bucket_report().c_str());
  std::printf("\nprecompile: %.1f s", result.precompile_seconds);
  for (const auto& [bucket, seconds] : result.train_compile_seconds) {
    std::printf("; L=%lld train %.1f s", static_cast<long long>(bucket), seconds);
    if (auto it = result.eval_compile_seconds.find(bucket); it != result.eval_compile_seconds.end()) {
      std::printf(", eval %.1f s", it->second);
    }
  }
  std::map<int64_t, std::vector<double>> step_seconds;
  for (const naflex::StepRecord& r : result.steps) step_seconds[r.bucket].push_back(r.seconds);
  std::printf("\nmedian step:");
  for (const auto& [bucket, seconds] : step_seconds) {
    std::printf(" L=%lld %.0f ms (%zu steps)", static_cast<long long>(bucket),
                naflex::Median(seconds) * 1e3, seconds.size());
  }
  std::printf("\ncompiles: %lld training graphs + %lld evaluation graphs, %lld during training; "
              "cache hits %lld\n",
              static_cast<long long>(result.train_compiles),
              static_cast<long long>(result.eval_compiles),
              static_cast<long long>(result.compiles_during_training),
              static_cast<long long>(result.cache_hits));
  std::printf("throughput: %.0f valid tokens/s, %.0f tokens/s with padding (padding %.1f%%), "
              "median step %.0f ms\n",
              f.valid_tokens_per_s, f.padded_tokens_per_s, 100 * f.padding_fraction,
              f.median_step_ms);
  std::printf("loss: %.4f at step %lld -> %.4f at step %lld\n", result.first_loss,
              static_cast<long long>(result.steps.front().step), result.final_loss,
              static_cast<long long>(result.steps.back().step));
  if (result.eval_samples > 0) {
    std::printf("held-out accuracy: %.1f%% (%lld samples, loss %.4f)\n", 100 * result.eval_accuracy,
                static_cast<long long>(result.eval_samples), result.eval_loss);
    if (result.ema != nullptr) {
      std::printf("held-out accuracy of the weights' average (decay %g): %.1f%% (loss %.4f)\n",
                  t.model_ema_decay, 100 * result.ema_eval_accuracy, result.ema_eval_loss);
    }
  }
  std::printf("files: %s, %s", csv.c_str(), svg.c_str());
  if (!cli.save_path.empty()) std::printf(", %s", cli.save_path.c_str());
  if (t.checkpoint_every > 0) {
    std::printf(", checkpoints up to %s",
                naflex::CheckpointPath(t.checkpoint_dir, t.steps).c_str());
  }
  std::printf("\nwall time: %.1f s\n",
              std::chrono::duration<double>(Clock::now() - start).count());
  if (cli.bench) std::printf("%s\n", naflex::BenchJson(result).c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  naflex::CliOptions cli;
  try {
    cli = naflex::ParseFlags(argc, argv);
  } catch (const kiln::Error& e) {
    std::fprintf(stderr, "naflex_vit: %s\n", e.what());
    return 2;
  }
  if (cli.help) {
    std::fputs(naflex::Usage().c_str(), stdout);
    return 0;
  }
  try {
    return Run(cli);
  } catch (const kiln::Error& e) {
    std::fprintf(stderr, "\nnaflex_vit: %s\n", e.what());
    return 1;
  }
}
