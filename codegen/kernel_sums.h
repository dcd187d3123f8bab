#pragma once
// Vectorised sums of a block of floating values, for generated cpu kernels.
//
// A reduction written as `#pragma omp simd reduction(+ : part)` leaves GCC one partial sum
// per lane of its widest vector (64 when the loop also loads bytes, such as a bool mask),
// kept in memory and added up at the end one by one in order: for attention's rows of
// 64-256 elements that epilogue takes longer than the loop. Instead the loop stores its
// values into a block on the stack and BlockSum adds the block with four vector
// accumulators and a pairwise tree:
//
//   float part = 0;                               float tmp[1024];
//   #pragma omp simd reduction(+ : part)          #pragma omp simd
//   for (i...) part += f(i);               ->     for (i...) tmp[i - lo] = f(i);
//                                                 part = ks::BlockSum(tmp, hi - lo);
//
// The order of additions depends only on n, so a sum is the same on every run; its error
// is close to a pairwise sum's. NaN and infinities propagate as in any order of addition.
//
// The header includes nothing, so cpp_emitter.cc embeds its text in every generated
// translation unit (see CppPreamble). GCC and Clang vector extensions; not for NVRTC.

namespace kiln::sums {

template <typename T>
T BlockSum(const T* x, __INT64_TYPE__ n) {
  constexpr int kLanes = 64 / sizeof(T);  // one 64-byte vector
  typedef T Vec __attribute__((vector_size(64)));
  Vec acc[4] = {};
  __INT64_TYPE__ i = 0;
  for (; i + 4 * kLanes <= n; i += 4 * kLanes) {
    for (int a = 0; a < 4; ++a) {
      Vec v;
      __builtin_memcpy(&v, x + i + a * kLanes, sizeof(v));
      acc[a] += v;
    }
  }
  for (; i + kLanes <= n; i += kLanes) {
    Vec v;
    __builtin_memcpy(&v, x + i, sizeof(v));
    acc[0] += v;
  }
  const Vec total = (acc[0] + acc[1]) + (acc[2] + acc[3]);
  T lanes[kLanes];
  __builtin_memcpy(lanes, &total, sizeof(total));
  for (int width = kLanes / 2; width >= 1; width /= 2) {
    for (int l = 0; l < width; ++l) lanes[l] += lanes[l + width];
  }
  T tail = 0;
  for (; i < n; ++i) tail += x[i];
  return lanes[0] + tail;
}

}  // namespace kiln::sums
