#include "examples/naflex_vit/trainer.h"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "examples/naflex_vit/batch_prefetcher.h"
#include "examples/naflex_vit/checkpoints.h"
#include "examples/naflex_vit/fashion_mnist.h"
#include "examples/naflex_vit/procedural_data.h"
#include "lazy/bucketing.h"
#include "lazy/grad_mode.h"
#include "lazy/graph_executor.h"
#include "lazy/nn_clip_grad.h"
#include "lazy/nn_loss.h"
#include "lazy/ops.h"
#include "lazy/optim_adamw.h"
#include "lazy/optim_schedule.h"
#include "lazy/precompile.h"
#include "lazy/safetensors.h"
#include "util/config.h"
#include "util/error.h"
#include "util/metrics.h"

namespace naflex {
namespace {

using Clock = std::chrono::steady_clock;
using kiln::Error;
using kiln::Tensor;

double SecondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

int64_t Compiles() { return kiln::metrics::counter("UncachedCompile"); }

// Held-out and training samples come from different streams of the same seed.
constexpr uint64_t kTrainStream = 1;
constexpr uint64_t kEvalStream = 2;

// A step's results, materialised.
struct StepOutputs {
  Tensor loss;
  Tensor grad_norm;  // undefined without clipping
};

// Forward, backward, clipping (clip_grad > 0), update and the weights' average (when
// `ema`), run by one mark_step.
StepOutputs TrainStep(const NaFlexViT& model, kiln::optim::AdamW& opt, kiln::optim::ModelEma* ema,
                      const ModelBatch& batch, double lr, double clip_grad) {
  opt.zero_grad();
  StepOutputs out;
  out.loss = model.loss(batch);
  opt.set_lr(lr);
  out.loss.backward();
  if (clip_grad > 0) out.grad_norm = kiln::nn::clip_grad_norm_(model.parameters(), clip_grad);
  opt.step();
  if (ema != nullptr) ema->update(model);
  kiln::mark_step();
  return out;
}

// The module's eval mode (no dropout, no drop path) for a scope.
class EvalModeGuard {
 public:
  explicit EvalModeGuard(NaFlexViT& model) : model_(model), was_training_(model.is_training()) {
    model_.eval();
  }
  ~EvalModeGuard() { model_.train(was_training_); }
  EvalModeGuard(const EvalModeGuard&) = delete;
  EvalModeGuard& operator=(const EvalModeGuard&) = delete;

 private:
  NaFlexViT& model_;
  bool was_training_;
};

// The evaluation graph: weighted count of correct predictions and summed loss.
std::pair<Tensor, Tensor> EvalStep(NaFlexViT& model, const ModelBatch& batch) {
  kiln::NoGradGuard no_grad;
  EvalModeGuard eval_mode(model);
  const Tensor logits = model.forward(batch);
  const Tensor hit = kiln::eq(kiln::argmax(logits, 1), batch.labels).to(kiln::DType::kF32);
  Tensor correct = kiln::sum(hit * batch.weights);
  Tensor loss_sum =
      kiln::nn::cross_entropy(logits, batch.labels, batch.weights, kiln::Reduction::kSum);
  kiln::mark_step();
  return {correct, loss_sum};
}

std::unique_ptr<kiln::optim::AdamW> MakeOptimizer(const NaFlexViT& model,
                                                  const TrainOptions& options) {
  kiln::optim::AdamWOptions adam;
  adam.lr = options.lr;
  adam.beta1 = 0.9;
  adam.beta2 = 0.999;
  adam.eps = 1e-8;
  adam.weight_decay = options.weight_decay;
  return std::make_unique<kiln::optim::AdamW>(model.ParamGroups(options.weight_decay), adam);
}

// The batch of training step `step`, for a replay elsewhere (TrainOptions::dump_dir).
void DumpBatch(const std::string& dir, int64_t step, const ModelBatch& mb) {
  const kiln::TensorMap tensors = {{"tokens", mb.tokens},       {"mask", mb.mask},
                                   {"pos_index", mb.pos_index}, {"pos_weight", mb.pos_weight},
                                   {"labels", mb.labels},       {"weights", mb.weights}};
  kiln::save_safetensors(absl::StrFormat("%s/step_%03d.safetensors", dir, step), tensors);
}

}  // namespace

double Median(std::vector<double> values) {
  if (values.empty()) return 0;
  const size_t mid = values.size() / 2;
  std::nth_element(values.begin(), values.begin() + static_cast<std::ptrdiff_t>(mid), values.end());
  double m = values[mid];
  if (values.size() % 2 == 0) {
    m = (m + *std::max_element(values.begin(), values.begin() + static_cast<std::ptrdiff_t>(mid))) / 2;
  }
  return m;
}

void ValidateOptions(const TrainOptions& options) {
  const auto fail = [](const std::string& message) { throw Error(message); };
  if (options.steps < 1) fail(absl::StrCat("steps must be at least 1, got ", options.steps));
  if (options.buckets.empty()) fail("at least one bucket length is needed");
  for (int64_t b : options.buckets) {
    if (b < 1) fail(absl::StrCat("bucket lengths must be positive, got ", b));
  }
  const int64_t largest = *std::max_element(options.buckets.begin(), options.buckets.end());
  if (options.token_budget < largest) {
    fail(absl::StrCat("token budget ", options.token_budget, " is smaller than the largest bucket ",
                      largest, ": no batch would hold even one sample"));
  }
  if (options.min_side < 1 || options.max_side < options.min_side) {
    fail(absl::StrCat("grid sides must satisfy 1 <= min <= max, got ", options.min_side, "..",
                      options.max_side));
  }
  if (options.min_side * options.min_side > largest) {
    fail(absl::StrCat("the smallest image has ", options.min_side * options.min_side,
                      " tokens, more than the largest bucket ", largest));
  }
  if (options.lr <= 0) fail(absl::StrCat("learning rate must be positive, got ", options.lr));
  if (!(options.clip_grad >= 0)) {
    fail(absl::StrCat("gradient clipping norm must be >= 0, got ", options.clip_grad));
  }
  if (!(options.model_ema_decay >= 0 && options.model_ema_decay < 1)) {
    fail(absl::StrCat("weight average decay must be in [0, 1), got ", options.model_ema_decay));
  }
  if (options.eval_batches < 0) fail("eval batches must be >= 0");
  if (options.checkpoint_every < 0) fail("checkpoint interval must be >= 0");
  if (options.checkpoint_every > 0 && options.checkpoint_dir.empty()) {
    fail("checkpoints need a directory to go to");
  }
  if (!options.resume_path.empty() && !options.load_path.empty()) {
    fail("a run either resumes a checkpoint or starts from loaded weights, not both");
  }
  if (options.data != "procedural" && options.data != "fashion-mnist") {
    fail(absl::StrCat("unknown data set '", options.data, "' (procedural or fashion-mnist)"));
  }
  if (options.model.dim % options.model.heads != 0) {
    fail(absl::StrCat("dim ", options.model.dim, " is not divisible by ", options.model.heads,
                      " heads"));
  }
}

DataSplits MakeData(const TrainOptions& options) {
  DataSplits splits;
  if (options.data == "procedural") {
    ProceduralOptions p{.seed = options.seed, .stream = kTrainStream, .patch = options.patch,
                        .min_side = options.min_side, .max_side = options.max_side};
    splits.train = std::make_shared<ProceduralDataset>(p);
    p.stream = kEvalStream;
    splits.eval = std::make_shared<ProceduralDataset>(p);
    return splits;
  }
  auto files = std::make_shared<std::pair<FashionMnist, FashionMnist>>(
      LoadFashionMnist(options.fashion_mnist_dir, "train"),
      LoadFashionMnist(options.fashion_mnist_dir, "t10k"));
  FashionMnistOptions f{.seed = options.seed, .stream = kTrainStream, .patch = options.patch,
                        .min_side = options.min_side, .max_side = options.max_side,
                        .random_draws = true};
  splits.train = std::make_shared<FashionMnistDataset>(&files->first, f);
  f.stream = kEvalStream;
  f.random_draws = false;
  splits.eval = std::make_shared<FashionMnistDataset>(&files->second, f);
  splits.storage = files;
  return splits;
}

EvalResult Evaluate(NaFlexViT& model, const Dataset& data, const std::vector<int64_t>& buckets,
                    int64_t token_budget, int64_t max_batches) {
  EvalResult result;
  if (max_batches <= 0) return result;
  kiln::TokenBudgetBatcher batcher(kiln::BucketSet::explicit_lengths(buckets), token_budget);
  const int64_t largest = batcher.buckets().largest();
  double correct = 0;
  double loss_sum = 0;
  const auto run = [&](const kiln::Batch& batch) {
    // No BucketStep: the per-bucket report counts training steps.
    const ModelBatch mb = MakeBatch(data, batch, model.config().position_grid);
    auto [c, l] = EvalStep(model, mb);
    correct += c.item();
    loss_sum += l.item();
    result.samples += batch.num_real();
  };
  int64_t batches = 0;
  const std::optional<int64_t> size = data.size();
  for (int64_t id = 0; batches < max_batches && (!size || id < *size); ++id) {
    const int64_t tokens = data.Info(id).num_tokens();
    if (tokens > largest) continue;  // only with a largest bucket below the largest image
    if (std::optional<kiln::Batch> batch = batcher.add(id, tokens)) {
      run(*batch);
      ++batches;
    }
  }
  for (const kiln::Batch& batch : batcher.flush()) run(batch);
  if (result.samples > 0) {
    result.accuracy = correct / static_cast<double>(result.samples);
    result.loss = loss_sum / static_cast<double>(result.samples);
  }
  return result;
}

TrainResult Train(const TrainOptions& options_in, const StepCallback& on_step) {
  TrainOptions options = options_in;
  options.model.token_features = options.patch * options.patch * 3;
  ValidateOptions(options);
  std::sort(options.buckets.begin(), options.buckets.end());
  options.buckets.erase(std::unique(options.buckets.begin(), options.buckets.end()),
                        options.buckets.end());
  const DataSplits data = MakeData(options);

  TrainResult result;
  kiln::Generator gen(options.seed);
  result.model = std::make_shared<NaFlexViT>(options.model, gen);
  NaFlexViT& model = *result.model;
  if (!options.load_path.empty()) kiln::load_checkpoint(options.load_path, model);
  if (!options.dump_dir.empty()) {
    std::filesystem::create_directories(options.dump_dir);
    kiln::save_checkpoint(options.dump_dir + "/init.safetensors", model);
  }
  std::unique_ptr<kiln::optim::AdamW> opt = MakeOptimizer(model, options);
  if (options.model_ema_decay > 0) {
    result.ema = std::make_shared<kiln::optim::ModelEma>(model, options.model_ema_decay);
  }
  kiln::optim::ModelEma* ema = result.ema.get();
  const int64_t first_step =
      options.resume_path.empty()
          ? 0
          : ResumeFromCheckpoint(options.resume_path, model, *opt, ema, options);
  const int64_t warmup = std::min(options.warmup_steps, options.steps - 1);
  const kiln::optim::LrSchedule schedule =
      kiln::optim::WarmupCosineSchedule(options.lr, warmup, options.steps,
                                        std::min(options.min_lr, options.lr));
  kiln::TokenBudgetBatcher batcher(kiln::BucketSet::explicit_lengths(options.buckets),
                                   options.token_budget);
  const int64_t features = options.model.token_features;
  const int64_t grid = options.model.position_grid;
  const int64_t hits_at_start = kiln::metrics::counter("CachedCompile");

  // Every bucket's training and evaluation graph, compiled now.
  const Clock::time_point precompile_start = Clock::now();
  if (options.precompile) {
    // Training and evaluation in separate passes: inside precompile nothing runs, so a
    // traced training step stays pending and would otherwise join the evaluation graph.
    kiln::precompile(options.buckets, [&](int64_t bucket) {
      const int64_t batch_size = batcher.batch_size(bucket);
      const ModelBatch mb = SyntheticBatch(bucket, batch_size, features, grid);
      kiln::BucketStep stats(bucket, 0, batch_size * bucket);
      const int64_t before = Compiles();
      const Clock::time_point start = Clock::now();
      TrainStep(model, *opt, ema, mb, schedule(0), options.clip_grad);
      result.train_compile_seconds[bucket] = SecondsSince(start);
      result.train_compiles += Compiles() - before;
    });
    if (options.eval_batches > 0) {
      kiln::precompile(options.buckets, [&](int64_t bucket) {
        const ModelBatch mb = SyntheticBatch(bucket, batcher.batch_size(bucket), features, grid);
        kiln::BucketStep stats(bucket, 0, mb.batch_size * bucket);
        const int64_t before = Compiles();
        const Clock::time_point start = Clock::now();
        EvalStep(model, mb);
        result.eval_compile_seconds[bucket] = SecondsSince(start);
        result.eval_compiles += Compiles() - before;
      });
    }
  }
  result.precompile_seconds = SecondsSince(precompile_start);

  const int64_t compiles_before_training = Compiles();
  const Clock::time_point train_start = Clock::now();
  int64_t next_id = 0;
  const auto next_ids = [&] {
    std::optional<kiln::Batch> batch;
    while (!batch) {
      const int64_t id = next_id++;
      const int64_t tokens = data.train->Info(id).num_tokens();
      if (tokens > batcher.buckets().largest()) continue;  // longer than every bucket
      batch = batcher.add(id, tokens);
    }
    return *batch;
  };
  const auto next_batch = [&] { return MakeHostBatch(*data.train, next_ids(), grid); };
  // A resumed run's data goes on where the checkpoint's stopped: the batches before are
  // chosen again (from the samples' sizes alone, which are cheap) and dropped.
  for (int64_t step = 0; step < first_step; ++step) next_ids();
  int prefetch = options.prefetch_batches;
  if (prefetch < 0) {
    const int threads = kiln::config().num_threads;
    prefetch =
        threads > 0 && threads < static_cast<int>(std::thread::hardware_concurrency()) ? 2 : 0;
  }
  std::optional<BatchPrefetcher> prefetcher;
  if (prefetch > 0) prefetcher.emplace(next_batch, prefetch);
  for (int64_t step = first_step; step < options.steps; ++step) {
    const Clock::time_point data_start = Clock::now();
    const ModelBatch mb = ToModelBatch(prefetcher ? prefetcher->Pop() : next_batch());
    if (!options.dump_dir.empty()) DumpBatch(options.dump_dir, step, mb);
    StepRecord record;
    record.data_seconds = SecondsSince(data_start);
    record.step = step;
    record.bucket = mb.bucket;
    record.batch_size = mb.batch_size;
    record.valid_tokens = mb.valid_tokens;
    record.total_tokens = mb.batch_size * mb.bucket;
    record.lr = schedule(step);
    const Clock::time_point step_start = Clock::now();
    {
      kiln::BucketStep stats(mb.bucket, record.valid_tokens, record.total_tokens);
      const StepOutputs out = TrainStep(model, *opt, ema, mb, record.lr, options.clip_grad);
      record.loss = out.loss.item();
      if (out.grad_norm.defined()) record.grad_norm = out.grad_norm.item();
    }
    record.seconds = SecondsSince(step_start);
    record.compiles = Compiles();
    result.steps.push_back(record);
    if (options.checkpoint_every > 0 &&
        ((step + 1) % options.checkpoint_every == 0 || step + 1 == options.steps)) {
      SaveCheckpoint(options.checkpoint_dir, step + 1, model, *opt, ema, options);
    }
    if (on_step) on_step(record, options.steps);
  }
  result.train_seconds = SecondsSince(train_start);
  result.first_loss = result.steps.front().loss;
  result.final_loss = result.steps.back().loss;

  const Clock::time_point eval_start = Clock::now();
  const EvalResult eval = Evaluate(model, *data.eval, options.buckets, options.token_budget,
                                   options.eval_batches);
  result.eval_seconds = SecondsSince(eval_start);
  result.eval_accuracy = eval.accuracy;
  result.eval_loss = eval.loss;
  result.eval_samples = eval.samples;
  if (ema != nullptr && options.eval_batches > 0) {
    // The average in a model of its own: evaluating it leaves the trained weights as
    // they are (its initial weights, drawn here, are all replaced).
    kiln::Generator unused(options.seed);
    NaFlexViT averaged(options.model, unused);
    ema->copy_to(averaged);
    const EvalResult ema_eval =
        Evaluate(averaged, *data.eval, options.buckets, options.token_budget, options.eval_batches);
    result.ema_eval_accuracy = ema_eval.accuracy;
    result.ema_eval_loss = ema_eval.loss;
  }
  result.compiles_during_training = Compiles() - compiles_before_training;
  result.cache_hits = kiln::metrics::counter("CachedCompile") - hits_at_start;
  return result;
}

}  // namespace naflex
