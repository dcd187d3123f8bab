#pragma once
// Batch normalisation (torch.nn.functional.batch_norm, torch.nn.BatchNorm1d / 2d): each
// channel normalised by the batch's statistics while training, by running averages of
// them in evaluation. The running averages are updated inside the step's graph, so a
// training step with batch norm still compiles once.
//
//   nn::BatchNorm2d bn(64);            // weight 1, bias 0; running_mean 0, running_var 1
//   Tensor y = bn.forward(x);          // x [N, 64, H, W]
//   bn.eval();                         // from now on the running averages
#include <cstdint>
#include <optional>
#include <vector>

#include "lazy/nn_module.h"
#include "lazy/tensor.h"

namespace kiln::nn {

// x [N, C, ...] normalised per channel: (x - mean) / sqrt(var + eps) * weight + bias, with
// weight, bias, running_mean and running_var [C] (each may be undefined).
// - training (or no running statistics): mean and the biased var over every dimension but
//   the channel's, from x, with their gradients. running_mean and running_var, when
//   defined, become (1 - momentum) running + momentum stat (the unbiased variance), as
//   torch's: the update is recorded on the two tensors (Tensor::assign_, no gradient).
//   More than one value per channel is needed.
// - otherwise: running_mean and running_var.
// Floating operands of one dtype.
Tensor batch_norm(const Tensor& x, Tensor running_mean, Tensor running_var,
                  const Tensor& weight = Tensor(), const Tensor& bias = Tensor(),
                  bool training = false, double momentum = 0.1, double eps = 1e-5,
                  CallSite site = {});

struct BatchNormOptions {
  double eps = 1e-5;
  // The running averages' update rate; absent: their cumulative average over every
  // training batch so far (1 / num_batches_tracked).
  std::optional<double> momentum = 0.1;
  bool affine = true;  // parameters "weight" (ones) and "bias" (zeros)
  // Buffers "running_mean" (zeros), "running_var" (ones) and "num_batches_tracked" (i64
  // 0-d, counting training batches); without them the batch's statistics are used in
  // evaluation too.
  bool track_running_stats = true;
};

// BatchNorm1d's and BatchNorm2d's shared parts.
class BatchNorm : public Module {
 public:
  // batch_norm with the module's parameters and buffers, training as the module is. In
  // training mode (with track_running_stats) it records the running averages' update and
  // num_batches_tracked + 1 on the buffers, as torch's.
  Tensor forward(const Tensor& x, CallSite site = {});

  // Undefined without affine (weight, bias) or track_running_stats (the others).
  const Tensor& weight() const { return weight_; }
  const Tensor& bias() const { return bias_; }
  const Tensor& running_mean() const { return running_mean_; }
  const Tensor& running_var() const { return running_var_; }
  const Tensor& num_batches_tracked() const { return num_batches_tracked_; }
  const BatchNormOptions& options() const { return options_; }

 protected:
  // `ranks`: the input ranks the module takes, described by `expected` ("[N, C, H, W]").
  BatchNorm(const char* type_name, std::vector<int64_t> ranks, const char* expected,
            int64_t num_features, BatchNormOptions options);

 private:
  std::vector<int64_t> ranks_;
  const char* expected_;
  int64_t num_features_;
  BatchNormOptions options_;
  Tensor weight_, bias_, running_mean_, running_var_, num_batches_tracked_;
};

// x [N, C] or [N, C, L].
class BatchNorm1d : public BatchNorm {
 public:
  explicit BatchNorm1d(int64_t num_features, BatchNormOptions options = {});
};

// x [N, C, H, W].
class BatchNorm2d : public BatchNorm {
 public:
  explicit BatchNorm2d(int64_t num_features, BatchNormOptions options = {});
};

}  // namespace kiln::nn
