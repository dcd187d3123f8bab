#pragma once
// Every KILN_* environment variable, read once into one Config. Code reads
// `kiln::config()`; tests change values with ScopedConfigOverride, never with setenv.
//
//   KILN_DEVICE=interp|cpu|cuda|cuda_emulated   backend (default cpu)
//   KILN_CACHE_SIZE=N             in-memory compile cache entries (default 1024)
//   KILN_DEBUG=0|1|2              1: explain every compile; 2: also print its IR
//   KILN_DUMP_DIR=dir             write each compiled graph's IR text to dir/<hash>.kir
//   KILN_ERROR_ON_RECOMPILE=0|1   a recompile of a known graph structure throws
//   KILN_CXX=path                 host C++ compiler for the cpu backend (default c++)
//   KILN_CXXFLAGS="flags"         its flags, split on whitespace (no shell quoting); an
//                                 override replaces them all, so keep -fPIC -shared
//   KILN_CACHE_DIR=dir            on-disk cache of compiled code (default
//                                 $XDG_CACHE_HOME/kiln, else $HOME/.cache/kiln)
//   KILN_DISK_CACHE=0|1           0: keep compiled code in memory only (default 1)
//   KILN_NUM_THREADS=N            cpu backend threads; 0 = all available cores (default)
//   KILN_CUDA_FAST_MATH=0|1       cuda: NVRTC's --use_fast_math (default 0: IEEE results)
//   KILN_ALLOW_TF32=0|1           cuda: f32 matmuls may use TF32 tensor cores (default 0)
//   KILN_PROFILE=0|1              per-kernel timings (default 0)
//   KILN_BATCH_SLICING=0|1        cpu: run chains of batched kernels (attention) one batch
//                                 slice at a time (default 1)
//   KILN_TRACE=file               write a trace of compiles and kernel runs to file
//   KILN_CHECK_NAN=0|1            every backend: stop a run at the first kernel (interp: node)
//                                 that writes a NaN or infinity (backends/nan_check.h)
#include <cstdint>
#include <string>
#include <vector>

namespace kiln {

struct Config {
  std::string device = "cpu";
  int64_t cache_size = 1024;
  int debug = 0;
  std::string dump_dir;
  bool error_on_recompile = false;
  std::string cxx = "c++";
  // The flags that make a loadable shared library from one translation unit.
  // -fno-math-errno lets sqrt be one (vectorisable) instruction: nothing reads errno, and
  // no result changes. No -ffast-math: kernels keep IEEE semantics (codegen/kernel_math.h
  // vectorises exp/tanh/... without it).
  std::string cxxflags = "-O3 -march=native -fopenmp -fno-math-errno -fPIC -shared";
  // Empty when neither KILN_CACHE_DIR, XDG_CACHE_HOME nor HOME is set: memory only.
  std::string cache_dir;
  bool disk_cache = true;
  int num_threads = 0;
  bool cuda_fast_math = false;
  bool allow_tf32 = false;
  bool profile = false;
  bool batch_slicing = true;
  bool avx2_sgemm = true;
  std::string trace;
  bool check_nan = false;
};

// Parses `env` (NAME=value strings, like environ). Unknown KILN_* names and values that
// do not parse are reported in `warnings` and leave the default in place.
Config ParseConfig(const std::vector<std::string>& env, std::vector<std::string>* warnings);

// The process-wide configuration, read from the environment on first use (warnings go
// to stderr). Not synchronised: change it only through ScopedConfigOverride, in tests.
const Config& config();

// Replaces the configuration for the lifetime of this object, then restores it.
//
//   ScopedConfigOverride cfg;
//   cfg->debug = 1;
class ScopedConfigOverride {
 public:
  ScopedConfigOverride();
  ~ScopedConfigOverride();
  ScopedConfigOverride(const ScopedConfigOverride&) = delete;
  ScopedConfigOverride& operator=(const ScopedConfigOverride&) = delete;

  Config* operator->();
  Config& operator*();

 private:
  Config saved_;
};

}  // namespace kiln
