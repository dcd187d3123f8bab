#include "backends/cuda/cuda_emulation.h"

#include <algorithm>
#include <cstdint>
#include <numeric>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kiln {
namespace {

using ::testing::HasSubstr;

constexpr unsigned kFullMask = 0xffffffffu;
constexpr int kBig = 1 << 30;

// Sets this thread's schedule seed for one scope, so no test leaks its order into the next.
class ScopedScheduleSeed {
 public:
  explicit ScopedScheduleSeed(uint64_t seed) { kiln_emu::SetScheduleSeed(seed); }
  ~ScopedScheduleSeed() { kiln_emu::SetScheduleSeed(0); }
};

std::vector<int> RandomInts(size_t n, int lo, int hi, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> dist(lo, hi);
  std::vector<int> v(n);
  for (int& x : v) x = dist(rng);
  return v;
}

// Multiples of 1/16 below 4: sums of up to ~10^6 of them are exact in float.
std::vector<float> RandomSixteenths(size_t n, uint32_t seed) {
  std::vector<int> k = RandomInts(n, 0, 63, seed);
  std::vector<float> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = k[i] / 16.0f;
  return v;
}

// ---- Kernels -----------------------------------------------------------------------------

// Sum over the `lanes` existing lanes of the caller's warp, left in lane 0. A lane of a partial
// warp whose partner does not exist gets its own value back, so it must not add it.
template <typename T>
__device__ T WarpSum(T v, int lanes) {
  const int lane = threadIdx.x % warpSize;
  for (int offset = 1; offset < warpSize; offset *= 2) {
    T other = __shfl_xor_sync(kFullMask, v, offset);
    if ((lane ^ offset) < lanes) v += other;
  }
  return v;
}

// block_sums[b] = sum of the elements that block b visits in a grid-stride loop.
template <typename T>
__global__ void BlockSum(const T* in, T* block_sums, unsigned n) {
  __shared__ T warp_sums[32];
  const unsigned t = threadIdx.x;
  const int lane = t % warpSize;
  const int warp = t / warpSize;
  const int num_warps = (blockDim.x + warpSize - 1) / warpSize;
  const int left = blockDim.x - warp * warpSize;
  T v = 0;
  for (unsigned i = blockIdx.x * blockDim.x + t; i < n; i += blockDim.x * gridDim.x) v += in[i];
  v = WarpSum(v, left < warpSize ? left : warpSize);
  if (lane == 0) warp_sums[warp] = v;
  __syncthreads();
  if (warp == 0) {
    v = lane < num_warps ? warp_sums[lane] : T(0);
    v = WarpSum(v, blockDim.x < 32u ? static_cast<int>(blockDim.x) : warpSize);
    if (lane == 0) block_sums[blockIdx.x] = v;
  }
}

// out[t] = in[(t + 1) % n] of the same block, passed through shared memory.
__global__ void RotateThroughShared(const int* in, int* out, bool barrier) {
  __shared__ int values[1024];
  const unsigned t = threadIdx.x;
  const unsigned base = blockIdx.x * blockDim.x;
  values[t] = in[base + t];
  if (barrier) __syncthreads();
  out[base + t] = values[(t + 1) % blockDim.x];
}

// out[t] = in[t - 1] (thread 0: in[0]) through shared memory, with no barrier at all:
// correct only if every thread runs after the one before it.
__global__ void ReadPreviousWithoutBarrier(const int* in, int* out) {
  __shared__ int values[1024];
  const unsigned t = threadIdx.x;
  values[t] = in[t];
  out[t] = values[t > 0 ? t - 1 : 0];
}

struct ShuffleOutputs {
  float* down3;
  float* up5_width8;
  float* broadcast0;
  float* lane7_width8;
  float* xor1;
  float* xor12_width8;
};

__global__ void Shuffles(const float* in, ShuffleOutputs out) {
  const unsigned t = threadIdx.x;
  const float v = in[t];
  out.down3[t] = __shfl_down_sync(kFullMask, v, 3);
  out.up5_width8[t] = __shfl_up_sync(kFullMask, v, 5, 8);
  out.broadcast0[t] = __shfl_sync(kFullMask, v, 0);
  out.lane7_width8[t] = __shfl_sync(kFullMask, v, 7, 8);
  out.xor1[t] = __shfl_xor_sync(kFullMask, v, 1);
  out.xor12_width8[t] = __shfl_xor_sync(kFullMask, v, 12, 8);
}

__global__ void WideShuffles(const unsigned long long* bits, const double* values,
                             unsigned long long* bits_from_31, double* values_xor16,
                             long long* signed_up1) {
  const unsigned t = threadIdx.x;
  bits_from_31[t] = __shfl_sync(kFullMask, bits[t], 31);
  values_xor16[t] = __shfl_xor_sync(kFullMask, values[t], 16);
  signed_up1[t] = __shfl_up_sync(kFullMask, -static_cast<long long>(bits[t] >> 1), 1);
}

struct AddTargets {
  float* f;
  double* d;
  int* i;
  unsigned long long* ull;
  unsigned* ticket_counter;
  unsigned* tickets;  // One per element: the old value of ticket_counter it saw.
};

__global__ void AtomicAdds(const float* f, const int* i, const unsigned long long* ull, unsigned n,
                           AddTargets targets) {
  for (unsigned k = blockIdx.x * blockDim.x + threadIdx.x; k < n; k += blockDim.x * gridDim.x) {
    atomicAdd(targets.f, f[k]);
    atomicAdd(targets.d, static_cast<double>(f[k]));
    atomicAdd(targets.i, i[k]);
    atomicAdd(targets.ull, ull[k]);
    targets.tickets[k] = atomicAdd(targets.ticket_counter, 1u);
  }
}

// The classic double add built from a 64-bit compare-and-swap, and an int max from a 32-bit one.
__device__ double CasAdd(double* address, double val) {
  unsigned long long* bits = reinterpret_cast<unsigned long long*>(address);
  unsigned long long old = *bits;
  unsigned long long assumed;
  do {
    assumed = old;
    old = atomicCAS(
        bits, assumed,
        static_cast<unsigned long long>(__double_as_longlong(val + __longlong_as_double(assumed))));
  } while (assumed != old);
  return __longlong_as_double(old);
}

__device__ void CasMax(int* address, int val) {
  int old = *address;
  while (old < val) {
    int seen = atomicCAS(address, old, val);
    if (seen == old) break;
    old = seen;
  }
}

__global__ void CasLoops(const float* f, const int* i, unsigned n, double* sum, int* max,
                         unsigned* swaps) {
  for (unsigned k = blockIdx.x * blockDim.x + threadIdx.x; k < n; k += blockDim.x * gridDim.x) {
    CasAdd(sum, f[k]);
    CasMax(max, i[k]);
    // Succeeds for exactly one thread per value of *swaps, so it counts the elements.
    unsigned old = *swaps;
    unsigned seen;
    while ((seen = atomicCAS(swaps, old, old + 1)) != old) old = seen;
  }
}

struct BitTargets {
  int* max;
  int* min;
  unsigned* umax;
  unsigned* umin;
  unsigned* uor;
  unsigned* uand;
  int* ior;
  int* iand;
  int* exch;
  unsigned* uexch;
  float* fexch;
  int* exch_old;  // Per thread: what atomicExch on `exch` returned.
  unsigned* uexch_old;
  float* fexch_old;
};

__global__ void MinMaxBitsExch(const int* values, BitTargets out) {
  const unsigned k = blockIdx.x * blockDim.x + threadIdx.x;
  const int v = values[k];
  const unsigned u = static_cast<unsigned>(v);
  atomicMax(out.max, v);
  atomicMin(out.min, v);
  atomicMax(out.umax, u);
  atomicMin(out.umin, u);
  atomicOr(out.uor, u & 0x0f0f0f0fu);
  atomicAnd(out.uand, u | 0x10000001u);
  atomicOr(out.ior, v & 0x00ff00ff);
  atomicAnd(out.iand, v | 0x7fff0000);
  out.exch_old[k] = atomicExch(out.exch, static_cast<int>(k) + 1);
  out.uexch_old[k] = atomicExch(out.uexch, k + 1);
  out.fexch_old[k] = atomicExch(out.fexch, static_cast<float>(k) + 1.0f);
}

// Each thread writes its global coordinates and what it sees of the launch geometry.
__global__ void Coordinates(unsigned* out, unsigned* broadcast_y) {
  const unsigned gx = blockIdx.x * blockDim.x + threadIdx.x;
  const unsigned gy = blockIdx.y * blockDim.y + threadIdx.y;
  const unsigned gz = blockIdx.z * blockDim.z + threadIdx.z;
  const unsigned width = gridDim.x * blockDim.x;
  const unsigned height = gridDim.y * blockDim.y;
  const unsigned index = (gz * height + gy) * width + gx;
  out[index] = gx + 1000 * gy + 1000000 * gz;
  // Warps are runs of 32 linear ids x + y * bx + z * bx * by.
  broadcast_y[index] = __shfl_sync(kFullMask, threadIdx.y, 0);
}

__global__ void MixedBarriers() {
  if (threadIdx.x < 48) {
    __syncthreads();
  } else {
    __syncwarp();
  }
}

// Threads that leave early count as arrived, so the others pass the barrier.
__global__ void EarlyExitThenBarrier(const int* in, int* out) {
  __shared__ int values[64];
  const unsigned t = threadIdx.x;
  if (t >= 32) return;
  values[t] = in[t];
  __syncthreads();
  out[t] = values[31 - t];
}

// ---- Host references ---------------------------------------------------------------------

template <typename T>
std::vector<T> HostBlockSums(const std::vector<T>& in, unsigned grid, unsigned block) {
  std::vector<T> sums(grid, T(0));
  for (size_t i = 0; i < in.size(); ++i) sums[(i / block) % grid] += in[i];
  return sums;
}

template <typename T>
std::vector<T> LaunchBlockSum(const std::vector<T>& in, unsigned grid, unsigned block) {
  std::vector<T> sums(grid, T(-12345));
  const char* error = kiln_emu::Launch(dim3(grid), dim3(block), [&] {
    BlockSum<T>(in.data(), sums.data(), static_cast<unsigned>(in.size()));
  });
  EXPECT_EQ(error, nullptr) << error;
  return sums;
}

// ---- Tests -------------------------------------------------------------------------------

TEST(CudaEmulationTest, BlockSumWithShufflesAndSharedMemoryMatchesHost) {
  const unsigned kGrid = 3;
  for (unsigned block : {32u, 64u, 96u, 100u, 20u, 256u, 1024u}) {
    SCOPED_TRACE(block);
    const size_t n = kGrid * block * 2 + 7;  // Some threads visit three elements.
    std::vector<int> ints = RandomInts(n, -1000, 1000, block);
    EXPECT_EQ(LaunchBlockSum(ints, kGrid, block), HostBlockSums(ints, kGrid, block));

    std::vector<float> floats = RandomSixteenths(n, block + 1);
    EXPECT_EQ(LaunchBlockSum(floats, kGrid, block), HostBlockSums(floats, kGrid, block));
  }
}

TEST(CudaEmulationTest, BlockSumIsTheSameUnderEveryScheduleSeed) {
  std::vector<int> in = RandomInts(5000, -1000000, 1000000, 7);
  const std::vector<int> expected = HostBlockSums(in, 4, 160);
  for (uint64_t seed : {1, 2, 3, 99}) {
    ScopedScheduleSeed scoped(seed);
    EXPECT_EQ(LaunchBlockSum(in, 4, 160), expected) << "seed " << seed;
  }
}

TEST(CudaEmulationTest, SyncThreadsOrdersSharedMemoryUnderEverySeed) {
  const unsigned kGrid = 3;
  const unsigned kBlock = 256;
  for (uint64_t seed : {0, 1, 2, 3, 42}) {
    SCOPED_TRACE(seed);
    ScopedScheduleSeed scoped(seed);
    std::vector<int> in = RandomInts(kGrid * kBlock, -kBig, kBig, 100 + seed);
    std::vector<int> out(in.size(), 0);
    ASSERT_EQ(
        kiln_emu::Launch(kGrid, kBlock, [&] { RotateThroughShared(in.data(), out.data(), true); }),
        nullptr);
    for (unsigned b = 0; b < kGrid; ++b) {
      for (unsigned t = 0; t < kBlock; ++t) {
        ASSERT_EQ(out[b * kBlock + t], in[b * kBlock + (t + 1) % kBlock]) << b << " " << t;
      }
    }
  }
}

TEST(CudaEmulationTest, MissingBarrierGivesWrongResults) {
  const unsigned kBlock = 256;
  for (uint64_t seed : {0, 1, 2}) {
    ScopedScheduleSeed scoped(seed);
    std::vector<int> in = RandomInts(kBlock, -kBig, kBig, 200 + seed);
    std::vector<int> out(kBlock, 0);
    ASSERT_EQ(
        kiln_emu::Launch(1, kBlock, [&] { RotateThroughShared(in.data(), out.data(), false); }),
        nullptr);
    // Many threads read values[t + 1] before thread t + 1 has written it.
    int wrong = 0;
    for (unsigned t = 0; t < kBlock; ++t) wrong += out[t] != in[(t + 1) % kBlock];
    EXPECT_GT(wrong, 64) << "seed " << seed;
  }
}

TEST(CudaEmulationTest, SeedsRunThreadsInOrdersOtherThanThreadOrder) {
  const unsigned kBlock = 256;
  auto run = [&](uint64_t seed, uint32_t data_seed) {
    ScopedScheduleSeed scoped(seed);
    std::vector<int> in = RandomInts(kBlock, -kBig, kBig, data_seed);
    std::vector<int> out(kBlock, 0);
    EXPECT_EQ(
        kiln_emu::Launch(1, kBlock, [&] { ReadPreviousWithoutBarrier(in.data(), out.data()); }),
        nullptr);
    int wrong = 0;
    for (unsigned t = 0; t < kBlock; ++t) wrong += out[t] != in[t > 0 ? t - 1 : 0];
    return wrong;
  };
  // Thread order happens to hide the missing barrier...
  EXPECT_EQ(run(0, 1), 0);
  // ...which a seeded order exposes.
  int most_wrong = 0;
  for (uint64_t seed = 1; seed <= 4; ++seed) most_wrong = std::max(most_wrong, run(seed, 1 + seed));
  EXPECT_GT(most_wrong, 10);
}

TEST(CudaEmulationTest, ShufflesFollowCudaSemantics) {
  // 64: two full warps; 40: a full warp and one of 8 lanes.
  for (unsigned n : {64u, 40u}) {
    SCOPED_TRACE(n);
    std::vector<float> in(n);
    std::vector<int> k = RandomInts(n, -100000, 100000, n);
    for (unsigned t = 0; t < n; ++t) in[t] = k[t] * 0.5f;
    std::vector<std::vector<float>> outs(6, std::vector<float>(n, 0.0f));
    ShuffleOutputs out{outs[0].data(), outs[1].data(), outs[2].data(),
                       outs[3].data(), outs[4].data(), outs[5].data()};
    ASSERT_EQ(kiln_emu::Launch(1, n, [&] { Shuffles(in.data(), out); }), nullptr);
    for (unsigned t = 0; t < n; ++t) {
      SCOPED_TRACE(t);
      const unsigned lane = t % 32;
      const unsigned base = t - lane;
      // A source lane past the end of a partial warp does not exist: own value.
      auto from = [&](unsigned src_lane) {
        return base + src_lane < n ? in[base + src_lane] : in[t];
      };
      EXPECT_EQ(outs[0][t], lane + 3 < 32 ? from(lane + 3) : in[t]);
      EXPECT_EQ(outs[1][t], lane % 8 >= 5 ? in[t - 5] : in[t]);
      EXPECT_EQ(outs[2][t], in[base]);
      EXPECT_EQ(outs[3][t], from(lane / 8 * 8 + 7));
      EXPECT_EQ(outs[4][t], from(lane ^ 1));
      // Lane ^ 12 leaves the group of 8: a later group gives the own value, an earlier one
      // may be read.
      const unsigned src = lane ^ 12;
      EXPECT_EQ(outs[5][t], src < lane / 8 * 8 + 8 ? from(src) : in[t]);
    }
  }
}

TEST(CudaEmulationTest, ShufflesCarry64BitValues) {
  const unsigned n = 64;
  std::mt19937_64 rng(11);
  std::vector<unsigned long long> bits(n);
  std::vector<double> values(n);
  for (unsigned t = 0; t < n; ++t) {
    bits[t] = rng() | (1ull << 63);
    values[t] = static_cast<double>(rng() >> 11) * 1e-7;
  }
  std::vector<unsigned long long> bits_from_31(n);
  std::vector<double> values_xor16(n);
  std::vector<long long> signed_up1(n);
  ASSERT_EQ(kiln_emu::Launch(1, n,
                             [&] {
                               WideShuffles(bits.data(), values.data(), bits_from_31.data(),
                                            values_xor16.data(), signed_up1.data());
                             }),
            nullptr);
  for (unsigned t = 0; t < n; ++t) {
    EXPECT_EQ(bits_from_31[t], bits[t / 32 * 32 + 31]);
    EXPECT_EQ(values_xor16[t], values[t ^ 16]);
    const unsigned src = t % 32 >= 1 ? t - 1 : t;
    EXPECT_EQ(signed_up1[t], -static_cast<long long>(bits[src] >> 1));
  }
}

TEST(CudaEmulationTest, AtomicAddsFromManyBlocks) {
  const unsigned n = 50000;
  std::vector<float> f = RandomSixteenths(n, 21);
  std::vector<int> i = RandomInts(n, -1000, 1000, 22);
  std::mt19937_64 rng(23);
  std::vector<unsigned long long> ull(n);
  for (auto& x : ull) x = rng() >> 24;  // 40 bits: the sum cannot wrap.
  float f_sum = 0.5f;
  double d_sum = 0.25;
  int i_sum = 3;
  unsigned long long ull_sum = 1ull << 50;
  unsigned ticket_counter = 0;
  std::vector<unsigned> tickets(n, 0);
  AddTargets targets{&f_sum, &d_sum, &i_sum, &ull_sum, &ticket_counter, tickets.data()};
  ASSERT_EQ(
      kiln_emu::Launch(16, 128, [&] { AtomicAdds(f.data(), i.data(), ull.data(), n, targets); }),
      nullptr);

  double expected_f = 0.5;  // Exact: all values are multiples of 1/16 and the sum < 2^20.
  for (float x : f) expected_f += x;
  EXPECT_EQ(f_sum, static_cast<float>(expected_f));
  EXPECT_EQ(d_sum, expected_f - 0.25);
  EXPECT_EQ(i_sum, std::accumulate(i.begin(), i.end(), 3));
  EXPECT_EQ(ull_sum, std::accumulate(ull.begin(), ull.end(), 1ull << 50));
  // atomicAdd returns the old value: every ticket from 0 to n - 1 was handed out once.
  EXPECT_EQ(ticket_counter, n);
  std::sort(tickets.begin(), tickets.end());
  for (unsigned k = 0; k < n; ++k) ASSERT_EQ(tickets[k], k);
}

TEST(CudaEmulationTest, AtomicCasLoops) {
  const unsigned n = 20000;
  std::vector<float> f = RandomSixteenths(n, 31);
  std::vector<int> i = RandomInts(n, -kBig, kBig, 32);
  double sum = 1.0;
  int max = -2000000000;
  unsigned swaps = 0;
  ASSERT_EQ(kiln_emu::Launch(8, 96, [&] { CasLoops(f.data(), i.data(), n, &sum, &max, &swaps); }),
            nullptr);
  double expected = 1.0;
  for (float x : f) expected += x;
  EXPECT_EQ(sum, expected);
  EXPECT_EQ(max, *std::max_element(i.begin(), i.end()));
  EXPECT_EQ(swaps, n);
}

TEST(CudaEmulationTest, AtomicMinMaxBitsAndExchange) {
  const unsigned kGrid = 4;
  const unsigned kBlock = 64;
  const unsigned n = kGrid * kBlock;
  std::vector<int> v = RandomInts(n, -2000000000, 2000000000, 41);
  int max = INT32_MIN, min = INT32_MAX, ior = 0, iand = -1, exch = 0;
  unsigned umax = 0, umin = UINT32_MAX, uor = 0, uand = UINT32_MAX, uexch = 0;
  float fexch = 0.0f;
  std::vector<int> exch_old(n, -1);
  std::vector<unsigned> uexch_old(n, 12345);
  std::vector<float> fexch_old(n, -1.0f);
  BitTargets out{&max,
                 &min,
                 &umax,
                 &umin,
                 &uor,
                 &uand,
                 &ior,
                 &iand,
                 &exch,
                 &uexch,
                 &fexch,
                 exch_old.data(),
                 uexch_old.data(),
                 fexch_old.data()};
  ASSERT_EQ(kiln_emu::Launch(kGrid, kBlock, [&] { MinMaxBitsExch(v.data(), out); }), nullptr);

  int e_max = INT32_MIN, e_min = INT32_MAX, e_ior = 0, e_iand = -1;
  unsigned e_umax = 0, e_umin = UINT32_MAX, e_uor = 0, e_uand = UINT32_MAX;
  for (int x : v) {
    const unsigned u = static_cast<unsigned>(x);
    e_max = std::max(e_max, x);
    e_min = std::min(e_min, x);
    e_umax = std::max(e_umax, u);
    e_umin = std::min(e_umin, u);
    e_uor |= u & 0x0f0f0f0fu;
    e_uand &= u | 0x10000001u;
    e_ior |= x & 0x00ff00ff;
    e_iand &= x | 0x7fff0000;
  }
  EXPECT_EQ(max, e_max);
  EXPECT_EQ(min, e_min);
  EXPECT_EQ(umax, e_umax);
  EXPECT_EQ(umin, e_umin);
  EXPECT_EQ(uor, e_uor);
  EXPECT_EQ(uand, e_uand);
  EXPECT_EQ(ior, e_ior);
  EXPECT_EQ(iand, e_iand);
  // Exchanges form one chain: the old values plus the final one are 0, 1, ..., n.
  exch_old.push_back(exch);
  uexch_old.push_back(uexch);
  fexch_old.push_back(fexch);
  std::sort(exch_old.begin(), exch_old.end());
  std::sort(uexch_old.begin(), uexch_old.end());
  std::sort(fexch_old.begin(), fexch_old.end());
  for (unsigned k = 0; k <= n; ++k) {
    ASSERT_EQ(exch_old[k], static_cast<int>(k));
    ASSERT_EQ(uexch_old[k], k);
    ASSERT_EQ(fexch_old[k], static_cast<float>(k));
  }
}

TEST(CudaEmulationTest, MultiDimensionalBlocksAndGrids) {
  struct Case {
    dim3 grid, block;
  };
  for (const Case& c : {Case{dim3(3, 5), dim3(16, 4)}, Case{dim3(2, 1, 3), dim3(4, 4, 3)}}) {
    const unsigned width = c.grid.x * c.block.x;
    const unsigned height = c.grid.y * c.block.y;
    const unsigned depth = c.grid.z * c.block.z;
    const size_t n = static_cast<size_t>(width) * height * depth;
    std::vector<unsigned> out(n, UINT32_MAX), broadcast_y(n, UINT32_MAX);
    ASSERT_EQ(
        kiln_emu::Launch(c.grid, c.block, [&] { Coordinates(out.data(), broadcast_y.data()); }),
        nullptr);
    for (unsigned z = 0; z < depth; ++z) {
      for (unsigned y = 0; y < height; ++y) {
        for (unsigned x = 0; x < width; ++x) {
          const size_t index = (static_cast<size_t>(z) * height + y) * width + x;
          ASSERT_EQ(out[index], x + 1000 * y + 1000000 * z) << x << " " << y << " " << z;
          // The thread's linear id in its block, and the y of its warp's lane 0.
          const unsigned tx = x % c.block.x, ty = y % c.block.y, tz = z % c.block.z;
          const unsigned linear = tx + ty * c.block.x + tz * c.block.x * c.block.y;
          const unsigned lane0 = linear / 32 * 32;
          ASSERT_EQ(broadcast_y[index], lane0 / c.block.x % c.block.y) << x << " " << y;
        }
      }
    }
  }
  // Outside a launch the geometry reads as a single thread.
  EXPECT_EQ(threadIdx.x + blockIdx.y + blockDim.x * blockDim.y * blockDim.z, 1u);
}

TEST(CudaEmulationTest, DeadlockIsReportedAndLaterLaunchesWork) {
  const char* error = kiln_emu::Launch(2, 64, [] { MixedBarriers(); });
  ASSERT_NE(error, nullptr);
  EXPECT_THAT(error, HasSubstr("deadlock"));

  std::vector<int> in = RandomInts(1000, -1000, 1000, 51);
  EXPECT_EQ(LaunchBlockSum(in, 2, 128), HostBlockSums(in, 2, 128));
}

TEST(CudaEmulationTest, FinishedThreadsCountAsArrivedAtBarriers) {
  std::vector<int> in = RandomInts(64, -1000, 1000, 61);
  std::vector<int> out(64, 0);
  ASSERT_EQ(kiln_emu::Launch(1, 64, [&] { EarlyExitThenBarrier(in.data(), out.data()); }), nullptr);
  for (unsigned t = 0; t < 32; ++t) EXPECT_EQ(out[t], in[31 - t]);
  for (unsigned t = 32; t < 64; ++t) EXPECT_EQ(out[t], 0);
}

TEST(CudaEmulationTest, RefusedLaunches) {
  int runs = 0;
  auto count = [&] { atomicAdd(&runs, 1); };
  EXPECT_EQ(kiln_emu::Launch(dim3(0), dim3(32), count), nullptr);
  EXPECT_EQ(kiln_emu::Launch(dim3(4, 0), dim3(32), count), nullptr);
  EXPECT_EQ(kiln_emu::Launch(dim3(4), dim3(32, 1, 0), count), nullptr);
  EXPECT_EQ(runs, 0);
  const char* error = kiln_emu::Launch(dim3(1), dim3(32, 33), count);
  ASSERT_NE(error, nullptr);
  EXPECT_THAT(error, HasSubstr("1024"));
  EXPECT_EQ(runs, 0);
  EXPECT_EQ(kiln_emu::Launch(dim3(2, 3), dim3(32, 32), count), nullptr);
  EXPECT_EQ(runs, 6 * 1024);
}

TEST(CudaEmulationTest, ExceptionInKernelIsReported) {
  const char* error = kiln_emu::Launch(2, 64, [] {
    __syncthreads();
    if (threadIdx.x == 5) throw std::runtime_error("kernel failed");
  });
  ASSERT_NE(error, nullptr);
  EXPECT_THAT(error, HasSubstr("exception"));
}

// A vector access off its alignment faults on a GPU; the emulation ends the launch.
TEST(CudaEmulationTest, MisalignedVectorAccessIsAFault) {
  alignas(16) float data[8] = {};
  EXPECT_EQ(kiln_emu::Launch(1, 32, [&] { kiln_emu::CheckAligned(data + 4, 16); }), nullptr);
  const char* error = kiln_emu::Launch(1, 32, [&] { kiln_emu::CheckAligned(data + 1, 16); });
  ASSERT_NE(error, nullptr);
  EXPECT_THAT(error, HasSubstr("misaligned"));
}

TEST(CudaEmulationTest, ConcurrentLaunchesOnTwoThreads) {
  const unsigned kGrid = 3;
  const unsigned kBlock = 96;
  const int kLaunches = 8;
  std::vector<int> data[2] = {RandomInts(4000, -1000, 1000, 71), RandomInts(4000, -1000, 1000, 72)};
  std::vector<std::vector<int>> results[2];
  unsigned long long counters[2] = {0, 0};
  auto worker = [&](int w) {
    kiln_emu::SetScheduleSeed(w == 0 ? 0 : 1234);  // This OS thread only.
    for (int l = 0; l < kLaunches; ++l) {
      std::vector<int> sums(kGrid, 0);
      const char* error = kiln_emu::Launch(kGrid, kBlock, [&] {
        BlockSum<int>(data[w].data(), sums.data(), static_cast<unsigned>(data[w].size()));
        atomicAdd(&counters[w], 1ull);
      });
      if (error != nullptr) sums.clear();
      results[w].push_back(sums);
    }
  };
  std::thread a(worker, 0), b(worker, 1);
  a.join();
  b.join();
  for (int w = 0; w < 2; ++w) {
    const std::vector<int> expected = HostBlockSums(data[w], kGrid, kBlock);
    ASSERT_EQ(results[w].size(), static_cast<size_t>(kLaunches));
    for (const std::vector<int>& sums : results[w]) EXPECT_EQ(sums, expected) << w;
    EXPECT_EQ(counters[w], static_cast<unsigned long long>(kLaunches) * kGrid * kBlock);
  }
}

}  // namespace
}  // namespace kiln
