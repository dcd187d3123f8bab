#pragma once
// Tensor creation. full/zeros/ones are lazy (a value expanded to the shape: no upload);
// arange is an IR op. rand, randn, normal and trunc_normal are generated on the host with
// a kiln::Generator and uploaded as device data (initial weights: data from the start).
// rand_like and randn_like are drawn inside the graph (noise and masks made every step).
// Both kinds are reproducible from the generator's seed on every backend.
#include <cstdint>
#include <vector>

#include "lazy/generator.h"
#include "lazy/tensor.h"

namespace kiln {

// A tensor of `sizes` filled with `value`. The value is a runtime scalar: a new value
// does not recompile. The dtype defaults from the scalar's kind (f32, i64 or bool).
Tensor full(std::vector<int64_t> sizes, Scalar value, CallSite site = {});
Tensor full(std::vector<int64_t> sizes, Scalar value, DType dtype, CallSite site = {});
Tensor zeros(std::vector<int64_t> sizes, DType dtype = DType::kF32, CallSite site = {});
Tensor ones(std::vector<int64_t> sizes, DType dtype = DType::kF32, CallSite site = {});
// Like full(), but uploaded now rather than recorded: the result is device data from the
// start. Parameters and optimizer state are made this way, so the first training step
// traces the same graph as every later one.
Tensor full_data(std::vector<int64_t> sizes, double value, DType dtype = DType::kF32,
                 CallSite site = {});
// A 0-d tensor whose value is baked into the generated code (changing it recompiles).
Tensor constant(double value, DType dtype = DType::kF32, CallSite site = {});
// [start, end) in steps of `step` (non-zero), like torch.arange; dtype i64 by default. A
// step that leads away from `end` is an error; start == end gives an empty tensor.
Tensor arange(int64_t end, DType dtype = DType::kI64, CallSite site = {});
Tensor arange(double start, double end, double step = 1, DType dtype = DType::kI64,
              CallSite site = {});
// Uniform in [0, 1).
Tensor rand(std::vector<int64_t> sizes, Generator& gen, DType dtype = DType::kF32,
            CallSite site = {});
// Uniform in [low, high), low < high, both finite.
Tensor uniform(std::vector<int64_t> sizes, Generator& gen, double low, double high,
               DType dtype = DType::kF32, CallSite site = {});
// Standard normal.
Tensor randn(std::vector<int64_t> sizes, Generator& gen, DType dtype = DType::kF32,
             CallSite site = {});
// Normal(mean, std).
Tensor normal(std::vector<int64_t> sizes, Generator& gen, double mean, double std,
              DType dtype = DType::kF32, CallSite site = {});
// Uniform in [0, 1) / standard normal with x's sizes, dtype and backend (x floating),
// computed by the kernels that read them: Philox4x32-10 of each element's position under a
// key taken from `gen`, so nothing is drawn on the host or uploaded, and every backend
// computes the same numbers. The key is a runtime scalar: a new draw each step compiles
// nothing. randn_like is Box-Muller on two such draws.
Tensor rand_like(const Tensor& x, Generator& gen, CallSite site = {});
Tensor randn_like(const Tensor& x, Generator& gen, CallSite site = {});
// Normal(mean, std) redrawn until within [a, b] (torch.nn.init.trunc_normal_).
Tensor trunc_normal(std::vector<int64_t> sizes, Generator& gen, double mean = 0, double std = 1,
                    double a = -2, double b = 2, DType dtype = DType::kF32, CallSite site = {});

}  // namespace kiln
