#pragma once
// kiln's element semantics where C++ leaves them undefined or differs from torch: the
// one cast, wrapping integer arithmetic, integer division and power, NaN-propagating
// maximum/minimum and the steps and start values of max/min reductions. The reference
// interpreter (backends/interp) calls these directly, and cpp_emitter.cc embeds this
// header's text in every generated translation unit, so both backends run the same code:
//
//   interp:     o[i] = numerics::WrapAdd(a[i], b[i]);
//   generated:  const int32_t v7 = kn::WrapAdd(v5, v6);
//
// The header includes nothing (compiler builtins and its own small traits), so the
// generated code does not pay for parsing <limits> and <type_traits>.

namespace kiln::numerics {

namespace traits {

template <typename A, typename B>
struct Same {
  static constexpr bool value = false;
};
template <typename A>
struct Same<A, A> {
  static constexpr bool value = true;
};

template <typename T>
inline constexpr bool kIsBool = Same<T, bool>::value;
template <typename T>
inline constexpr bool kIsFloat = Same<T, float>::value || Same<T, double>::value;
// The integer types (bool excluded).
template <typename T>
inline constexpr bool kIsInteger = !kIsBool<T> && !kIsFloat<T> && T(-1) != T(0);

// The unsigned integer type of T's width, for arithmetic that wraps.
template <typename T>
struct MakeUnsigned;
template <>
struct MakeUnsigned<signed char> {
  using type = unsigned char;
};
template <>
struct MakeUnsigned<short> {
  using type = unsigned short;
};
template <>
struct MakeUnsigned<int> {
  using type = unsigned int;
};
template <>
struct MakeUnsigned<long> {
  using type = unsigned long;
};
template <>
struct MakeUnsigned<long long> {
  using type = unsigned long long;
};
template <>
struct MakeUnsigned<unsigned char> {
  using type = unsigned char;
};
template <>
struct MakeUnsigned<unsigned short> {
  using type = unsigned short;
};
template <>
struct MakeUnsigned<unsigned int> {
  using type = unsigned int;
};
template <>
struct MakeUnsigned<unsigned long> {
  using type = unsigned long;
};
template <>
struct MakeUnsigned<unsigned long long> {
  using type = unsigned long long;
};
template <typename T>
using Unsigned = typename MakeUnsigned<T>::type;

// The largest and smallest value of an integer type (two's complement).
template <typename T>
constexpr T IntMax() {
  return static_cast<T>(static_cast<Unsigned<T>>(~Unsigned<T>(0)) >> (T(-1) < T(0) ? 1 : 0));
}
template <typename T>
constexpr T IntMin() {
  return T(-1) < T(0) ? static_cast<T>(-IntMax<T>() - 1) : T(0);
}

}  // namespace traits

// NaN test that is false for integers and bool.
template <typename T>
inline bool IsNan(T v) {
  if constexpr (traits::kIsFloat<T>) {
    return v != v;
  } else {
    return false;
  }
}

// The one element conversion (cast, scalar arguments, constants, arange, pad values):
//   to bool:            v != 0 (NaN is true);
//   bool to anything:   0 or 1;
//   float to integer:   truncates toward zero and saturates at the integer's range;
//                       NaN gives 0 (C++ leaves these undefined; we pick defined values);
//   integer to integer: wraps modulo 2^bits (two's complement);
//   to floating:        the nearest representable value (IEEE rounding, inf on overflow).
template <typename To, typename From>
inline To CastTo(From v) {
  if constexpr (traits::kIsBool<To>) {
    return v != From(0);
  } else if constexpr (traits::kIsBool<From>) {
    return v ? To(1) : To(0);
  } else if constexpr (traits::kIsInteger<To> && traits::kIsFloat<From>) {
    if (v != v) return To(0);
    // 2^(bits-1) is exact in every float type; anything at or above it saturates.
    constexpr From kLimit = From(-static_cast<double>(traits::IntMin<To>()));
    if (v >= kLimit) return traits::IntMax<To>();
    if (v < -kLimit) return traits::IntMin<To>();
    return static_cast<To>(v);
  } else {
    return static_cast<To>(v);
  }
}

// Integer arithmetic that wraps on overflow instead of being undefined; plain
// arithmetic for floats. bool arithmetic is done on 0/1 and converted back (!= 0).
template <typename T>
inline T WrapAdd(T a, T b) {
  if constexpr (traits::kIsBool<T>) {
    return a || b;
  } else if constexpr (traits::kIsInteger<T>) {
    using U = traits::Unsigned<T>;
    return static_cast<T>(static_cast<U>(a) + static_cast<U>(b));
  } else {
    return a + b;
  }
}
template <typename T>
inline T WrapSub(T a, T b) {
  if constexpr (traits::kIsBool<T>) {
    return a != b;
  } else if constexpr (traits::kIsInteger<T>) {
    using U = traits::Unsigned<T>;
    return static_cast<T>(static_cast<U>(a) - static_cast<U>(b));
  } else {
    return a - b;
  }
}
template <typename T>
inline T WrapMul(T a, T b) {
  if constexpr (traits::kIsBool<T>) {
    return a && b;
  } else if constexpr (traits::kIsInteger<T>) {
    using U = traits::Unsigned<T>;
    return static_cast<T>(static_cast<U>(a) * static_cast<U>(b));
  } else {
    return a * b;
  }
}
template <typename T>
inline T WrapNeg(T a) {
  return WrapSub(T(0), a);
}
// Wraps like torch: abs(INT_MIN) == INT_MIN.
template <typename T>
inline T WrapAbs(T a) {
  return a < T(0) ? WrapNeg(a) : a;
}

// Integer division truncating toward zero; INT_MIN / -1 wraps to INT_MIN instead of
// trapping. A zero divisor is reported by a check before this runs and gives 0.
template <typename T>
inline T IntDiv(T a, T b) {
  if constexpr (traits::kIsBool<T>) {
    return a;  // b is true
  } else {
    if (b == T(0)) return T(0);
    if (b == T(-1)) return WrapNeg(a);
    return a / b;
  }
}

// Integer power by repeated squaring, wrapping; a negative exponent is reported by a
// check before this runs.
template <typename T>
inline T IntPow(T base, T exponent) {
  if constexpr (traits::kIsBool<T>) {
    return exponent ? base : true;
  } else {
    T result = 1;
    for (auto e = static_cast<traits::Unsigned<T>>(exponent); e != 0; e >>= 1) {
      if (e & 1) result = WrapMul(result, base);
      base = WrapMul(base, base);
    }
    return result;
  }
}

// Maximum/minimum that propagate NaN from either side, as torch.maximum does.
template <typename T>
inline T NanMax(T a, T b) {
  if (IsNan(a)) return a;
  if (IsNan(b)) return b;
  return a < b ? b : a;
}
template <typename T>
inline T NanMin(T a, T b) {
  if (IsNan(a)) return a;
  if (IsNan(b)) return b;
  return b < a ? b : a;
}

// The start values of max and min reductions: -inf/+inf for floats, the type's range for
// integers.
template <typename T>
inline T Lowest() {
  if constexpr (traits::kIsFloat<T>) {
    return static_cast<T>(-__builtin_inf());
  } else if constexpr (traits::kIsBool<T>) {
    return false;
  } else {
    return traits::IntMin<T>();
  }
}
template <typename T>
inline T Highest() {
  if constexpr (traits::kIsFloat<T>) {
    return static_cast<T>(__builtin_inf());
  } else if constexpr (traits::kIsBool<T>) {
    return true;
  } else {
    return traits::IntMax<T>();
  }
}

// One step of a max/min reduction in element order: a NaN anywhere makes the result NaN
// (the first NaN is kept), as in torch.
template <typename T>
inline T ReduceMaxStep(T acc, T v) {
  return !IsNan(acc) && (IsNan(v) || v > acc) ? v : acc;
}
template <typename T>
inline T ReduceMinStep(T acc, T v) {
  return !IsNan(acc) && (IsNan(v) || v < acc) ? v : acc;
}

// The lane step of a vectorised max/min reduction: a plain compare-and-select that GCC
// turns into vector max/min. NaN is not seen by it (NaN > x is false); the caller ORs
// IsNan(v) into a flag in the same loop and finishes with FinishNanReduction.
template <typename T>
inline T SimdMaxStep(T acc, T v) {
  return v > acc ? v : acc;
}
template <typename T>
inline T SimdMinStep(T acc, T v) {
  return v < acc ? v : acc;
}
// The result of a vectorised max/min reduction: NaN when any element was NaN.
template <typename T>
inline T FinishNanReduction(T acc, bool saw_nan) {
  if constexpr (traits::kIsFloat<T>) {
    return saw_nan ? static_cast<T>(__builtin_nan("")) : acc;
  } else {
    return acc;
  }
}

// x / d (truncated, d > 0) where x is a loop's index value at position `at`, and `end`
// shortened to the first position at which the quotient changes while x grows by one per
// position: a truncated quotient holds on [k d, (k+1) d - 1] for k > 0, on
// [-(d-1), d-1] for k = 0 and on [k d - (d-1), k d] for k < 0. A loop can then run in
// blocks of constant quotient, with the remainder x - q d growing with the position.
template <typename I>
inline I IdxQuotientUntil(I x, I d, I at, I* end) {
  const I q = x / d;
  const I next = x >= 0 ? (q + 1) * d : (q < 0 ? q * d + 1 : d);
  if (at + (next - x) < *end) *end = at + (next - x);
  return q;
}

// Whether position `at` of a loop lies below `bound`, with `end` shortened to `bound` when
// it does: a loop can then run in blocks over which `i < bound` (and `i >= bound`) is
// constant, as at the seams of a concatenation or a pad.
template <typename I>
inline bool IdxBelowUntil(I at, I bound, I* end) {
  if (at < bound && bound < *end) *end = bound;
  return at < bound;
}

// Philox4x32-10 (Salmon, Moraes, Dror and Shaw, "Parallel random numbers: as easy as 1,
// 2, 3", SC 2011): four random 32-bit words from a 128-bit counter and a 64-bit key, a
// pure function, so any element's numbers are computed where they are needed, in any
// order, by any backend, and come out the same.
struct Philox4 {
  unsigned int w[4];
};
inline Philox4 Philox4x32(const unsigned int counter[4], unsigned int k0, unsigned int k1) {
  // The words live in the low halves of 64-bit integers (the high halves are never read):
  // a vectorising host compiler then keeps each word in one 64-bit lane and multiplies
  // in place, instead of widening 32-bit lanes and packing the products back every round
  // (a fifth faster with GCC and AVX-512).
  unsigned long long c0 = counter[0], c1 = counter[1], c2 = counter[2], c3 = counter[3];
  for (int round = 0; round < 10; ++round) {
    const unsigned long long p0 = 0xD2511F53ull * static_cast<unsigned int>(c0);
    const unsigned long long p1 = 0xCD9E8D57ull * static_cast<unsigned int>(c2);
    c0 = (p1 >> 32) ^ c1 ^ k0;
    c1 = p1;
    c2 = (p0 >> 32) ^ c3 ^ k1;
    c3 = p0;
    k0 += 0x9E3779B9u;
    k1 += 0xBB67AE85u;
  }
  return Philox4{{static_cast<unsigned int>(c0), static_cast<unsigned int>(c1),
                  static_cast<unsigned int>(c2), static_cast<unsigned int>(c3)}};
}

// The rand_uniform op: element `index` of the stream `key`, uniform in [0, 1) on a grid of
// 2^-24 (f32) or 2^-53 (f64), so every value is exact and every backend agrees bit for
// bit. The counter is (index, 0); the key's two halves are Philox's key.
template <typename T>
inline T RandUniform(long long key, long long index) {
  const unsigned int counter[4] = {static_cast<unsigned int>(index),
                                   static_cast<unsigned int>(index >> 32), 0u, 0u};
  const Philox4 r =
      Philox4x32(counter, static_cast<unsigned int>(key), static_cast<unsigned int>(key >> 32));
  if constexpr (traits::Same<T, float>::value) {
    return static_cast<float>(static_cast<int>(r.w[0] >> 8)) * 0x1p-24f;
  } else {
    const long long bits =
        static_cast<long long>((static_cast<unsigned long long>(r.w[0]) << 21) | (r.w[1] >> 11));
    return static_cast<double>(bits) * 0x1p-53;
  }
}

}  // namespace kiln::numerics
