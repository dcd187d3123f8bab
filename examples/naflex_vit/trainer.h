#pragma once
// The NaFlex ViT training run: data stream -> per-bucket batches under a token budget ->
// forward, backward, AdamW (warm-up + cosine) as one mark_step per batch, then a
// held-out evaluation. Every bucket's training and evaluation graphs are compiled by
// kiln::precompile before the first step, so the run itself compiles nothing.
//
//   naflex::TrainOptions options;            // the spec's defaults
//   naflex::TrainResult result = naflex::Train(options, on_step);
//   result.final_loss, result.eval_accuracy, result.steps (per-step figures)
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "examples/naflex_vit/dataset.h"
#include "examples/naflex_vit/model.h"
#include "lazy/optim_model_ema.h"

namespace naflex {

struct TrainOptions {
  int64_t steps = 40;
  std::vector<int64_t> buckets = {64, 128, 256};
  int64_t token_budget = 4096;
  double lr = 1e-3;
  double min_lr = 1e-5;
  int64_t warmup_steps = 20;
  double weight_decay = 0.05;
  // Gradients scaled to at most this total norm before each update (torch's
  // clip_grad_norm_, timm's --clip-grad); 0: none.
  double clip_grad = 0;
  // Decay of an exponential moving average of the weights (timm's --model-ema-decay),
  // updated in every step's graph and evaluated after training beside the weights; 0: none.
  double model_ema_decay = 0;
  uint64_t seed = 0;
  // "procedural" or "fashion-mnist".
  std::string data = "procedural";
  std::string fashion_mnist_dir = "/usr/share/datasets/fashion-mnist";
  // Evaluation stops adding held-out samples once this many full batches have run (the
  // partial batches left then run too, padded with weight-0 fillers); 0 skips it.
  int64_t eval_batches = 10;
  // Patch size and grid sides of the images (the spec: 16, sides 4..16).
  int64_t patch = 16;
  int64_t min_side = 4;
  int64_t max_side = 16;
  ModelConfig model;
  // Checkpoint to start from (empty: fresh weights from `seed`).
  std::string load_path;
  // Every this many steps, and after the last, write a checkpoint that resumes the run
  // exactly into checkpoint_dir (checkpoints.h); 0: none.
  int64_t checkpoint_every = 0;
  std::string checkpoint_dir;
  // A checkpoint's weights file (checkpoints.h) to go on from: the run starts at the step
  // the checkpoint was written after. Excludes load_path.
  std::string resume_path;
  // Where to write the starting weights (init.safetensors) and every training batch
  // (step_NNN.safetensors: tokens, mask, pos_index, pos_weight, labels, weights), so that
  // another implementation can replay the run (bench/naflex_torch_peer.py --replay).
  // Empty: nothing written.
  std::string dump_dir;
  // Training batches made ahead on a background thread while the steps run (0: each
  // made by the training thread when its step comes; -1: 2 when kiln's threads leave a
  // core free for it, else 0, since on busy cores it only slows the step down).
  int prefetch_batches = -1;
  // Compile every bucket before training (the normal case; off only to test that the
  // run then compiles during training instead).
  bool precompile = true;
};

// One training step's figures.
struct StepRecord {
  int64_t step = 0;  // counted from the start of the run, resumed or not
  int64_t bucket = 0;
  int64_t batch_size = 0;
  int64_t valid_tokens = 0;
  int64_t total_tokens = 0;  // batch_size * bucket: valid plus padding
  double loss = 0;
  double lr = 0;
  double grad_norm = 0;      // the gradients' total norm before clipping (0: no clipping)
  double seconds = 0;        // trace + compile (if any) + run of the step
  double data_seconds = 0;   // waiting for the batch and making its tensors
  int64_t compiles = 0;      // uncached compiles so far in the run
};

struct TrainResult {
  std::vector<StepRecord> steps;
  double first_loss = 0;
  double final_loss = 0;
  // Held-out evaluation (0 samples when skipped).
  double eval_accuracy = 0;
  double eval_loss = 0;
  int64_t eval_samples = 0;
  // The same evaluation of the weights' moving average (TrainOptions::model_ema_decay).
  double ema_eval_accuracy = 0;
  double ema_eval_loss = 0;
  // Compiles by graph kind, and precompile's time per bucket for each kind.
  int64_t train_compiles = 0;
  int64_t eval_compiles = 0;
  int64_t compiles_during_training = 0;
  std::map<int64_t, double> train_compile_seconds;
  std::map<int64_t, double> eval_compile_seconds;
  double precompile_seconds = 0;
  double train_seconds = 0;  // the training loop's wall time (after precompile)
  double eval_seconds = 0;
  int64_t cache_hits = 0;
  std::shared_ptr<NaFlexViT> model;
  std::shared_ptr<kiln::optim::ModelEma> ema;  // null without model_ema_decay
};

// Called after each step with the record and the options' step count.
using StepCallback = std::function<void(const StepRecord& record, int64_t total_steps)>;

// The datasets of `options` (training stream and held-out split).
struct DataSplits {
  std::shared_ptr<Dataset> train;
  std::shared_ptr<Dataset> eval;
  std::shared_ptr<void> storage;  // keeps loaded files alive
};
DataSplits MakeData(const TrainOptions& options);

// Throws kiln::Error for options that cannot run (a budget below the largest bucket, a
// largest bucket below the largest image, ...), before any work.
void ValidateOptions(const TrainOptions& options);

TrainResult Train(const TrainOptions& options, const StepCallback& on_step = nullptr);

// The held-out evaluation alone: accuracy and mean loss over the samples run.
struct EvalResult {
  double accuracy = 0;
  double loss = 0;
  int64_t samples = 0;
};
EvalResult Evaluate(NaFlexViT& model, const Dataset& data, const std::vector<int64_t>& buckets,
                    int64_t token_budget, int64_t max_batches);

// Median of `values` (0 for none).
double Median(std::vector<double> values);

}  // namespace naflex
