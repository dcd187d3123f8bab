// Quickstart: train a small MLP classifier with autograd, AdamW and a learning-rate
// schedule, written against the lazy API.
//
// Every step traces the same graph (forward, backward, optimizer update) and ends with
// kiln::mark_step(). The first step compiles; the other steps hit the compile cache,
// even though the learning rate changes every step (it is a runtime scalar).
#include <cstdio>
#include <vector>

#include "lazy/kiln.h"

int main() {
  constexpr int64_t kSamples = 512, kSteps = 200;
  kiln::Generator gen(0);

  // Points in [-1, 1]^2, labelled by the XOR of their coordinates' signs.
  std::vector<float> points = (kiln::rand({kSamples, 2}, gen) * 2.0 - 1.0).to_vector<float>();
  std::vector<int64_t> labels(kSamples);
  for (int64_t i = 0; i < kSamples; ++i) {
    labels[i] = (points[2 * i] > 0) != (points[2 * i + 1] > 0);
  }
  const kiln::Tensor x = kiln::Tensor::from_vector<float>(points, {kSamples, 2});
  const kiln::Tensor y = kiln::Tensor::from_vector<int64_t>(labels, {kSamples});

  kiln::nn::MLP model(/*in=*/2, /*hidden=*/32, /*out=*/2, gen);
  for (const kiln::Tensor& p : model.parameters()) {
    if (p.dim() == 2) kiln::nn::init::normal_(p, 0.0, 0.7, gen);  // wide init for 2 inputs
  }
  kiln::optim::AdamW opt(kiln::optim::DecayGroupsByRank(model.named_parameters(), 1e-4));
  const kiln::optim::LrSchedule schedule =
      kiln::optim::WarmupCosineSchedule(/*peak_lr=*/0.03, /*warmup_steps=*/10, kSteps, 1e-4);

  for (int64_t step = 0; step < kSteps; ++step) {
    opt.set_lr(schedule(step));  // a new value every step, never a recompile
    opt.zero_grad();
    kiln::Tensor loss = kiln::cross_entropy(model.forward(x), y);
    loss.backward();    // records the gradients as lazy ops
    opt.step();         // records the update; parameters keep their identity
    kiln::mark_step();  // forward, backward and update run here, as one graph
    if (step % 20 == 0 || step == kSteps - 1) {
      std::printf("step %3lld  lr %.5f  loss %.4f\n", static_cast<long long>(step), schedule(step),
                  loss.item());
    }
  }

  kiln::NoGradGuard no_grad;
  const kiln::Tensor correct = kiln::eq(kiln::argmax(model.forward(x), 1), y);
  const double accuracy = kiln::cast(correct, kiln::DType::kF32).mean().item();
  std::printf("accuracy %.3f\n", accuracy);
  std::printf("compiles %lld, cache hits %lld\n\n%s",
              static_cast<long long>(kiln::metrics::counter("UncachedCompile")),
              static_cast<long long>(kiln::metrics::counter("CachedCompile")),
              kiln::metrics::report().c_str());
  return accuracy > 0.9 ? 0 : 1;
}
