#pragma once
// What the example writes and prints: the per-step CSV, the loss-curve SVG (drawn here,
// no plotting library), the --bench JSON line and the progress line.
#include <string>
#include <vector>

#include "examples/naflex_vit/trainer.h"

namespace naflex {

// Header "step,bucket,batch_size,valid_tokens,padded_tokens,loss,lr,step_ms,data_ms,
// tokens_per_s,compiles", then one line per step (padded_tokens = the batch's padding).
std::string StepsCsv(const std::vector<StepRecord>& steps);

// A standalone SVG (width x height) of loss against step: the raw loss, a running mean
// over `smooth` steps, axes with ticks and labels.
std::string LossCurveSvg(const std::vector<StepRecord>& steps, int width = 720, int height = 420,
                         int smooth = 10);

// Figures of a run, as numbers (the --bench line and the final summary both use them).
struct RunFigures {
  double valid_tokens_per_s = 0;   // real tokens per second of training-loop wall time
  double padded_tokens_per_s = 0;  // all tokens, padding included, likewise
  double median_step_ms = 0;
  double padding_fraction = 0;     // padded tokens / all tokens
};
RunFigures Figures(const TrainResult& result);

// One JSON line: tokens_per_s_valid, tokens_per_s_padded, median_step_ms, compiles,
// cache_hits, padding_fraction, first_loss, final_loss, eval_accuracy, steps.
std::string BenchJson(const TrainResult& result);

// "step 37/100  loss 1.2345  4012 tok/s  compiles 6  ETA 1m52s" (no newline), for a run
// that started (or resumed) at step `first_step` `elapsed_seconds` ago.
std::string ProgressLine(const StepRecord& record, int64_t first_step, int64_t total_steps,
                         double elapsed_seconds, double valid_tokens_per_s);

// Writes `text` to `path`; throws kiln::Error naming the path on failure.
void WriteTextFile(const std::string& path, const std::string& text);

}  // namespace naflex
