#include "lazy/generator.h"

#include <bit>
#include <cmath>
#include <numbers>

#include "absl/strings/str_cat.h"
#include "util/check.h"
#include "util/error.h"

namespace kiln {
namespace {

uint64_t SplitMix64(uint64_t& x) {
  uint64_t z = (x += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

uint64_t Rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

}  // namespace

// SplitMix64 spreads any seed (0 included) over the four words: xoshiro's state must
// not be all zero, and nearby seeds must give unrelated streams.
Generator::Generator(uint64_t seed) {
  uint64_t x = seed;
  for (uint64_t& word : state_) word = SplitMix64(x);
}

uint64_t Generator::NextU64() {
  const uint64_t result = Rotl(state_[1] * 5, 7) * 9;
  const uint64_t t = state_[1] << 17;
  state_[2] ^= state_[0];
  state_[3] ^= state_[1];
  state_[1] ^= state_[2];
  state_[0] ^= state_[3];
  state_[2] ^= t;
  state_[3] = Rotl(state_[3], 45);
  return result;
}

double Generator::NextDouble() { return static_cast<double>(NextU64() >> 11) * 0x1.0p-53; }

double Generator::NextNormal() {
  if (has_spare_normal_) {
    has_spare_normal_ = false;
    return spare_normal_;
  }
  // 1 - u lies in (0, 1], so the log is finite.
  const double u1 = 1.0 - NextDouble();
  const double u2 = NextDouble();
  const double radius = std::sqrt(-2.0 * std::log(u1));
  const double angle = 2.0 * std::numbers::pi * u2;
  spare_normal_ = radius * std::sin(angle);
  has_spare_normal_ = true;
  return radius * std::cos(angle);
}

uint64_t Generator::NextBelow(uint64_t n) {
  KILN_CHECK(n > 0) << "NextBelow needs n > 0";
  // Rejecting the lowest (2^64 mod n) values leaves a range that is a multiple of n.
  const uint64_t threshold = (0 - n) % n;
  while (true) {
    const uint64_t r = NextU64();
    if (r >= threshold) return r % n;
  }
}

Generator::State Generator::state() const {
  return {state_[0],
          state_[1],
          state_[2],
          state_[3],
          has_spare_normal_ ? 1u : 0u,
          std::bit_cast<uint64_t>(spare_normal_)};
}

void Generator::set_state(const State& state) {
  if ((state[0] | state[1] | state[2] | state[3]) == 0) {
    throw Error(
        "Generator::set_state: the four stream words are all zero, which no generator "
        "state is");
  }
  if (state[4] > 1) {
    throw Error(
        absl::StrCat("Generator::set_state: the spare-normal flag must be 0 or 1, got ", state[4]));
  }
  for (int i = 0; i < 4; ++i) state_[i] = state[i];
  has_spare_normal_ = state[4] == 1;
  spare_normal_ = std::bit_cast<double>(state[5]);
}

}  // namespace kiln
