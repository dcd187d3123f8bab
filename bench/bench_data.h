#pragma once
// Input data for the benchmarks.
#include <cstdint>
#include <vector>

namespace kiln::bench {

// Deterministic values in about [-2, 2] (fast to make; the contents do not matter).
inline std::vector<float> HostData(int64_t n, uint32_t seed) {
  std::vector<float> data(static_cast<size_t>(n));
  uint32_t s = seed;
  for (auto& v : data) {
    s = s * 1664525u + 1013904223u;
    v = static_cast<float>(s >> 8) * (4.0f / 16777216.0f) - 2.0f;
  }
  return data;
}

}  // namespace kiln::bench
