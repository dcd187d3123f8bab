#pragma once
// Checkpoints that resume a training run exactly. Every TrainOptions::checkpoint_every steps
// the run writes, in TrainOptions::checkpoint_dir,
//
//   checkpoint-<steps done>.safetensors        the weights, with timm's names
//   checkpoint-<steps done>.train.safetensors  AdamW's moments and step counts, the dropout
//                                              streams, the step, and the options that
//                                              decide the order of the data
//   checkpoint-<steps done>.ema.safetensors    the weights' moving average, with timm's
//                                              names (with TrainOptions::model_ema_decay)
//
// and a run given one of the weights files in TrainOptions::resume_path goes on from
// there: the same batches, learning rates and dropout masks as the run that wrote it.
//
//   naflex_vit --steps 1000 --checkpoint-every 100 --out-dir run1
//   naflex_vit --steps 1000 --resume run1/checkpoint-300.safetensors   # steps 300..999
#include <cstdint>
#include <string>

#include "examples/naflex_vit/model.h"
#include "examples/naflex_vit/trainer.h"
#include "lazy/optim_model_ema.h"
#include "lazy/optim_optimizer.h"

namespace naflex {

// <dir>/checkpoint-<steps_done>.safetensors.
std::string CheckpointPath(const std::string& dir, int64_t steps_done);
// The training state beside a weights file: "x.safetensors" -> "x.train.safetensors".
std::string TrainingStatePath(const std::string& weights_path);
// The weights' average beside a weights file: "x.safetensors" -> "x.ema.safetensors".
std::string EmaPath(const std::string& weights_path);

// Writes the checkpoint of a run (with `options`) after `steps_done` steps; `ema`, when
// not null, is the run's weight average.
void SaveCheckpoint(const std::string& dir, int64_t steps_done, const NaFlexViT& model,
                    const kiln::optim::Optimizer& optimizer, const kiln::optim::ModelEma* ema,
                    const TrainOptions& options);

// Loads the checkpoint whose weights are at `weights_path` into `model`, `optimizer` and
// `ema` (when not null: the checkpoint must have an average) and returns its steps done. Throws
// kiln::Error when a file does not fit the model or the optimizer, when the checkpoint was written
// by a run whose data came in another order (seed, data, buckets, token budget, patch or grid sides
// differ), or when it is at options.steps or later.
int64_t ResumeFromCheckpoint(const std::string& weights_path, NaFlexViT& model,
                             kiln::optim::Optimizer& optimizer, kiln::optim::ModelEma* ema,
                             const TrainOptions& options);

}  // namespace naflex
