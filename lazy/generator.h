#pragma once
// A seeded random generator whose streams are identical on every compiler and platform
// (std:: distributions are not): SplitMix64 seeding a xoshiro256** state, uniform
// doubles from the top 53 bits, normals by Box-Muller.
//
//   kiln::Generator gen(42);
//   auto w = kiln::randn({192, 768}, gen);
#include <array>
#include <cstdint>

namespace kiln {

class Generator {
 public:
  explicit Generator(uint64_t seed = 0);

  uint64_t NextU64();
  // Uniform in [0, 1).
  double NextDouble();
  // Standard normal.
  double NextNormal();
  // Uniform integer in [0, n), n > 0, without modulo bias.
  uint64_t NextBelow(uint64_t n);

  // The whole state, for checkpoints: xoshiro256**'s four words, then the Box-Muller
  // spare (a flag and the double's bits). set_state(state()) continues the stream exactly.
  using State = std::array<uint64_t, 6>;
  State state() const;
  // Throws kiln::Error unless `state` is one that state() can return: xoshiro's words
  // not all zero (a stream that would stay zero) and a flag of 0 or 1.
  void set_state(const State& state);

 private:
  uint64_t state_[4];
  bool has_spare_normal_ = false;
  double spare_normal_ = 0;
};

}  // namespace kiln
