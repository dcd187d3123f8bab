// Just enough of the CUDA device runtime to compile generated CUDA C++ kernels with the host
// compiler (C++17, g++ or clang) and run them on the CPU, so the CUDA emitter can be tested
// where no GPU exists. The text of this header is pasted in front of the generated source,
// so it depends on no kiln header and every function is inline.
//
//   __global__ void Scale(float* x, float a, int n) {
//     int i = blockIdx.x * blockDim.x + threadIdx.x;
//     if (i < n) x[i] *= a;
//   }
//   const char* error = kiln_emu::Launch(dim3(4), dim3(256), [&] { Scale(x, 2.0f, n); });
//
// Every thread of a block is a cooperative fiber on the calling OS thread; the
// blocks of a grid run one after another. A fiber runs until it finishes or reaches
// __syncthreads() or a warp operation (shuffle, __syncwarp), where it waits until the whole
// block, or its whole warp, is waiting there too. A launch whose threads can no longer make
// progress is abandoned with an error instead of hanging.
//
// Limits: no dynamic `extern __shared__`, no cooperative groups, no streams or events, no
// vector types beyond dim3/uint3, no fast-math intrinsics (__expf, ...). The shuffle mask is
// ignored: all existing lanes of a warp take part. Finished threads count as arrived at
// __syncthreads and at warp operations (as on Volta and later). Objects on the stack of the
// threads of an abandoned launch are not destroyed.
//
// An include guard rather than #pragma once, which warns when the text is the main file.
#ifndef KILN_BACKENDS_CUDA_CUDA_EMULATION_H_
#define KILN_BACKENDS_CUDA_CUDA_EMULATION_H_

// Only small C headers: this text is compiled with every emulated unit, and <cmath>,
// <functional> or <vector> would double the compile time of a small one.
#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>

// ---- Keywords --------------------------------------------------------------------------

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __restrict__ __restrict
#define __launch_bounds__(...)
// All threads of a block run on one OS thread and blocks run one after another, so a
// thread_local is shared by the threads of a block and private to each concurrent launch.
#define __shared__ static thread_local

// ---- Built-in types and variables ----------------------------------------------------

struct uint3 {
  unsigned x, y, z;
};

struct dim3 {
  unsigned x, y, z;
  constexpr dim3(unsigned vx = 1, unsigned vy = 1, unsigned vz = 1) : x(vx), y(vy), z(vz) {}
  constexpr dim3(uint3 v) : x(v.x), y(v.y), z(v.z) {}
  constexpr operator uint3() const { return uint3{x, y, z}; }
};

inline constexpr int warpSize = 32;

// Set by the launcher before it switches to a thread (threadIdx) or starts a block
// (blockIdx); thread_local so that concurrent launches on other OS threads see their own.
inline thread_local uint3 threadIdx = {0, 0, 0};
inline thread_local uint3 blockIdx = {0, 0, 0};
inline thread_local dim3 blockDim = dim3(1, 1, 1);
inline thread_local dim3 gridDim = dim3(1, 1, 1);

namespace kiln_emu {

// Runs `kernel` once for every thread of every block of `grid` (blocks in order, x fastest,
// then y, then z). Returns nullptr on success, or a static message when the launch was
// refused or abandoned (more than 1024 threads per block, a deadlock, a Fault, an exception
// escaping the kernel). A zero-sized grid or block runs nothing. Safe to call from several OS
// threads at once; not from inside a kernel.
template <typename Kernel>
const char* Launch(dim3 grid, dim3 block, const Kernel& kernel);

// Seeds the order in which the runnable threads of a block are resumed, for this OS thread's
// later launches: 0 (the default) runs them in thread order, any other value in a
// pseudo-random order per scheduling round, with one random warp per stretch between
// barriers held back until nothing else can run (so warps drift apart as they may on a
// GPU), to expose kernels that rely on an order the hardware does not guarantee.
inline void SetScheduleSeed(uint64_t seed);

// A fault a GPU raises for the access (a vector access off its alignment), which ends
// the launch with `what` as its error.
struct Fault {
  const char* what;
};
inline void CheckAligned(const void* p, size_t alignment) {
  if (reinterpret_cast<uintptr_t>(p) % alignment != 0) throw Fault{"misaligned vector access"};
}

namespace internal {

inline constexpr unsigned kMaxThreadsPerBlock = 1024;
inline constexpr unsigned kWarpSize = 32;
// Mapped with MAP_NORESERVE, so only the pages a kernel touches are committed.
inline constexpr size_t kStackBytes = 256 * 1024;

// Switching between fibers. On x86-64 a few instructions of our own save the
// callee-saved registers, the SSE and x87 control words and the stack pointer:
// swapcontext also saves the signal mask with a system call on every switch, which made
// it most of an emulated kernel's time. Elsewhere, and under AddressSanitizer (which
// must see every stack switch), ucontext.
#if defined(__x86_64__) && !defined(__SANITIZE_ADDRESS__)
#define KILN_EMU_FAST_SWITCH 1
#endif
#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#undef KILN_EMU_FAST_SWITCH
#endif
#endif

#ifdef KILN_EMU_FAST_SWITCH
// Saves the running context's registers on its stack and its stack pointer in *save_sp,
// then resumes the context whose stack pointer is load_sp. Weak and hidden: every unit
// that includes this header may define it.
extern "C" void kiln_emu_switch_x86_64(void** save_sp, void* load_sp);
__asm__(
    ".text\n"
    ".weak kiln_emu_switch_x86_64\n"
    ".hidden kiln_emu_switch_x86_64\n"
    ".type kiln_emu_switch_x86_64, @function\n"
    "kiln_emu_switch_x86_64:\n"
    "  pushq %rbp\n"
    "  pushq %rbx\n"
    "  pushq %r12\n"
    "  pushq %r13\n"
    "  pushq %r14\n"
    "  pushq %r15\n"
    "  subq $8, %rsp\n"
    "  stmxcsr (%rsp)\n"
    "  fnstcw 4(%rsp)\n"
    "  movq %rsp, (%rdi)\n"
    "  movq %rsi, %rsp\n"
    "  ldmxcsr (%rsp)\n"
    "  fldcw 4(%rsp)\n"
    "  addq $8, %rsp\n"
    "  popq %r15\n"
    "  popq %r14\n"
    "  popq %r13\n"
    "  popq %r12\n"
    "  popq %rbx\n"
    "  popq %rbp\n"
    "  ret\n"
    ".size kiln_emu_switch_x86_64, .-kiln_emu_switch_x86_64\n");
#endif

struct Context {
#ifdef KILN_EMU_FAST_SWITCH
  void* sp = nullptr;
#else
  ucontext_t uc;
#endif
};

inline void SwitchContext(Context* from, Context* to) {
#ifdef KILN_EMU_FAST_SWITCH
  kiln_emu_switch_x86_64(&from->sp, to->sp);
#else
  swapcontext(&from->uc, &to->uc);
#endif
}

// Makes `context` start `entry` (which must never return) on the given stack. Not
// inlined: getcontext returns twice, which would make the compiler warn about the
// caller's locals.
[[gnu::noinline]] inline bool StartContext(Context* context, void* stack, size_t bytes,
                                           void (*entry)()) {
#ifdef KILN_EMU_FAST_SWITCH
  // The frame kiln_emu_switch_x86_64 restores: control words, six registers, and `entry`
  // as the return address, above a null one, so that `entry` starts with the stack
  // aligned as after a call (the null return address also ends any unwinding).
  uint64_t* top = reinterpret_cast<uint64_t*>(
      (reinterpret_cast<uintptr_t>(stack) + bytes) & ~uintptr_t{15});
  uint32_t mxcsr = 0;
  uint16_t fpu_control = 0;
  __asm__ volatile("stmxcsr %0" : "=m"(mxcsr));
  __asm__ volatile("fnstcw %0" : "=m"(fpu_control));
  top[-1] = 0;
  top[-2] = reinterpret_cast<uint64_t>(entry);
  for (int r = 3; r <= 8; ++r) top[-r] = 0;
  top[-9] = uint64_t{mxcsr} | (uint64_t{fpu_control} << 32);
  context->sp = &top[-9];
  return true;
#else
  if (getcontext(&context->uc) != 0) return false;
  context->uc.uc_stack.ss_sp = stack;
  context->uc.uc_stack.ss_size = bytes;
  context->uc.uc_link = nullptr;
  makecontext(&context->uc, entry, 0);
  return true;
#endif
}

enum class FiberState { kRunnable, kAtSyncThreads, kAtWarpSync, kDone };

struct Fiber {
  Context context;
  uint3 thread_idx;
  FiberState state;
};

// The fiber stacks of this OS thread's launches: mapped for the most threads a launch has
// needed, with a guard page below each stack (an overflow crashes instead of corrupting),
// and kept for the next launch, since a program launches many small kernels. Unmapped
// when the OS thread ends.
struct StackPool {
  void* base = nullptr;
  size_t threads = 0;

  ~StackPool() {
    if (base != nullptr) munmap(base, threads * kStackBytes);
  }
  // Stacks for `n` threads, or nullptr when they cannot be mapped.
  void* Get(size_t n) {
    if (n <= threads) return base;
    if (base != nullptr) munmap(base, threads * kStackBytes);
    base = nullptr;
    threads = 0;
    void* p = mmap(nullptr, n * kStackBytes, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
    if (p == MAP_FAILED) return nullptr;
    const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
    for (size_t i = 0; i < n; ++i) {
      mprotect(static_cast<char*>(p) + i * kStackBytes, page, PROT_NONE);
    }
    base = p;
    threads = n;
    return p;
  }
};

inline thread_local StackPool stack_pool;

// One launch's fibers and warp exchange slots, owned by Launch on its stack and reached
// by the fibers through `current_launch`.
struct LaunchState {
  void (*kernel)(const void*) = nullptr;  // called with kernel_context
  const void* kernel_context = nullptr;
  unsigned num_threads = 0;
  void* stacks = nullptr;  // from stack_pool
  Fiber* fibers = nullptr;     // num_threads of each
  uint64_t* slots = nullptr;   // One value per thread, published by a shuffle.
  unsigned* runnable = nullptr;
  unsigned num_runnable = 0;
  Context scheduler;
  unsigned current = 0;
  uint64_t rng = 0;
  unsigned laggard = 0;  // with a seed: the warp that runs only when no other can
  const char* error = nullptr;

  ~LaunchState() {
    delete[] fibers;
    delete[] slots;
    delete[] runnable;
  }
};

inline thread_local LaunchState* current_launch = nullptr;
inline thread_local uint64_t schedule_seed = 0;

inline uint64_t SplitMix64(uint64_t& state) {
  uint64_t z = (state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

// Suspends the calling emulated thread until the scheduler releases it. Outside a launch
// there is only one thread, so there is nothing to wait for.
inline void WaitAt(FiberState state) {
  LaunchState* launch = current_launch;
  if (launch == nullptr) return;
  Fiber& fiber = launch->fibers[launch->current];
  fiber.state = state;
  SwitchContext(&fiber.context, &launch->scheduler);
}

// A fiber's first frame; never returns: a finished thread switches back to the
// scheduler, which does not resume it.
inline void FiberMain() {
  LaunchState* launch = current_launch;
  try {
    launch->kernel(launch->kernel_context);
  } catch (const Fault& fault) {
    launch->error = fault.what;
  } catch (...) {
    launch->error = "kiln_emu::Launch: an exception escaped the kernel";
  }
  Fiber& fiber = launch->fibers[launch->current];
  fiber.state = FiberState::kDone;
  SwitchContext(&fiber.context, &launch->scheduler);
}

// True when every unfinished thread in [begin, end) waits in `state` (and one does).
inline bool AllWaitAt(const LaunchState& launch, unsigned begin, unsigned end, FiberState state) {
  bool any = false;
  for (unsigned i = begin; i < end; ++i) {
    FiberState s = launch.fibers[i].state;
    if (s == FiberState::kDone) continue;
    if (s != state) return false;
    any = true;
  }
  return any;
}

inline void MakeRunnable(LaunchState& launch, unsigned begin, unsigned end) {
  for (unsigned i = begin; i < end; ++i) {
    if (launch.fibers[i].state != FiberState::kDone) {
      launch.fibers[i].state = FiberState::kRunnable;
    }
  }
}

// Releases the block from __syncthreads and each warp from its warp operation once all of
// their unfinished threads have arrived; true when the block was released.
inline bool ReleaseBarriers(LaunchState& launch) {
  const unsigned n = launch.num_threads;
  const bool block = AllWaitAt(launch, 0, n, FiberState::kAtSyncThreads);
  if (block) MakeRunnable(launch, 0, n);
  for (unsigned begin = 0; begin < n; begin += kWarpSize) {
    unsigned end = begin + kWarpSize < n ? begin + kWarpSize : n;
    if (AllWaitAt(launch, begin, end, FiberState::kAtWarpSync)) {
      MakeRunnable(launch, begin, end);
    }
  }
  return block;
}

// Runs the threads of the current block (blockIdx) to completion.
inline const char* RunBlock(LaunchState& launch, dim3 block) {
  const unsigned n = launch.num_threads;
  for (unsigned i = 0; i < n; ++i) {
    Fiber& fiber = launch.fibers[i];
    fiber.thread_idx = uint3{i % block.x, i / block.x % block.y, i / (block.x * block.y)};
    fiber.state = FiberState::kRunnable;
    if (!StartContext(&fiber.context, static_cast<char*>(launch.stacks) + i * kStackBytes,
                      kStackBytes, &FiberMain)) {
      return "kiln_emu::Launch: getcontext failed";
    }
  }
  unsigned done = 0;
  bool block_released = true;  // the block's start counts as a barrier
  while (true) {
    block_released = ReleaseBarriers(launch) || block_released;
    launch.num_runnable = 0;
    for (unsigned i = 0; i < n; ++i) {
      if (launch.fibers[i].state == FiberState::kRunnable) {
        launch.runnable[launch.num_runnable++] = i;
      }
    }
    if (launch.num_runnable == 0) {
      if (done == n) return nullptr;
      return "kiln_emu::Launch: deadlock: threads of a block wait at different barriers "
             "(a __syncthreads or warp operation not reached by all threads)";
    }
    if (launch.rng != 0) {
      // Warps run independently on a GPU. With a seed, one warp per stretch between
      // __syncthreads is the laggard: it runs only when no other thread can, so every
      // other warp gets as far ahead of it as the barriers allow.
      if (block_released) {
        launch.laggard = static_cast<unsigned>(SplitMix64(launch.rng) %
                                               ((n + kWarpSize - 1) / kWarpSize));
        block_released = false;
      }
      unsigned kept = 0;
      for (unsigned k = 0; k < launch.num_runnable; ++k) {
        const unsigned i = launch.runnable[k];
        if (i / kWarpSize != launch.laggard) launch.runnable[kept++] = i;
      }
      if (kept > 0) launch.num_runnable = kept;
      // Fisher-Yates shuffle of this round's order.
      for (size_t i = launch.num_runnable - 1; i > 0; --i) {
        size_t j = SplitMix64(launch.rng) % (i + 1);
        unsigned tmp = launch.runnable[i];
        launch.runnable[i] = launch.runnable[j];
        launch.runnable[j] = tmp;
      }
    }
    for (unsigned k = 0; k < launch.num_runnable; ++k) {
      const unsigned i = launch.runnable[k];
      Fiber& fiber = launch.fibers[i];
      launch.current = i;
      threadIdx = fiber.thread_idx;
      SwitchContext(&launch.scheduler, &fiber.context);
      if (launch.error != nullptr) return launch.error;
      if (fiber.state == FiberState::kDone) ++done;
    }
  }
}

// Exchanges `var` with lane `src_lane` of the caller's warp (-1: no partner). A lane that
// does not exist or has finished yields the caller's own value.
template <typename T>
T ShuffleFrom(T var, int src_lane) {
  static_assert(__is_trivially_copyable(T) && sizeof(T) <= sizeof(uint64_t),
                "shuffles exchange values of at most 8 bytes");
  LaunchState* launch = current_launch;
  if (launch == nullptr) return var;
  const unsigned me = launch->current;
  uint64_t bits = 0;
  std::memcpy(&bits, &var, sizeof(T));
  launch->slots[me] = bits;
  WaitAt(FiberState::kAtWarpSync);  // Every lane has published.
  T result = var;
  if (src_lane >= 0 && src_lane < static_cast<int>(kWarpSize)) {
    unsigned src = me - me % kWarpSize + static_cast<unsigned>(src_lane);
    if (src < launch->num_threads && launch->fibers[src].state != FiberState::kDone) {
      bits = launch->slots[src];
      std::memcpy(&result, &bits, sizeof(T));
    }
  }
  WaitAt(FiberState::kAtWarpSync);  // Every lane has read, so the slots may be reused.
  return result;
}

inline int LaneId() {
  LaunchState* launch = current_launch;
  return launch == nullptr ? 0 : static_cast<int>(launch->current % kWarpSize);
}

// Reads `*address`, stores `update(old)` if it was not changed meanwhile, and retries
// otherwise; compares bit patterns, so it also works for floats (NaN, -0.0).
template <typename T, typename F>
T AtomicUpdate(T* address, F update) {
  T old;
  __atomic_load(address, &old, __ATOMIC_SEQ_CST);
  T desired = update(old);
  while (!__atomic_compare_exchange(address, &old, &desired, false, __ATOMIC_SEQ_CST,
                                    __ATOMIC_SEQ_CST)) {
    desired = update(old);
  }
  return old;
}

template <typename To, typename From>
To BitCast(From from) {
  static_assert(sizeof(To) == sizeof(From), "bit casts keep the size");
  To to;
  std::memcpy(&to, &from, sizeof(To));
  return to;
}

}  // namespace internal

inline void SetScheduleSeed(uint64_t seed) { internal::schedule_seed = seed; }

template <typename Kernel>
const char* Launch(dim3 grid, dim3 block, const Kernel& kernel) {
  using internal::LaunchState;
  const uint64_t threads = uint64_t{block.x} * block.y * block.z;
  if (threads > internal::kMaxThreadsPerBlock) {
    return "kiln_emu::Launch: more than 1024 threads per block";
  }
  if (threads == 0 || uint64_t{grid.x} * grid.y * grid.z == 0) return nullptr;
  if (internal::current_launch != nullptr) {
    return "kiln_emu::Launch: called from inside a kernel";
  }
  LaunchState launch;
  launch.kernel = [](const void* k) { (*static_cast<const Kernel*>(k))(); };
  launch.kernel_context = &kernel;
  launch.num_threads = static_cast<unsigned>(threads);
  launch.stacks = internal::stack_pool.Get(threads);
  if (launch.stacks == nullptr) return "kiln_emu::Launch: cannot map the thread stacks";
  launch.fibers = new internal::Fiber[launch.num_threads];
  launch.slots = new uint64_t[launch.num_threads]();
  launch.runnable = new unsigned[launch.num_threads];
  // Never 0 for a non-zero seed, since 0 marks "thread order".
  uint64_t seed_state = internal::schedule_seed;
  launch.rng = seed_state == 0 ? 0 : (internal::SplitMix64(seed_state) | 1);

  const dim3 saved_block_dim = blockDim;
  const dim3 saved_grid_dim = gridDim;
  internal::current_launch = &launch;
  gridDim = grid;
  blockDim = block;
  const char* error = nullptr;
  for (unsigned z = 0; z < grid.z && error == nullptr; ++z) {
    for (unsigned y = 0; y < grid.y && error == nullptr; ++y) {
      for (unsigned x = 0; x < grid.x && error == nullptr; ++x) {
        blockIdx = uint3{x, y, z};
        error = internal::RunBlock(launch, block);
      }
    }
  }
  internal::current_launch = nullptr;
  threadIdx = uint3{0, 0, 0};
  blockIdx = uint3{0, 0, 0};
  blockDim = saved_block_dim;
  gridDim = saved_grid_dim;
  return error;
}

}  // namespace kiln_emu

// ---- Synchronisation -------------------------------------------------------------------

inline void __syncthreads() {
  kiln_emu::internal::WaitAt(kiln_emu::internal::FiberState::kAtSyncThreads);
}
inline void __syncwarp(unsigned /*mask*/ = 0xffffffffu) {
  kiln_emu::internal::WaitAt(kiln_emu::internal::FiberState::kAtWarpSync);
}
inline void __threadfence() { __atomic_thread_fence(__ATOMIC_SEQ_CST); }

// ---- Warp shuffles (the mask is ignored: every existing lane of the warp takes part) ---

template <typename T>
T __shfl_sync(unsigned /*mask*/, T var, int srcLane, int width = warpSize) {
  const int lane = kiln_emu::internal::LaneId();
  return kiln_emu::internal::ShuffleFrom(var, (lane & ~(width - 1)) + (srcLane & (width - 1)));
}

template <typename T>
T __shfl_up_sync(unsigned /*mask*/, T var, unsigned delta, int width = warpSize) {
  const int lane = kiln_emu::internal::LaneId();
  const bool inside = static_cast<unsigned>(lane & (width - 1)) >= delta;
  return kiln_emu::internal::ShuffleFrom(var, inside ? lane - static_cast<int>(delta) : -1);
}

template <typename T>
T __shfl_down_sync(unsigned /*mask*/, T var, unsigned delta, int width = warpSize) {
  const int lane = kiln_emu::internal::LaneId();
  const bool inside = (lane & (width - 1)) + delta < static_cast<unsigned>(width);
  return kiln_emu::internal::ShuffleFrom(var, inside ? lane + static_cast<int>(delta) : -1);
}

// As on CUDA, a lane may read from its own or an earlier group of `width` lanes, not a later.
template <typename T>
T __shfl_xor_sync(unsigned /*mask*/, T var, int laneMask, int width = warpSize) {
  const int lane = kiln_emu::internal::LaneId();
  const int src = lane ^ laneMask;
  const bool inside = src < (lane & ~(width - 1)) + width;
  return kiln_emu::internal::ShuffleFrom(var, inside ? src : -1);
}

// ---- Atomics (each returns the old value) -----------------------------------------------

inline int atomicAdd(int* address, int val) {
  return __atomic_fetch_add(address, val, __ATOMIC_SEQ_CST);
}
inline unsigned atomicAdd(unsigned* address, unsigned val) {
  return __atomic_fetch_add(address, val, __ATOMIC_SEQ_CST);
}
inline unsigned long long atomicAdd(unsigned long long* address, unsigned long long val) {
  return __atomic_fetch_add(address, val, __ATOMIC_SEQ_CST);
}
inline float atomicAdd(float* address, float val) {
  return kiln_emu::internal::AtomicUpdate(address, [val](float old) { return old + val; });
}
inline double atomicAdd(double* address, double val) {
  return kiln_emu::internal::AtomicUpdate(address, [val](double old) { return old + val; });
}

inline int atomicCAS(int* address, int compare, int val) {
  __atomic_compare_exchange_n(address, &compare, val, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
  return compare;  // On failure the builtin stored the current value here.
}
inline unsigned atomicCAS(unsigned* address, unsigned compare, unsigned val) {
  __atomic_compare_exchange_n(address, &compare, val, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
  return compare;
}
inline unsigned long long atomicCAS(unsigned long long* address, unsigned long long compare,
                                    unsigned long long val) {
  __atomic_compare_exchange_n(address, &compare, val, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
  return compare;
}

inline int atomicOr(int* address, int val) {
  return __atomic_fetch_or(address, val, __ATOMIC_SEQ_CST);
}
inline unsigned atomicOr(unsigned* address, unsigned val) {
  return __atomic_fetch_or(address, val, __ATOMIC_SEQ_CST);
}
inline int atomicAnd(int* address, int val) {
  return __atomic_fetch_and(address, val, __ATOMIC_SEQ_CST);
}
inline unsigned atomicAnd(unsigned* address, unsigned val) {
  return __atomic_fetch_and(address, val, __ATOMIC_SEQ_CST);
}

inline int atomicMax(int* address, int val) {
  return kiln_emu::internal::AtomicUpdate(address,
                                          [val](int old) { return old > val ? old : val; });
}
inline unsigned atomicMax(unsigned* address, unsigned val) {
  return kiln_emu::internal::AtomicUpdate(address,
                                          [val](unsigned old) { return old > val ? old : val; });
}
inline int atomicMin(int* address, int val) {
  return kiln_emu::internal::AtomicUpdate(address,
                                          [val](int old) { return old < val ? old : val; });
}
inline unsigned atomicMin(unsigned* address, unsigned val) {
  return kiln_emu::internal::AtomicUpdate(address,
                                          [val](unsigned old) { return old < val ? old : val; });
}

inline int atomicExch(int* address, int val) {
  return __atomic_exchange_n(address, val, __ATOMIC_SEQ_CST);
}
inline unsigned atomicExch(unsigned* address, unsigned val) {
  return __atomic_exchange_n(address, val, __ATOMIC_SEQ_CST);
}
inline float atomicExch(float* address, float val) {
  float old;
  __atomic_exchange(address, &val, &old, __ATOMIC_SEQ_CST);
  return old;
}

// ---- Bit casts ---------------------------------------------------------------------------

inline float __int_as_float(int x) { return kiln_emu::internal::BitCast<float>(x); }
inline int __float_as_int(float x) { return kiln_emu::internal::BitCast<int>(x); }
inline float __uint_as_float(unsigned x) { return kiln_emu::internal::BitCast<float>(x); }
inline unsigned __float_as_uint(float x) { return kiln_emu::internal::BitCast<unsigned>(x); }
inline double __longlong_as_double(long long x) { return kiln_emu::internal::BitCast<double>(x); }
inline long long __double_as_longlong(double x) {
  return kiln_emu::internal::BitCast<long long>(x);
}

// ---- Math: the C library's functions that device code calls by the same names ----------

// Declared here rather than through <math.h>, which in C++ pulls in <cmath>. The
// declarations match glibc's, so a unit may include <cmath> as well.
extern "C" {
float expf(float) noexcept;
float logf(float) noexcept;
float sqrtf(float) noexcept;
float fabsf(float) noexcept;
float tanhf(float) noexcept;
float erff(float) noexcept;
float sinf(float) noexcept;
float cosf(float) noexcept;
float floorf(float) noexcept;
float ceilf(float) noexcept;
float rintf(float) noexcept;
float fmaxf(float, float) noexcept;
float fminf(float, float) noexcept;
double exp(double) noexcept;
double log(double) noexcept;
double sqrt(double) noexcept;
double fabs(double) noexcept;
double tanh(double) noexcept;
double erf(double) noexcept;
double sin(double) noexcept;
double cos(double) noexcept;
double floor(double) noexcept;
double ceil(double) noexcept;
double rint(double) noexcept;
double pow(double, double) noexcept;
}

// glibc declares these itself from version 2.41 on (C23).
#if !defined(__GLIBC__) || __GLIBC__ < 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ < 41)
inline float rsqrtf(float x) { return 1.0f / sqrtf(x); }
inline double rsqrt(double x) { return 1.0 / sqrt(x); }
#endif

#endif  // KILN_BACKENDS_CUDA_CUDA_EMULATION_H_
