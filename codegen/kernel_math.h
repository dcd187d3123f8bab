#pragma once
// Vectorisable f32 transcendental functions for generated cpu kernels.
//
// Without -ffast-math, GCC keeps exp, tanh, ... as scalar libm calls, so a loop that
// uses one never vectorises. These functions are branch-free straight-line code
// (selects instead of branches, bit casts instead of frexp/ldexp, integer arithmetic on
// the exponent), which GCC vectorises under `#pragma omp simd` with IEEE semantics kept:
//
//   for (i...) y[i] = tanhf(x[i]);       // one libm call per element
//   for (i...) y[i] = TanhF(x[i]);       // 8 or 16 lanes per instruction
//
// Accuracy (tests/codegen/kernel_math_test.cc measures it over the whole f32 range):
// within 2 ulp of the correctly rounded result; NaN, +-Inf, +-0, subnormal inputs and
// results, overflow and underflow behave as the C library functions do.
//
// The header includes nothing, so cpp_emitter.cc embeds its text in every generated
// translation unit (see CppPreamble) without the cost of parsing <cmath>.

namespace kiln::math {

// The bits of an f32 and back (bit casts GCC vectorises; bit_cast would need <bit>).
inline __INT32_TYPE__ BitsF(float x) {
  __INT32_TYPE__ bits;
  __builtin_memcpy(&bits, &x, sizeof(bits));
  return bits;
}
inline float FromBitsF(__INT32_TYPE__ bits) {
  float x;
  __builtin_memcpy(&x, &bits, sizeof(x));
  return x;
}
inline __INT64_TYPE__ BitsD(double x) {
  __INT64_TYPE__ bits;
  __builtin_memcpy(&bits, &x, sizeof(bits));
  return bits;
}
inline double FromBitsD(__INT64_TYPE__ bits) {
  double x;
  __builtin_memcpy(&x, &bits, sizeof(x));
  return x;
}

// c ? a : b through an all-ones/all-zeros mask. A plain ?: lets GCC thread the branches
// (a clamped input is a known constant on one side) and sink the arithmetic into them,
// and then it may not if-convert trapping f32/f64 operations back, so the loop would not
// vectorise; bit operations keep the code straight-line.
inline float SelectF(bool c, float a, float b) {
  const __INT32_TYPE__ m = -static_cast<__INT32_TYPE__>(c);
  return FromBitsF((BitsF(a) & m) | (BitsF(b) & ~m));
}
inline double SelectD(bool c, double a, double b) {
  const __INT64_TYPE__ m = -static_cast<__INT64_TYPE__>(c);
  return FromBitsD((BitsD(a) & m) | (BitsD(b) & ~m));
}

// |x| with the sign of s (bitwise, so NaN and -0 keep their meaning).
inline float CopySignF(float x, float s) {
  return FromBitsF((BitsF(x) & 0x7fffffff) | (BitsF(s) & (-0x7fffffff - 1)));
}

// e^r for |r| <= ln2/2 (a little more after rounding k): Taylor coefficients to r^7, the
// truncation error below 2^-25 relative.
inline float ExpReducedF(float r) {
  float p = 1.98412698e-4f;
  p = p * r + 1.38888889e-3f;
  p = p * r + 8.33333333e-3f;
  p = p * r + 4.16666667e-2f;
  p = p * r + 1.66666667e-1f;
  p = p * r + 0.5f;
  p = p * (r * r) + r;
  return p + 1.0f;
}

// x = k ln2 + r: returns r and sets k (Cody-Waite: ln2 split so k * kLn2Hi is exact; k is
// rounded by adding 1.5 * 2^23, which leaves k in the low mantissa bits).
inline float ReduceLn2F(float x, __INT32_TYPE__* k) {
  const float kLog2e = 1.44269504088896341f;
  const float kLn2Hi = 0.693145751953125f;  // 16 significant bits
  const float kLn2Lo = 1.428606765330187e-06f;
  const float kRound = 12582912.0f;
  const float t = x * kLog2e + kRound;
  const float kf = t - kRound;
  *k = BitsF(t) - BitsF(kRound);
  return (x - kf * kLn2Hi) - kf * kLn2Lo;
}

// e^x. x = k ln2 + r, e^r by ExpReducedF, then 2^k applied as two exact factors
// 2^(k/2) 2^(k-k/2): each factor is a normal f32, and the one rounding of the last
// product gives the subnormal results correctly. x is clamped to [-104, 89] first: beyond,
// the result rounds to 0 or overflows to inf anyway (and NaN is mapped into range, then
// restored).
inline float ExpF(float x) {
  float c = SelectF(x < 89.0f, x, 89.0f);  // NaN -> 89
  c = SelectF(c > -104.0f, c, -104.0f);
  __INT32_TYPE__ k;
  const float p = ExpReducedF(ReduceLn2F(c, &k));
  const __INT32_TYPE__ k1 = k >> 1;
  const __INT32_TYPE__ k2 = k - k1;
  const float result = p * FromBitsF((k1 + 127) << 23) * FromBitsF((k2 + 127) << 23);
  return SelectF(x != x, x, result);
}

// log(x). x = 2^k m with m in [sqrt(1/2), sqrt(2)) (subnormals scaled by 2^23 first),
// log(m) = log(1 + f) = 2 atanh(f / (2 + f)) by a minimax polynomial in s = f / (2 + f),
// summed so the large terms f and k ln2_hi are added last. x < 0 and NaN give NaN,
// 0 gives -inf, +inf gives +inf.
inline float LogF(float x) {
  const float kLn2Hi = 6.9313812256e-01f;  // ln2 with 16 significant bits
  const float kLn2Lo = 9.0580006145e-06f;
  const float kLg1 = 0xaaaaaa.0p-24f;
  const float kLg2 = 0xccce13.0p-25f;
  const float kLg3 = 0x91e9ee.0p-25f;
  const float kLg4 = 0xf89e26.0p-26f;
  const bool sub = x < 1.17549435e-38f;  // subnormal, zero or negative
  const float scaled = x * SelectF(sub, 8388608.0f, 1.0f);
  // Unsigned bit arithmetic: the special inputs (negative, -0) would overflow a signed one.
  const __UINT32_TYPE__ kOff = 0x3f3504f3;  // bits of sqrt(1/2)
  const __UINT32_TYPE__ ix = static_cast<__UINT32_TYPE__>(BitsF(scaled)) - kOff;
  const __INT32_TYPE__ k = (static_cast<__INT32_TYPE__>(ix) >> 23) - (sub ? 23 : 0);
  const float m = FromBitsF(static_cast<__INT32_TYPE__>((ix & 0x007fffffu) + kOff));
  const float f = m - 1.0f;
  const float s = f / (2.0f + f);
  const float z = s * s;
  const float w = z * z;
  const float t1 = w * (kLg2 + w * kLg4);
  const float t2 = z * (kLg1 + w * kLg3);
  const float rr = t2 + t1;
  const float hfsq = 0.5f * f * f;
  const float dk = static_cast<float>(k);
  const float result = s * (hfsq + rr) + dk * kLn2Lo - hfsq + f + dk * kLn2Hi;
  // Special inputs, decided on x itself.
  const float kInf = __builtin_inff();
  float special = SelectF(x == 0.0f, -kInf, result);
  special = SelectF(x < 0.0f, __builtin_nanf(""), special);
  special = SelectF(x == kInf, kInf, special);
  return SelectF(x != x, x, special);
}

// tanh(x). |x| < 0.625: x + x^3 P(x^2) (the odd series, minimax); otherwise
// 1 - 2 / (e^(2|x|) + 1), where tanh >= 0.55 so the subtraction loses no accuracy, and the
// sign of x is put back. |x| >= 9.1 gives +-1; NaN stays NaN; -0 stays -0.
inline float TanhF(float x) {
  const float a = FromBitsF(BitsF(x) & 0x7fffffff);
  const float z = x * x;
  float p = -5.70498872745e-3f;
  p = p * z + 2.06390887954e-2f;
  p = p * z - 5.37397155531e-2f;
  p = p * z + 1.33314422036e-1f;
  p = p * z - 3.33332819422e-1f;
  const float small = p * z * a + a;
  // e^(2|x|) with |x| clamped to 9.1 (tanh rounds to 1 from 9.011 on): no overflow or
  // subnormal care is needed, so one exponent factor does.
  __INT32_TYPE__ k;
  const float er = ExpReducedF(ReduceLn2F(2.0f * SelectF(a < 9.1f, a, 9.1f), &k));
  const float e = er * FromBitsF((k + 127) << 23);
  const float large = 1.0f - 2.0f / (e + 1.0f);
  // The sign goes on last, so that tanh(-0) is -0.
  const float result = CopySignF(SelectF(a < 0.625f, small, large), x);
  return SelectF(x != x, x, result);
}

// e^x in f64 for |x| <= 700 (no special values), accurate to about 1e-13 relative: the
// helper of the functions that compute in f64 and round to f32 once.
inline double ExpFiniteD(double x) {
  const double kLog2e = 1.4426950408889634;
  const double kLn2Hi = 0.6931471803691238;  // 32 significant bits
  const double kLn2Lo = 1.9082149292705877e-10;
  const double kRound = 6755399441055744.0;  // 1.5 * 2^52
  const double t = x * kLog2e + kRound;
  const double kd = t - kRound;
  const __INT64_TYPE__ k = BitsD(t) - BitsD(kRound);
  const double r = (x - kd * kLn2Hi) - kd * kLn2Lo;
  // Taylor series to r^11 (|r| <= 0.35: the remainder is below 1e-13).
  double p = 1.0 / 39916800.0;
  p = p * r + 1.0 / 3628800.0;
  p = p * r + 1.0 / 362880.0;
  p = p * r + 1.0 / 40320.0;
  p = p * r + 1.0 / 5040.0;
  p = p * r + 1.0 / 720.0;
  p = p * r + 1.0 / 120.0;
  p = p * r + 1.0 / 24.0;
  p = p * r + 1.0 / 6.0;
  p = p * r + 0.5;
  p = p * r + 1.0;
  p = p * r + 1.0;
  return p * FromBitsD((k + 1023) << 52);
}

// erf(x), computed in f64 (which vectorises as well) and rounded once, so the result is
// within one rounding of exact. |x| < 1: the Maclaurin series of erf to x^25 (remainder
// below 1e-10 relative). 1 <= |x| < 4: 1 - erfc(|x|) with the Chebyshev-fitted
// erfc(z) = t exp(-z^2 + P(t)), t = 2 / (2 + z) (relative error below 1.2e-7, and
// erfc(z) <= 0.16 there, so below 0.4 ulp of the result). |x| >= 4 rounds to +-1.
inline float ErfF(float x) {
  const double a = static_cast<double>(FromBitsF(BitsF(x) & 0x7fffffff));
  const double z = SelectD(a < 4.0, a, 4.0);  // NaN and inf -> 4
  const double z2 = z * z;
  // 2/sqrt(pi) * (-1)^n / (n! (2n + 1)), n = 12 ... 0.
  double s = 1.1283791670955126 * (1.0 / 479001600.0 / 25.0);
  s = s * z2 - 1.1283791670955126 * (1.0 / 39916800.0 / 23.0);
  s = s * z2 + 1.1283791670955126 * (1.0 / 3628800.0 / 21.0);
  s = s * z2 - 1.1283791670955126 * (1.0 / 362880.0 / 19.0);
  s = s * z2 + 1.1283791670955126 * (1.0 / 40320.0 / 17.0);
  s = s * z2 - 1.1283791670955126 * (1.0 / 5040.0 / 15.0);
  s = s * z2 + 1.1283791670955126 * (1.0 / 720.0 / 13.0);
  s = s * z2 - 1.1283791670955126 * (1.0 / 120.0 / 11.0);
  s = s * z2 + 1.1283791670955126 * (1.0 / 24.0 / 9.0);
  s = s * z2 - 1.1283791670955126 * (1.0 / 6.0 / 7.0);
  s = s * z2 + 1.1283791670955126 * (1.0 / 2.0 / 5.0);
  s = s * z2 - 1.1283791670955126 * (1.0 / 3.0);
  s = s * z2 + 1.1283791670955126;
  const double small = s * z;
  const double t = 2.0 / (2.0 + z);
  double q = 0.17087277;
  q = q * t - 0.82215223;
  q = q * t + 1.48851587;
  q = q * t - 1.13520398;
  q = q * t + 0.27886807;
  q = q * t - 0.18628806;
  q = q * t + 0.09678418;
  q = q * t + 0.37409196;
  q = q * t + 1.00002368;
  q = q * t - 1.26551223;
  const double large = 1.0 - t * ExpFiniteD(q - z2);
  const float result = static_cast<float>(SelectD(z < 1.0, small, large));
  return SelectF(x != x, x, CopySignF(result, x));
}

// 1 / (1 + e^-x) in f64, rounded once: with e = e^-|x| (never overflows), 1 / (1 + e)
// for x >= 0 and e / (1 + e) for x < 0, so tiny results (x < -87) keep their subnormal
// precision instead of becoming 1 / inf = 0. In f32 the quotient of two rounded values
// would be off by up to 2.2 ulp.
inline float SigmoidF(float x) {
  const double a = static_cast<double>(FromBitsF(BitsF(x) & 0x7fffffff));
  const double e = ExpFiniteD(-SelectD(a < 104.0, a, 104.0));  // NaN -> 104, restored below
  const double d = 1.0 + e;
  const float result = static_cast<float>(SelectD(x >= 0.0f, 1.0, e) / d);
  return SelectF(x != x, x, result);
}

// floor, ceil and rint (to nearest, ties to even), exact for every f32. GCC vectorises
// floorf and rintf only with -fno-trapping-math; a truncating conversion and selects
// vectorise as they are. From 2^23 in magnitude every f32 is an integer (as are inf and
// NaN) and is returned as it is; below, the result takes x's sign, so -0.5 rounds to -0.
// false for NaN; & rather than &&, which would be a branch that stops vectorisation.
inline bool BelowTwoTo23F(float x) { return (x > -0x1p23f) & (x < 0x1p23f); }
inline float TruncSmallF(float x) {  // |x| < 2^23, or 0 for the rest
  return static_cast<float>(static_cast<__INT32_TYPE__>(SelectF(BelowTwoTo23F(x), x, 0.0f)));
}
inline float FloorF(float x) {
  const float t = TruncSmallF(x);
  return SelectF(BelowTwoTo23F(x), CopySignF(SelectF(t > x, t - 1.0f, t), x), x);
}
inline float CeilF(float x) {
  const float t = TruncSmallF(x);
  return SelectF(BelowTwoTo23F(x), CopySignF(SelectF(t < x, t + 1.0f, t), x), x);
}
inline float RintF(float x) {
  // Adding 2^23 leaves no fraction bits: the addition rounds |x| to an integer, ties to even.
  const float a = CopySignF(x, 1.0f);
  return SelectF(BelowTwoTo23F(x), CopySignF((a + 0x1p23f) - 0x1p23f, x), x);
}

}  // namespace kiln::math
