#pragma once
// Parameter initialisers (torch.nn.init): each replaces the value of `tensor` in place
// (Tensor::assign_ under NoGradGuard, so parameters keep their identity and the
// initialisation is never differentiated) and returns it. Values are computed on the
// host and uploaded, so the tensor is materialised at once: a model's first training
// step traces the same graph as every later one. Random ones draw from an explicit
// Generator, so a seed reproduces a model on every backend. The random initialisers
// take f32 or f64 tensors; the constant fills take any dtype.
//
//   kiln::Generator gen(0);
//   nn::init::trunc_normal_(linear->weight(), 0.02, gen);
//   nn::init::zeros_(linear->bias());
#include "lazy/generator.h"
#include "lazy/tensor.h"

namespace kiln::nn::init {

// Normal(mean, std) redrawn until within mean +- 2 std: the ViT weight initialisation
// (the same bounds as timm's trunc_normal_tf_; timm's trunc_normal_ cuts at +-2 in
// absolute terms, which for std 0.02 is no cut at all). `tensor` must be floating.
Tensor trunc_normal_(Tensor tensor, double std, Generator& gen, double mean = 0);
// Uniform in [low, high).
Tensor uniform_(Tensor tensor, double low, double high, Generator& gen);
// Normal(mean, std).
Tensor normal_(Tensor tensor, double mean, double std, Generator& gen);
// Fills with `value`.
Tensor constant_(Tensor tensor, double value);
// Fills with 0.
Tensor zeros_(Tensor tensor);
// Fills with 1.
Tensor ones_(Tensor tensor);

}  // namespace kiln::nn::init
