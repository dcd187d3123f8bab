// The NaFlex training loop on a tiny configuration: one compile per bucket and graph
// kind, all before the first step (so KILN_ERROR_ON_RECOMPILE=1 passes and KILN_DEBUG=1
// explains exactly those compiles), the loss falls, and the reports and flags work.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "examples/naflex_vit/batch_prefetcher.h"
#include "examples/naflex_vit/checkpoints.h"
#include "examples/naflex_vit/flags.h"
#include "examples/naflex_vit/procedural_data.h"
#include "examples/naflex_vit/report.h"
#include "examples/naflex_vit/trainer.h"
#include "lazy/bucketing.h"
#include "lazy/graph_executor.h"
#include "lazy/safetensors.h"
#include "tests/examples/naflex_test_util.h"
#include "tests/lazy/op_test_util.h"
#include "util/config.h"
#include "util/error.h"
#include "util/json.h"
#include "util/metrics.h"

namespace naflex {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

using ::kiln::testing::ErrorOf;

int CountOf(const std::string& text, const std::string& what) {
  int n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

class NaFlexTrainTest : public ::testing::Test {
 protected:
  void SetUp() override {
    cfg_->debug = 0;
    cfg_->error_on_recompile = false;
    kiln::metrics::reset();
    kiln::clear_compile_cache();
  }
  kiln::ScopedConfigOverride cfg_;
};

TEST_F(NaFlexTrainTest, CompilesEachBucketOnceBeforeTrainingAndLearns) {
  cfg_->error_on_recompile = true;  // any compile after precompile would throw
  cfg_->debug = 1;
  const TrainOptions options = testing::TinyOptions();
  ::testing::internal::CaptureStderr();
  const TrainResult r = Train(options);
  const std::string log = ::testing::internal::GetCapturedStderr();

  std::set<int64_t> used;
  for (const StepRecord& s : r.steps) used.insert(s.bucket);
  EXPECT_EQ(used, (std::set<int64_t>{32, 64}));  // mixed buckets
  EXPECT_EQ(r.train_compiles, 2);  // one training graph per bucket
  EXPECT_EQ(r.eval_compiles, 2);   // one evaluation graph per bucket
  EXPECT_EQ(r.compiles_during_training, 0);
  EXPECT_EQ(r.steps.back().compiles, 4);  // all before step 0
  EXPECT_EQ(kiln::metrics::counter("UncachedCompile"), 4);
  // KILN_DEBUG=1: one explained compile per bucket and graph kind, and nothing more.
  EXPECT_EQ(CountOf(log, "kiln: compile #"), 4) << log;
  EXPECT_EQ(CountOf(log, "recompile storm"), 0) << log;
  EXPECT_EQ(CountOf(log, "implicit barrier"), 0) << log;
  EXPECT_THAT(kiln::bucket_report(), HasSubstr("32"));

  ASSERT_EQ(r.steps.size(), 40u);
  double first = 0, last = 0;
  for (int i = 0; i < 8; ++i) {
    first += r.steps[static_cast<size_t>(i)].loss / 8;
    last += r.steps[r.steps.size() - 1 - static_cast<size_t>(i)].loss / 8;
  }
  EXPECT_NEAR(r.first_loss, std::log(10.0), 0.3);  // chance level at the start
  EXPECT_LT(last, first - 0.2) << "first " << first << " last " << last;
  EXPECT_GT(r.eval_samples, 0);
  EXPECT_GE(r.eval_accuracy, 0.0);
  EXPECT_LE(r.eval_accuracy, 1.0);
  EXPECT_GT(r.cache_hits, 40 - 1);  // every training step and evaluation batch

  // Per-step CSV and the loss curve, written by our own code.
  const std::string csv = StepsCsv(r.steps);
  EXPECT_THAT(csv, StartsWith("step,bucket,batch_size,valid_tokens,padded_tokens,loss,lr,"));
  EXPECT_EQ(CountOf(csv, "\n"), 41);
  const std::string svg = LossCurveSvg(r.steps);
  EXPECT_THAT(svg, StartsWith("<svg xmlns=\"http://www.w3.org/2000/svg\""));
  EXPECT_EQ(CountOf(svg, "<polyline"), 2);
  const size_t points = svg.find("points=\"");
  EXPECT_EQ(CountOf(svg.substr(points, svg.find('"', points + 8) - points), ","), 40);
  EXPECT_THAT(svg, HasSubstr("</svg>\n"));
  const std::filesystem::path dir = std::filesystem::temp_directory_path() / "kiln_naflex_test";
  std::filesystem::create_directories(dir);
  WriteTextFile((dir / "train_log.csv").string(), csv);
  std::ifstream in(dir / "train_log.csv");
  std::stringstream back;
  back << in.rdbuf();
  EXPECT_EQ(back.str(), csv);
  std::filesystem::remove_all(dir);

  // The --bench line is one JSON object with the figures.
  absl::StatusOr<kiln::Json> bench = kiln::Json::Parse(BenchJson(r));
  ASSERT_TRUE(bench.ok()) << bench.status();
  EXPECT_EQ(bench->Find("compiles")->integer(), 4);
  EXPECT_EQ(bench->Find("compiles_during_training")->integer(), 0);
  EXPECT_GT(bench->Find("tokens_per_s_padded")->number(), bench->Find("tokens_per_s_valid")->number());
  EXPECT_GT(bench->Find("padding_fraction")->number(), 0.0);
  EXPECT_LT(bench->Find("padding_fraction")->number(), 1.0);
  EXPECT_EQ(bench->Find("first_loss")->number(), r.first_loss);
}

// --dropout, --attn-dropout and --drop-path: the masks are drawn inside the graph, so training
// compiles nothing after precompile; evaluation runs without them, so it is deterministic.
TEST_F(NaFlexTrainTest, DropoutAndDropPathCompileNothingMoreAndStayOutOfEvaluation) {
  cfg_->error_on_recompile = true;
  TrainOptions options = testing::TinyRegularisedOptions();
  options.steps = 6;
  const TrainResult r = Train(options);
  EXPECT_EQ(r.train_compiles, 2);
  EXPECT_EQ(r.eval_compiles, 2);
  EXPECT_EQ(r.compiles_during_training, 0);
  EXPECT_TRUE(r.model->is_training());  // back in training mode after evaluating
  const ProceduralDataset data({.seed = 3, .stream = 2, .patch = 4, .min_side = 4, .max_side = 8});
  const EvalResult a = Evaluate(*r.model, data, options.buckets, options.token_budget, 2);
  const EvalResult b = Evaluate(*r.model, data, options.buckets, options.token_budget, 2);
  EXPECT_GT(a.samples, 0);
  EXPECT_EQ(a.loss, b.loss);
  EXPECT_EQ(a.accuracy, b.accuracy);
}

TEST_F(NaFlexTrainTest, WithoutPrecompileTheErrorFlagCatchesTheSecondBucket) {
  cfg_->error_on_recompile = true;
  TrainOptions options = testing::TinyOptions();
  options.precompile = false;
  options.steps = 8;
  options.eval_batches = 0;
  EXPECT_THAT(ErrorOf([&] { Train(options); }),
              HasSubstr("recompile with KILN_ERROR_ON_RECOMPILE=1: same graph structure"));
}

// --dump-batches: the starting weights (the state_dict before step 0) and each step's
// batch, readable back, with the shapes of the bucket the step ran.
TEST_F(NaFlexTrainTest, DumpWritesTheStartingWeightsAndEveryBatch) {
  const std::filesystem::path dir =
      std::filesystem::temp_directory_path() / ("naflex_dump_" + std::to_string(getpid()));
  TrainOptions options = testing::TinyOptions();
  options.steps = 3;
  options.eval_batches = 0;
  options.dump_dir = dir.string();
  const TrainResult r = Train(options);
  const kiln::TensorMap init = kiln::load_safetensors((dir / "init.safetensors").string());
  EXPECT_EQ(init.size(), r.model->state_dict().size());
  EXPECT_EQ(init.count("blocks.0.attn.qkv.weight"), 1u);
  for (const StepRecord& s : r.steps) {
    char name[32];
    std::snprintf(name, sizeof(name), "step_%03d.safetensors", static_cast<int>(s.step));
    const kiln::TensorMap batch = kiln::load_safetensors((dir / name).string());
    ASSERT_EQ(batch.size(), 6u) << name;
    const auto tokens = batch.at("tokens").sizes();
    EXPECT_EQ(tokens[0], s.batch_size) << name;
    EXPECT_EQ(tokens[1], s.bucket) << name;
    EXPECT_EQ(batch.at("mask").dtype(), kiln::DType::kBool) << name;
    int64_t valid = 0;
    for (bool v : batch.at("mask").to_vector<bool>()) valid += v;
    EXPECT_EQ(valid, s.valid_tokens) << name;
  }
  EXPECT_FALSE(std::filesystem::exists(dir / "step_003.safetensors"));
  std::filesystem::remove_all(dir);
}

// Batches made ahead on a background thread are the batches the step would have made:
// the run is the same, step by step, bit for bit.
TEST_F(NaFlexTrainTest, PrefetchedBatchesGiveTheSameRun) {
  TrainOptions options = testing::TinyOptions();
  options.steps = 6;
  options.eval_batches = 0;
  options.prefetch_batches = 0;
  const TrainResult inline_batches = Train(options);
  options.prefetch_batches = 2;
  const TrainResult prefetched = Train(options);
  ASSERT_EQ(prefetched.steps.size(), inline_batches.steps.size());
  for (size_t i = 0; i < prefetched.steps.size(); ++i) {
    EXPECT_EQ(prefetched.steps[i].bucket, inline_batches.steps[i].bucket) << i;
    EXPECT_EQ(prefetched.steps[i].valid_tokens, inline_batches.steps[i].valid_tokens) << i;
    EXPECT_EQ(prefetched.steps[i].loss, inline_batches.steps[i].loss) << i;
  }
}

// Dropout masks are drawn from the modules' streams, which precompile leaves alone: a run
// with regularisation is the same with and without precompile.
TEST_F(NaFlexTrainTest, PrecompileLeavesARunWithDropoutAsItWas) {
  TrainOptions options = testing::TinyRegularisedOptions();
  options.steps = 4;
  options.eval_batches = 0;
  const TrainResult precompiled = Train(options);
  options.precompile = false;
  const TrainResult traced_in_the_run = Train(options);
  ASSERT_EQ(precompiled.steps.size(), traced_in_the_run.steps.size());
  for (size_t i = 0; i < precompiled.steps.size(); ++i) {
    EXPECT_EQ(precompiled.steps[i].loss, traced_in_the_run.steps[i].loss) << i;
  }
}

// --clip-grad and --model-ema: clipping and the weights' average run inside each step's
// graph (no compile after precompile); the norm recorded is the gradients' before clipping;
// the average is evaluated after training beside the weights.
TEST_F(NaFlexTrainTest, ClippingAndTheWeightAverageRunInTheStepsGraph) {
  cfg_->error_on_recompile = true;
  TrainOptions options = testing::TinyOptions();
  options.steps = 4;
  options.eval_batches = 0;
  const TrainResult plain = Train(options);
  options.clip_grad = 1e9;  // never reached: the run is the plain one
  const TrainResult loose = Train(options);
  options.clip_grad = 1e-3;
  options.model_ema_decay = 0.5;
  options.eval_batches = 2;
  const TrainResult tight = Train(options);
  EXPECT_EQ(tight.train_compiles, 2);
  EXPECT_EQ(tight.compiles_during_training, 0);
  for (size_t i = 0; i < plain.steps.size(); ++i) {
    EXPECT_EQ(loose.steps[i].loss, plain.steps[i].loss) << i;
    EXPECT_EQ(plain.steps[i].grad_norm, 0) << i;
    EXPECT_GT(loose.steps[i].grad_norm, 1e-3) << i;
  }
  // The same first step before the update; clipped updates from then on.
  EXPECT_EQ(tight.steps[0].loss, plain.steps[0].loss);
  EXPECT_EQ(tight.steps[0].grad_norm, loose.steps[0].grad_norm);
  EXPECT_NE(tight.steps[3].loss, plain.steps[3].loss);

  ASSERT_NE(tight.ema, nullptr);
  EXPECT_EQ(plain.ema, nullptr);
  const kiln::StateDict weights = tight.model->state_dict();
  const std::vector<float> average = tight.ema->state_dict().at("head.weight").to_vector<float>();
  EXPECT_NE(average, weights.at("head.weight").to_vector<float>());
  EXPECT_GE(tight.ema_eval_accuracy, 0.0);
  EXPECT_LE(tight.ema_eval_accuracy, 1.0);
  EXPECT_GT(tight.ema_eval_loss, 0.0);
  EXPECT_NE(tight.ema_eval_loss, tight.eval_loss);
  // Evaluating the average left the trained weights as they were.
  EXPECT_EQ(tight.model->state_dict().at("head.weight").to_vector<float>(),
            weights.at("head.weight").to_vector<float>());
}

std::vector<std::vector<float>> Weights(const NaFlexViT& model) {
  std::vector<std::vector<float>> out;
  for (const kiln::Tensor& p : model.parameters()) out.push_back(p.to_vector<float>());
  return out;
}

// --checkpoint-every and --resume: a run stopped at a checkpoint and resumed goes on with
// the batches, learning rates and dropout masks of the run that did not stop, bit for bit.
TEST_F(NaFlexTrainTest, AResumedRunIsTheRunThatDidNotStop) {
  const std::filesystem::path dir =
      std::filesystem::temp_directory_path() / ("naflex_resume_" + std::to_string(getpid()));
  TrainOptions options = testing::TinyRegularisedOptions();
  options.steps = 7;
  options.eval_batches = 0;
  options.clip_grad = 1.0;
  options.model_ema_decay = 0.9;
  options.checkpoint_every = 3;
  options.checkpoint_dir = dir.string();
  const TrainResult whole = Train(options);
  for (const int64_t steps : {3, 6, 7}) {  // every 3 steps, and after the last
    const std::string weights = CheckpointPath(dir.string(), steps);
    EXPECT_TRUE(std::filesystem::exists(weights)) << steps;
    EXPECT_TRUE(std::filesystem::exists(TrainingStatePath(weights))) << steps;
    EXPECT_TRUE(std::filesystem::exists(EmaPath(weights))) << steps;
  }
  EXPECT_FALSE(std::filesystem::exists(CheckpointPath(dir.string(), 4)));
  // The weights file is the model's state_dict alone, loadable as any checkpoint.
  EXPECT_EQ(kiln::load_safetensors(CheckpointPath(dir.string(), 3)).size(),
            whole.model->state_dict().size());

  options.checkpoint_every = 0;
  options.resume_path = CheckpointPath(dir.string(), 3);
  const int64_t compiles = kiln::metrics::counter("UncachedCompile");
  const TrainResult resumed = Train(options);
  EXPECT_EQ(kiln::metrics::counter("UncachedCompile"), compiles);  // every graph cached
  ASSERT_EQ(resumed.steps.size(), 4u);
  for (size_t i = 0; i < resumed.steps.size(); ++i) {
    const StepRecord& a = resumed.steps[i];
    const StepRecord& b = whole.steps[i + 3];
    EXPECT_EQ(a.step, b.step);
    EXPECT_EQ(a.bucket, b.bucket) << a.step;
    EXPECT_EQ(a.valid_tokens, b.valid_tokens) << a.step;
    EXPECT_EQ(a.lr, b.lr) << a.step;
    EXPECT_EQ(a.loss, b.loss) << a.step;
  }
  EXPECT_EQ(Weights(*resumed.model), Weights(*whole.model));
  for (const auto& [name, average] : whole.ema->state_dict()) {
    EXPECT_EQ(resumed.ema->state_dict().at(name).to_vector<float>(), average.to_vector<float>())
        << name;
  }

  // A run whose data would come in another order, or that has nothing left, is refused.
  TrainOptions other_seed = options;
  other_seed.seed = 5;
  EXPECT_THAT(ErrorOf([&] { Train(other_seed); }),
              HasSubstr("written by a run with seed 0, data procedural, buckets 32,64, token "
                        "budget 512, patch 4, sides 4..8; this run has seed 5"));
  TrainOptions finished = options;
  finished.resume_path = CheckpointPath(dir.string(), 7);
  EXPECT_THAT(ErrorOf([&] { Train(finished); }),
              HasSubstr("the checkpoint is at step 7, nothing is left of a run of 7 steps"));
  std::filesystem::remove(TrainingStatePath(CheckpointPath(dir.string(), 6)));
  TrainOptions no_state = options;
  no_state.resume_path = CheckpointPath(dir.string(), 6);
  EXPECT_THAT(ErrorOf([&] { Train(no_state); }), HasSubstr("checkpoint-6.train.safetensors"));
  std::filesystem::remove(EmaPath(CheckpointPath(dir.string(), 3)));
  EXPECT_THAT(ErrorOf([&] { Train(options); }), HasSubstr("checkpoint-3.ema.safetensors"));
  TrainOptions both = options;
  both.load_path = CheckpointPath(dir.string(), 3);
  EXPECT_THAT(ErrorOf([&] { Train(both); }),
              HasSubstr("either resumes a checkpoint or starts from loaded weights"));
  std::filesystem::remove_all(dir);
}

TEST(BatchPrefetcherTest, KeepsTheOrderAndRethrowsWhatMakingThrew) {
  int made = 0;
  BatchPrefetcher prefetcher(
      [&] {
        if (made == 3) throw kiln::Error("no more images");
        HostBatch batch;
        batch.bucket = 64 * ++made;
        return batch;
      },
      2);
  EXPECT_EQ(prefetcher.Pop().bucket, 64);
  EXPECT_EQ(prefetcher.Pop().bucket, 128);
  EXPECT_EQ(prefetcher.Pop().bucket, 192);
  EXPECT_THAT(ErrorOf([&] { prefetcher.Pop(); }), HasSubstr("no more images"));
}

// Destroyed while batches wait and while one is being made: it stops without a hang.
TEST(BatchPrefetcherTest, StopsWhenDestroyedEarly) {
  std::atomic<int> made{0};
  {
    BatchPrefetcher prefetcher(
        [&] {
          ++made;
          return HostBatch{};
        },
        3);
    prefetcher.Pop();
  }
  EXPECT_GE(made.load(), 1);
  EXPECT_LE(made.load(), 4);
}

TEST(NaFlexFlagsTest, ParsesEveryFlag) {
  const CliOptions o = ParseFlags(std::vector<std::string>{"--steps",
                                                           "12",
                                                           "--buckets=128",
                                                           "--token-budget",
                                                           "2048",
                                                           "--lr",
                                                           "5e-4",
                                                           "--seed",
                                                           "3",
                                                           "--data",
                                                           "fashion-mnist",
                                                           "--eval-batches",
                                                           "0",
                                                           "--device",
                                                           "interp",
                                                           "--threads",
                                                           "2",
                                                           "--save",
                                                           "a.safetensors",
                                                           "--load",
                                                           "b.safetensors",
                                                           "--out-dir",
                                                           "out",
                                                           "--bench",
                                                           "--dump-batches",
                                                           "dump",
                                                           "--prefetch",
                                                           "0",
                                                           "--dropout",
                                                           "0.1",
                                                           "--drop-path=0.2",
                                                           "--attn-dropout",
                                                           "0.05",
                                                           "--checkpoint-every",
                                                           "50",
                                                           "--resume",
                                                           "out/checkpoint-100.safetensors",
                                                           "--clip-grad",
                                                           "1.5",
                                                           "--model-ema",
                                                           "0.99"});
  EXPECT_EQ(o.train.steps, 12);
  EXPECT_EQ(o.train.buckets, (std::vector<int64_t>{128}));
  EXPECT_EQ(o.train.token_budget, 2048);
  EXPECT_EQ(o.train.lr, 5e-4);
  EXPECT_EQ(o.train.seed, 3u);
  EXPECT_EQ(o.train.data, "fashion-mnist");
  EXPECT_EQ(o.train.eval_batches, 0);
  EXPECT_EQ(o.device, "interp");
  EXPECT_EQ(o.threads, 2);
  EXPECT_EQ(o.save_path, "a.safetensors");
  EXPECT_EQ(o.train.load_path, "b.safetensors");
  EXPECT_EQ(o.train.dump_dir, "dump");
  EXPECT_EQ(o.train.prefetch_batches, 0);
  EXPECT_EQ(o.train.model.dropout, 0.1);
  EXPECT_EQ(o.train.model.drop_path, 0.2);
  EXPECT_EQ(o.train.model.attn_dropout, 0.05);
  EXPECT_EQ(o.out_dir, "out");
  EXPECT_EQ(o.train.clip_grad, 1.5);
  EXPECT_EQ(o.train.model_ema_decay, 0.99);
  EXPECT_EQ(o.train.checkpoint_every, 50);
  EXPECT_EQ(o.train.checkpoint_dir, "out");
  EXPECT_EQ(o.train.resume_path, "out/checkpoint-100.safetensors");
  EXPECT_EQ(TrainingStatePath(o.train.resume_path), "out/checkpoint-100.train.safetensors");
  EXPECT_TRUE(o.bench);
  const CliOptions defaults = ParseFlags(std::vector<std::string>{});
  EXPECT_EQ(defaults.train.buckets, (std::vector<int64_t>{64, 128, 256}));
  EXPECT_EQ(defaults.train.token_budget, 4096);
  EXPECT_EQ(defaults.train.lr, 1e-3);
}

TEST(NaFlexFlagsTest, ErrorsNameTheFlagAndWhatWasExpected) {
  const auto error = [](std::vector<std::string> args) {
    return ErrorOf([&] { ParseFlags(args); });
  };
  EXPECT_EQ(error({"--steps", "ten"}), "--steps: expected a positive integer, got 'ten'");
  EXPECT_EQ(error({"--steps", "0"}), "--steps: expected a positive integer, got '0'");
  EXPECT_EQ(error({"--steps"}), "--steps: missing value");
  EXPECT_EQ(error({"--buckets", "64,,128"}),
            "--buckets: expected a comma-separated list of positive lengths (e.g. 64,128,256), "
            "got '64,,128'");
  EXPECT_EQ(error({"--lr", "-1"}), "--lr: expected a positive number, got '-1'");
  EXPECT_EQ(error({"--drop-path", "1"}), "--drop-path: expected a rate in [0, 1), got '1'");
  EXPECT_EQ(error({"--dropout", "x"}), "--dropout: expected a rate in [0, 1), got 'x'");
  EXPECT_EQ(error({"--data", "imagenet"}),
            "--data: expected procedural or fashion-mnist, got 'imagenet'");
  EXPECT_EQ(error({"--bench=yes"}), "--bench: takes no value, got 'yes'");
  EXPECT_EQ(error({"--model-ema", "1"}), "--model-ema: expected a rate in [0, 1), got '1'");
  EXPECT_EQ(error({"--clip-grad", "0"}), "--clip-grad: expected a positive number, got '0'");
  EXPECT_EQ(error({"--checkpoint-every", "0"}),
            "--checkpoint-every: expected a positive integer, got '0'");
  EXPECT_EQ(error({"--frobnicate"}), "unknown flag '--frobnicate' (see --help)");
  EXPECT_EQ(error({"steps"}), "unexpected argument 'steps' (flags start with --; see --help)");
  EXPECT_THAT(Usage(), HasSubstr("--token-budget N"));

  TrainOptions o;
  o.token_budget = 100;
  EXPECT_EQ(ErrorOf([&] { ValidateOptions(o); }),
            "token budget 100 is smaller than the largest bucket 256: no batch would hold even "
            "one sample");
  o = TrainOptions();
  o.buckets = {8};
  EXPECT_EQ(ErrorOf([&] { ValidateOptions(o); }),
            "the smallest image has 16 tokens, more than the largest bucket 8");
}

TEST(NaFlexReportTest, ProgressLineAndMedian) {
  StepRecord r;
  r.step = 9;
  r.loss = 1.23456;
  r.compiles = 6;
  EXPECT_EQ(ProgressLine(r, 0, 100, 20.0, 4012.4),
            "step 10/100  loss 1.2346  4012 tok/s  compiles 6  ETA 3m00s");
  // Resumed at step 5: 5 steps in 20 s, 90 to go.
  EXPECT_EQ(ProgressLine(r, 5, 100, 20.0, 4012.4),
            "step 10/100  loss 1.2346  4012 tok/s  compiles 6  ETA 6m00s");
  EXPECT_EQ(Median({3, 1, 2}), 2);
  EXPECT_EQ(Median({4, 1, 2, 3}), 2.5);
  EXPECT_EQ(Median({}), 0);
}

}  // namespace
}  // namespace naflex
