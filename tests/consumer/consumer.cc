// Uses the installed or embedded kiln through its umbrella header and checks a result.
#include <cstdio>

#include "lazy/kiln.h"

int main() {
  auto x = kiln::Tensor::from_vector<float>({1, 2, 3, 4}, {2, 2});
  const double total = (x * 2.0 + 1.0).sum().item();  // 2*10 + 4
  std::printf("consumer: sum = %g\n", total);
  return total == 24.0 ? 0 : 1;
}
