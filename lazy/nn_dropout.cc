// nn::Dropout and nn::DropPath: the functional forms with a stream of their own.
#include "lazy/nn_dropout.h"

#include "lazy/nn_functional.h"
#include "lazy/op_utils.h"

namespace kiln::nn {
namespace {

// The module's seed: drawn only when the module will ever draw a mask.
uint64_t StreamSeed(std::string_view module, double p, Generator& gen) {
  CheckDropRate(module, "p", p);
  return p > 0 ? gen.NextU64() : 0;
}

}  // namespace

void CheckDropRate(std::string_view module, std::string_view name, double p) {
  if (!(p >= 0 && p <= 1)) {
    internal::ThrowOpError(module, ": expected a dropout rate ", name, " in [0, 1], got ", p);
  }
}

Dropout::Dropout(double p, Generator& gen)
    : Module("Dropout"), p_(p), stream_(StreamSeed("Dropout", p, gen)) {
  register_generator("generator", stream_);
}

Tensor Dropout::forward(const Tensor& x, CallSite site) const {
  return dropout(x, p_, stream_, is_training(), site);
}

DropPath::DropPath(double p, Generator& gen)
    : Module("DropPath"), p_(p), stream_(StreamSeed("DropPath", p, gen)) {
  register_generator("generator", stream_);
}

Tensor DropPath::forward(const Tensor& x, CallSite site) const {
  return drop_path(x, p_, stream_, is_training(), site);
}

}  // namespace kiln::nn
