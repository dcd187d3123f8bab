#pragma once
// nn::Dropout and nn::DropPath: dropout (torch.nn.Dropout) and stochastic depth (timm's
// DropPath) as modules, so that a model's regularisation follows its train() / eval()
// mode. Neither has parameters or buffers.
//
// Each module owns its random stream, seeded at construction from the generator it is
// given, so a module needs nothing passed to its forward and outlives no one else's
// generator. The stream is registered as the module's "generator" (Module::rng_state), so
// a resumed run goes on with the masks the uninterrupted one would have drawn. A module with p = 0
// draws no seed: giving a model zero-rate dropout leaves the weights drawn from the same generator
// as they were.
#include <string_view>

#include "lazy/generator.h"
#include "lazy/nn_module.h"

namespace kiln::nn {

// Throws kiln::Error naming `module` and the rate `name` unless p is in [0, 1]: what the
// modules with dropout check before drawing anything from their generator.
void CheckDropRate(std::string_view module, std::string_view name, double p);

class Dropout : public Module {
 public:
  // p in [0, 1]; throws kiln::Error otherwise.
  Dropout(double p, Generator& gen);

  // nn::dropout(x, p) with the module's stream when training, else x itself.
  Tensor forward(const Tensor& x, CallSite site = {}) const;

  double p() const { return p_; }

 private:
  double p_;
  // Advances on every forward, as torch's global generator does.
  mutable Generator stream_;
};

class DropPath : public Module {
 public:
  // p in [0, 1]; throws kiln::Error otherwise.
  DropPath(double p, Generator& gen);

  // nn::drop_path(x, p) with the module's stream when training, else x itself.
  Tensor forward(const Tensor& x, CallSite site = {}) const;

  double p() const { return p_; }

 private:
  double p_;
  mutable Generator stream_;
};

}  // namespace kiln::nn
