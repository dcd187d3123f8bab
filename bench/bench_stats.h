#pragma once
// What every benchmark needs around its timings: integer flags and medians.
#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <vector>

namespace kiln::bench {

// The value of `--name=N` among the arguments, else `fallback`.
inline int IntFlag(int argc, char** argv, const char* name, int fallback) {
  const size_t len = std::strlen(name);
  for (int i = 1; i < argc; ++i) {
    if (std::strncmp(argv[i], name, len) == 0 && argv[i][len] == '=') {
      return std::atoi(argv[i] + len + 1);
    }
  }
  return fallback;
}

// The median (of an even count, the mean of the middle two); 0 for no values.
inline double Median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 == 1 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

}  // namespace kiln::bench
