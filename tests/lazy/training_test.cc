// Whole training loops on the reference backend: autograd, nn modules and optimizers
// together. A step (forward, backward, update) is one graph: it compiles once and every
// later step is a cache hit, whatever the learning rate.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <cstdint>
#include <memory>
#include <random>
#include <vector>

#include "lazy/kiln.h"

namespace kiln {
namespace {

int64_t Count(const char* name) { return metrics::counter(name); }

// Inputs and their class labels.
struct Examples {
  Tensor x;
  Tensor labels;
};

// Points in [-1, 1]^2 labelled by the XOR of their coordinates' signs: not linearly
// separable, so the MLP has to learn a hidden representation.
Examples MakeXorData(int64_t n, Generator& gen) {
  std::vector<float> points = (rand({n, 2}, gen) * 2.0 - 1.0).to_vector<float>();
  std::vector<int64_t> labels(n);
  for (int64_t i = 0; i < n; ++i) labels[i] = (points[2 * i] > 0) != (points[2 * i + 1] > 0);
  return {Tensor::from_vector<float>(points, {n, 2}), Tensor::from_vector<int64_t>(labels, {n})};
}

double Accuracy(const Tensor& logits, const Tensor& labels) {
  return mean(cast(eq(argmax(logits, 1), labels), DType::kF32)).item();
}

TEST(TrainingTest, MlpLearnsXor) {
  Generator gen(1);
  Examples data = MakeXorData(256, gen);
  nn::MLP model(2, 32, 2, gen);
  // The workload's 0.02 initialisation is too small for a 2-input net to break symmetry
  // quickly; a wider one trains in a few dozen steps.
  for (const Tensor& p : model.parameters()) {
    if (p.dim() == 2) nn::init::normal_(p, 0.0, 0.7, gen);
  }
  optim::AdamW opt(model.parameters(), {.lr = 0.03, .weight_decay = 0});
  const int64_t compiles = Count("UncachedCompile");
  double first_loss = 0, loss_value = 0;
  for (int step = 0; step < 150; ++step) {
    opt.zero_grad();
    Tensor loss = cross_entropy(model.forward(data.x), data.labels);
    loss.backward();
    opt.step();
    mark_step();
    loss_value = loss.item();
    if (step == 0) first_loss = loss_value;
  }
  EXPECT_GT(first_loss, 0.6);
  EXPECT_LT(loss_value, 0.15);
  NoGradGuard no_grad;
  EXPECT_GT(Accuracy(model.forward(data.x), data.labels), 0.95);
  // One compile for the training step, one for the evaluation above.
  EXPECT_EQ(Count("UncachedCompile") - compiles, 2);
}

// A small pre-LN transformer classifier over token sequences with padding.
class TinyTransformer : public nn::Module {
 public:
  TinyTransformer(int64_t vocab, int64_t dim, int64_t classes, Generator& gen)
      : Module("TinyTransformer") {
    embed_ = register_module("embed", std::make_shared<nn::Embedding>(vocab, dim, gen));
    blocks_ = register_module("blocks", std::make_shared<nn::ModuleList>());
    for (int i = 0; i < 2; ++i) {
      blocks_->push_back(std::make_shared<nn::TransformerBlock>(dim, /*num_heads=*/2, 2 * dim, gen,
                                                                1e-6, GeluApproximation::kTanh));
    }
    norm_ = register_module("norm", std::make_shared<nn::LayerNorm>(std::vector<int64_t>{dim}));
    head_ = register_module("head", std::make_shared<nn::Linear>(dim, classes, gen));
  }

  // tokens [B, L] (i64), valid [B, L] (bool) -> logits [B, classes]; padded tokens are
  // masked out of attention and of the mean pooling.
  Tensor forward(const Tensor& tokens, const Tensor& valid) const {
    Tensor x = embed_->forward(tokens);
    for (size_t i = 0; i < blocks_->size(); ++i) {
      x = blocks_->at<nn::TransformerBlock>(i)->forward(x, valid);
    }
    x = norm_->forward(x);
    Tensor weights = cast(valid, DType::kF32).unsqueeze(2);
    Tensor pooled = sum(x * weights, {1}) / sum(weights, {1});
    return head_->forward(pooled);
  }

 private:
  std::shared_ptr<nn::Embedding> embed_;
  std::shared_ptr<nn::ModuleList> blocks_;
  std::shared_ptr<nn::LayerNorm> norm_;
  std::shared_ptr<nn::Linear> head_;
};

struct TokenBatch {
  Tensor tokens;
  Tensor valid;
  Tensor labels;
};

// Four sequences of length 6, two with padding, with arbitrary labels to memorise.
TokenBatch MakeTokenBatch() {
  return {Tensor::from_vector<int64_t>({1, 4, 2, 7, 3, 0,  //
                                        5, 5, 1, 0, 0, 0,  //
                                        6, 2, 2, 3, 1, 4,  //
                                        0, 7, 7, 1, 0, 0},
                                       {4, 6}),
          Tensor::from_vector<bool>({1, 1, 1, 1, 1, 0,  //
                                     1, 1, 1, 0, 0, 0,  //
                                     1, 1, 1, 1, 1, 1,  //
                                     1, 1, 1, 1, 0, 0},
                                    {4, 6}),
          Tensor::from_vector<int64_t>({2, 0, 1, 2}, {4})};
}

TEST(TrainingTest, TransformerOverfitsATinyBatchInOneCompiledStep) {
  Generator gen(7);
  TinyTransformer model(/*vocab=*/8, /*dim=*/16, /*classes=*/3, gen);
  const TokenBatch batch = MakeTokenBatch();
  optim::AdamW opt(optim::DecayGroupsByRank(model.named_parameters(), 0.01), {.lr = 1e-2});
  const optim::LrSchedule schedule = optim::WarmupCosineSchedule(1e-2, 5, 60, 1e-4);

  const std::vector<Tensor> params = model.parameters();
  const int64_t compiles = Count("UncachedCompile");
  const int64_t hits = Count("CachedCompile");
  std::vector<double> losses;
  std::vector<int64_t> nodes_per_step;
  for (int step = 0; step < 60; ++step) {
    const int64_t nodes = Count("NodesTraced");
    opt.set_lr(schedule(step));
    opt.zero_grad();
    Tensor loss = cross_entropy(model.forward(batch.tokens, batch.valid), batch.labels);
    loss.backward();
    opt.step();
    mark_step();
    nodes_per_step.push_back(Count("NodesTraced") - nodes);
    losses.push_back(loss.item());  // materialised by mark_step: no extra graph
  }
  // Step 1 compiles; every later step, with its new learning rate, is a cache hit.
  EXPECT_EQ(Count("UncachedCompile") - compiles, 1);
  EXPECT_EQ(Count("CachedCompile") - hits, 59);
  EXPECT_EQ(nodes_per_step[1], nodes_per_step[59]);
  EXPECT_EQ(nodes_per_step[0], nodes_per_step[1]);
  // Parameters kept their identity through 60 in-place updates.
  const std::vector<Tensor> after = model.parameters();
  ASSERT_EQ(after.size(), params.size());
  for (size_t i = 0; i < params.size(); ++i) EXPECT_EQ(after[i].impl(), params[i].impl());

  EXPECT_GT(losses.front(), 0.8);
  EXPECT_LT(losses.back(), 0.05);
  NoGradGuard no_grad;
  EXPECT_EQ(Accuracy(model.forward(batch.tokens, batch.valid), batch.labels), 1.0);
}

// 8x8 images of stripes with a random phase, period and contrast under noise: label 0 for
// vertical stripes, 1 for horizontal ones.
Examples MakeStripes(int64_t n, std::mt19937& rng) {
  std::uniform_real_distribution<double> uniform(0, 1);
  std::normal_distribution<double> noise(0, 0.3);
  std::vector<float> pixels;
  std::vector<int64_t> labels;
  for (int64_t i = 0; i < n; ++i) {
    const int64_t label = i % 2;
    const double phase = 6.3 * uniform(rng), period = 3 + 2 * uniform(rng);
    const double contrast = 0.5 + uniform(rng);
    for (int r = 0; r < 8; ++r) {
      for (int c = 0; c < 8; ++c) {
        const double along = label == 0 ? c : r;
        pixels.push_back(contrast * std::cos(6.283 * along / period + phase) + noise(rng));
      }
    }
    labels.push_back(label);
  }
  return {Tensor::from_vector<float>(pixels, {n, 1, 8, 8}),
          Tensor::from_vector<int64_t>(labels, {n})};
}

// conv, batch norm, max pooling, group norm and global average pooling together: the
// step (with the running averages' update) compiles once, and evaluation mode, on the
// running averages, classifies new images.
TEST(TrainingTest, ConvNetWithBatchNormLearnsStripeOrientation) {
  Generator gen(5);
  std::mt19937 rng(6);
  const Examples train = MakeStripes(32, rng);
  nn::Sequential model;
  model.push_back(std::make_shared<nn::Conv2d>(1, 8, std::array<int64_t, 2>{3, 3}, gen,
                                               nn::Conv2dOptions{.padding = {1, 1}}, false));
  const auto bn = model.push_back(std::make_shared<nn::BatchNorm2d>(8));
  model.push_back(std::make_shared<nn::ReLU>());
  model.push_back(std::make_shared<nn::MaxPool2d>(std::array<int64_t, 2>{2, 2}));
  model.push_back(std::make_shared<nn::Conv2d>(8, 8, std::array<int64_t, 2>{3, 3}, gen,
                                               nn::Conv2dOptions{.padding = {1, 1}}));
  model.push_back(std::make_shared<nn::GroupNorm>(2, 8));
  model.push_back(std::make_shared<nn::ReLU>());
  model.push_back(std::make_shared<nn::AdaptiveAvgPool2d>(std::array<int64_t, 2>{1, 1}));
  model.push_back(std::make_shared<nn::Flatten>());
  model.push_back(std::make_shared<nn::Linear>(8, 2, gen));
  optim::AdamW opt(model.parameters(), {.lr = 1e-2, .weight_decay = 0});

  const int64_t compiles = Count("UncachedCompile");
  std::vector<double> losses;
  for (int step = 0; step < 40; ++step) {
    opt.zero_grad();
    Tensor loss = cross_entropy(model.forward(train.x), train.labels);
    loss.backward();
    opt.step();
    mark_step();
    losses.push_back(loss.item());
  }
  EXPECT_EQ(Count("UncachedCompile") - compiles, 1);
  EXPECT_EQ(static_cast<int64_t>(bn->num_batches_tracked().item()), 40);
  EXPECT_GT(losses.front(), 0.6);
  EXPECT_LT(losses.back(), 0.1);

  model.eval();
  NoGradGuard no_grad;
  const Examples held_out = MakeStripes(64, rng);
  EXPECT_GE(Accuracy(model.forward(held_out.x), held_out.labels), 0.9);
  EXPECT_EQ(static_cast<int64_t>(bn->num_batches_tracked().item()), 40);
}

}  // namespace
}  // namespace kiln
