#include "examples/naflex_vit/checkpoints.h"

#include <filesystem>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "lazy/safetensors.h"
#include "util/error.h"

namespace naflex {
namespace {

using kiln::Error;

constexpr char kWeightsSuffix[] = ".safetensors";

// The options that decide which batches come at which step: a resumed run must agree on
// them for its data to go on where the checkpoint's run stopped.
std::string DataOrder(const TrainOptions& options) {
  return absl::StrCat("seed ", options.seed, ", data ", options.data, ", buckets ",
                      absl::StrJoin(options.buckets, ","), ", token budget ", options.token_budget,
                      ", patch ", options.patch, ", sides ", options.min_side, "..",
                      options.max_side);
}

// "x.safetensors" -> "x<kind>.safetensors".
std::string Beside(const std::string& weights_path, const char* kind) {
  std::string stem = weights_path;
  if (absl::EndsWith(stem, kWeightsSuffix)) stem.resize(stem.size() - (sizeof(kWeightsSuffix) - 1));
  return absl::StrCat(stem, kind, kWeightsSuffix);
}

}  // namespace

std::string CheckpointPath(const std::string& dir, int64_t steps_done) {
  return (std::filesystem::path(dir) / absl::StrCat("checkpoint-", steps_done, kWeightsSuffix))
      .string();
}

std::string TrainingStatePath(const std::string& weights_path) {
  return Beside(weights_path, ".train");
}

std::string EmaPath(const std::string& weights_path) { return Beside(weights_path, ".ema"); }

void SaveCheckpoint(const std::string& dir, int64_t steps_done, const NaFlexViT& model,
                    const kiln::optim::Optimizer& optimizer, const kiln::optim::ModelEma* ema,
                    const TrainOptions& options) {
  std::filesystem::create_directories(dir);
  const std::string path = CheckpointPath(dir, steps_done);
  const std::string steps = absl::StrCat(steps_done);
  kiln::save_checkpoint(path, model, {{"steps", steps}});
  kiln::save_training_state(TrainingStatePath(path), model, optimizer,
                            {{"steps", steps}, {"data_order", DataOrder(options)}});
  if (ema != nullptr) kiln::save_safetensors(EmaPath(path), ema->state_dict(), {{"steps", steps}});
}

int64_t ResumeFromCheckpoint(const std::string& weights_path, NaFlexViT& model,
                             kiln::optim::Optimizer& optimizer, kiln::optim::ModelEma* ema,
                             const TrainOptions& options) {
  const std::string state_path = TrainingStatePath(weights_path);
  kiln::SafetensorsMetadata metadata;
  kiln::load_training_state(state_path, model, optimizer, &metadata);
  int64_t steps_done = 0;
  if (!metadata.contains("steps") || !absl::SimpleAtoi(metadata["steps"], &steps_done) ||
      steps_done < 0) {
    throw Error(absl::StrCat(state_path,
                             ": no step count in the metadata (not a checkpoint "
                             "written by naflex_vit --checkpoint-every)"));
  }
  if (metadata["data_order"] != DataOrder(options)) {
    throw Error(absl::StrCat(state_path, ": written by a run with ", metadata["data_order"],
                             "; this run has ", DataOrder(options),
                             ", so its batches would not be the ones that run goes on with"));
  }
  if (steps_done >= options.steps) {
    throw Error(absl::StrCat(weights_path, ": the checkpoint is at step ", steps_done,
                             ", nothing is left of a run of ", options.steps, " steps"));
  }
  kiln::load_checkpoint(weights_path, model);
  if (ema != nullptr) {
    const std::string ema_path = EmaPath(weights_path);
    const kiln::TensorMap averages = kiln::load_safetensors(ema_path);  // errors name the file
    try {
      ema->load_state_dict(averages);
    } catch (const Error& e) {
      throw Error(absl::StrCat(ema_path, ": ", e.what()));
    }
  }
  return steps_done;
}

}  // namespace naflex
