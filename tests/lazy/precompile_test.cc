// precompile: every bucket's training step compiles before training, leaving the model,
// the optimizer state and the gradients untouched; afterwards a run under
// KILN_ERROR_ON_RECOMPILE compiles nothing.
#include "lazy/precompile.h"

#include <cmath>
#include <cstdint>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lazy/kiln.h"
#include "util/config.h"
#include "util/error.h"
#include "util/metrics.h"

namespace kiln {
namespace {

using ::testing::HasSubstr;

constexpr int64_t kFeature = 4;
constexpr int64_t kClasses = 3;
constexpr int64_t kBudget = 16;

// Tokens [B, L, 4] -> Linear -> ReLU -> masked mean over valid tokens -> Linear -> logits.
struct TinySequenceModel {
  explicit TinySequenceModel(Generator& gen) : embed(kFeature, 8, gen), head(8, kClasses, gen) {}
  Tensor forward(const PaddedSequences& in) const {
    const Tensor valid = in.mask.to(DType::kF32).unsqueeze(2);  // [B, L, 1]
    const Tensor h = embed.forward(in.values).relu() * valid;
    const Tensor pooled = h.sum({1}) / maximum(valid.sum({1}), 1.0f);
    return head.forward(pooled);
  }
  std::vector<Tensor> parameters() const {
    return {embed.weight(), embed.bias(), head.weight(), head.bias()};
  }
  nn::Linear embed, head;
};

// A batch of bucket `bucket`: each sample's label decides the sign of its tokens.
struct SyntheticBatch {
  PaddedSequences inputs;
  Tensor labels;
};

SyntheticBatch MakeBatch(int64_t bucket, Generator& gen) {
  const int64_t batch = kBudget / bucket;
  std::vector<std::vector<float>> sequences;
  std::vector<int64_t> labels;
  for (int64_t b = 0; b < batch; ++b) {
    const int64_t label = static_cast<int64_t>(gen.NextBelow(kClasses));
    const int64_t length = bucket / 2 + static_cast<int64_t>(gen.NextBelow(bucket / 2)) + 1;
    std::vector<float> tokens(length * kFeature);
    for (int64_t t = 0; t < length * kFeature; ++t) {
      tokens[t] = (t % kFeature == label ? 1.0f : 0.0f) + 0.1f * static_cast<float>(gen.NextDouble());
    }
    sequences.push_back(std::move(tokens));
    labels.push_back(label);
  }
  return {pad_sequences(sequences, kFeature, bucket), Tensor::from_vector(labels, {batch})};
}

class PrecompileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    cfg_->debug = 0;
    cfg_->error_on_recompile = false;
    metrics::reset();
    clear_compile_cache();
  }

  // One training step; returns the loss (pending).
  Tensor Step(const SyntheticBatch& batch) {
    BucketStep stats(batch.inputs.values.size(1), batch.inputs.mask.numel(),
                     batch.inputs.mask.numel());
    opt.zero_grad();
    Tensor loss = cross_entropy(model.forward(batch.inputs), batch.labels);
    loss.backward();
    opt.step();
    mark_step();
    return loss;
  }

  std::vector<std::vector<float>> Values() {
    std::vector<std::vector<float>> v;
    for (const Tensor& p : model.parameters()) v.push_back(p.to_vector<float>());
    return v;
  }

  ScopedConfigOverride cfg_;
  Generator gen{42};
  TinySequenceModel model{gen};
  optim::AdamW opt{model.parameters(), {.lr = 0.05}};
};

TEST_F(PrecompileTest, CompilesEveryBucketAndLeavesTheModelUntouched) {
  mark_step();
  const std::vector<std::vector<float>> before = Values();
  Generator data(7);
  precompile({4, 8}, [&](int64_t bucket) { Step(MakeBatch(bucket, data)); });
  EXPECT_EQ(metrics::counter("UncachedCompile"), 2);
  EXPECT_EQ(metrics::counter("Bucket4.Compiles"), 1);
  EXPECT_EQ(metrics::counter("Bucket8.Steps"), 0);
  EXPECT_EQ(Values(), before);
  EXPECT_EQ(opt.step_count(), 0);
  EXPECT_EQ(opt.state(0, 0).step, 0);
  for (const Tensor& p : model.parameters()) {
    EXPECT_FALSE(p.is_pending());
    EXPECT_FALSE(p.grad().defined());
  }

  // Training in mixed buckets now compiles nothing, even where recompiles are errors.
  cfg_->error_on_recompile = true;
  double first_loss = 0, last_loss = 0;
  for (int i = 0; i < 30; ++i) {
    const double loss = Step(MakeBatch(i % 3 == 0 ? 8 : 4, data)).item();
    if (i == 0) first_loss = loss;
    last_loss = loss;
  }
  EXPECT_EQ(metrics::counter("UncachedCompile"), 2);
  EXPECT_EQ(metrics::counter("Bucket8.Steps"), 10);
  EXPECT_EQ(metrics::counter("Bucket4.Steps"), 20);
  EXPECT_EQ(metrics::counter("Bucket4.CacheHits"), 20);
  EXPECT_EQ(opt.step_count(), 30);
  EXPECT_LT(last_loss, first_loss * 0.5) << "first " << first_loss << ", last " << last_loss;
}

TEST_F(PrecompileTest, RestoresGradientsAndStateWhenTheStepThrows) {
  Generator data(9);
  Step(MakeBatch(4, data));  // gradients and moments now hold values
  const std::vector<std::vector<float>> before = Values();
  const std::vector<float> grad_before = model.parameters()[0].grad().to_vector<float>();
  const std::vector<float> moment_before = opt.state(0, 0).exp_avg.to_vector<float>();
  EXPECT_THROW(precompile({8},
                          [&](int64_t bucket) {
                            Step(MakeBatch(bucket, data));
                            throw Error("the step failed");
                          }),
               Error);
  EXPECT_EQ(Values(), before);
  EXPECT_EQ(model.parameters()[0].grad().to_vector<float>(), grad_before);
  EXPECT_EQ(opt.state(0, 0).exp_avg.to_vector<float>(), moment_before);
  EXPECT_EQ(opt.step_count(), 1);
  EXPECT_FALSE(precompiling());
}

TEST_F(PrecompileTest, ReadsAndPendingWorkAreRefused) {
  Generator data(3);
  try {
    precompile({4}, [&](int64_t bucket) { Step(MakeBatch(bucket, data)).item(); });
    FAIL() << "item() inside precompile must throw";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("inside kiln::precompile: no values are computed"));
  }
  EXPECT_FALSE(model.parameters()[0].is_pending());
  Tensor pending = ones({2}) * 3.0f;
  try {
    precompile({4}, [&](int64_t) {});
    FAIL() << "pending work must be refused";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("pending work; call mark_step() first"));
  }
  EXPECT_EQ(pending.to_vector<float>(), std::vector<float>({3, 3}));
}

// A step with random ops traced for precompile draws nothing from their generators, so the
// run after precompile draws the numbers it would have drawn without it.
TEST_F(PrecompileTest, RandomOpsLeaveTheirGeneratorsAsTheyWere) {
  Generator stream(8);
  const Generator::State before = stream.state();
  precompile({4, 8}, [&](int64_t bucket) {
    const Tensor x = randn({bucket, kFeature}, stream);
    const Tensor noise =
        rand_like(x, stream) + randn_like(x, stream) + normal({bucket, kFeature}, stream, 0, 2) +
        trunc_normal({bucket, kFeature}, stream, 0, 1, -2, 2) + rand({bucket, kFeature}, stream);
    Tensor y = nn::dropout(x, 0.5, stream) + nn::drop_path(x, 0.5, stream) + noise;
    mark_step();
  });
  EXPECT_EQ(metrics::counter("UncachedCompile"), 2);
  EXPECT_EQ(stream.state(), before);
  // Outside precompile the same ops draw as usual.
  const Tensor x = randn({4, kFeature}, stream);
  const Tensor y = nn::dropout(x, 0.5, stream);
  EXPECT_NE(stream.state(), before);
}

}  // namespace
}  // namespace kiln
