#include "backends/cuda/nvrtc_compiler.h"

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "backends/cpu/disk_cache.h"
#include "util/config.h"
#include "util/hash.h"
#include "util/metrics.h"
#include "util/mutex.h"
#include "util/status_macros.h"

#if KILN_HAVE_NVRTC
#include <nvrtc.h>
#endif

namespace kiln::cuda {

#if KILN_HAVE_NVRTC

namespace {

// Every NVRTC call goes through this: the call's text, where it was made and NVRTC's
// message go into the error.
#define KILN_NVRTC_CHECK(call)                                                        \
  do {                                                                                \
    const nvrtcResult kiln_nvrtc_result = (call);                                     \
    if (kiln_nvrtc_result != NVRTC_SUCCESS) {                                         \
      return absl::InternalError(absl::StrCat(#call, " at ", __FILE__, ":", __LINE__, \
                                              ": ", nvrtcGetErrorString(kiln_nvrtc_result))); \
    }                                                                                 \
  } while (0)

// Destroys the program on every path out of CompileCuda.
struct ProgramDeleter {
  nvrtcProgram program = nullptr;
  ~ProgramDeleter() {
    if (program != nullptr) nvrtcDestroyProgram(&program);
  }
};

}  // namespace

bool HaveNvrtc() { return true; }

std::string NvrtcVersion() {
  int major = 0, minor = 0;
  if (nvrtcVersion(&major, &minor) != NVRTC_SUCCESS) return "";
  return absl::StrCat(major, ".", minor);
}

absl::StatusOr<CubinResult> CompileCuda(const std::string& source, const std::string& arch,
                                        const std::string& name) {
  ProgramDeleter program;
  KILN_NVRTC_CHECK(
      nvrtcCreateProgram(&program.program, source.c_str(), name.c_str(), 0, nullptr, nullptr));
  const std::string arch_option = absl::StrCat("--gpu-architecture=", arch);
  std::vector<const char*> options = {arch_option.c_str(), "--std=c++17", "-default-device",
                                      "--ptxas-options=-v"};
  if (config().cuda_fast_math) options.push_back("--use_fast_math");
  const nvrtcResult compiled =
      nvrtcCompileProgram(program.program, static_cast<int>(options.size()), options.data());
  CubinResult result;
  size_t log_size = 0;
  KILN_NVRTC_CHECK(nvrtcGetProgramLogSize(program.program, &log_size));
  result.log.resize(log_size);
  KILN_NVRTC_CHECK(nvrtcGetProgramLog(program.program, result.log.data()));
  while (!result.log.empty() && result.log.back() == '\0') result.log.pop_back();
  if (compiled != NVRTC_SUCCESS) {
    return absl::InvalidArgumentError(absl::StrCat("nvrtcCompileProgram(", name, ", ", arch,
                                                   "): ", nvrtcGetErrorString(compiled), "\n",
                                                   result.log));
  }
  size_t cubin_size = 0;
  KILN_NVRTC_CHECK(nvrtcGetCUBINSize(program.program, &cubin_size));
  result.cubin.resize(cubin_size);
  KILN_NVRTC_CHECK(nvrtcGetCUBIN(program.program, result.cubin.data()));
  result.kernels = ParsePtxasInfo(result.log);
  return result;
}

#undef KILN_NVRTC_CHECK

#else  // !KILN_HAVE_NVRTC

bool HaveNvrtc() { return false; }

std::string NvrtcVersion() { return ""; }

absl::StatusOr<CubinResult> CompileCuda(const std::string&, const std::string&,
                                        const std::string&) {
  return absl::UnavailableError("kiln was built without the CUDA toolkit: no NVRTC");
}

#endif

namespace {

// A disk entry: the resources as text lines ("name registers stores loads"), a NUL, then
// the CUBIN.
std::string EncodeCubin(const CubinResult& r) {
  std::string text;
  for (const KernelResources& k : r.kernels) {
    absl::StrAppend(&text, k.name, " ", k.registers, " ", k.spill_stores, " ", k.spill_loads,
                    "\n");
  }
  return absl::StrCat(text, std::string(1, '\0'), r.cubin);
}

absl::StatusOr<CubinResult> DecodeCubin(const std::string& bytes) {
  const size_t nul = bytes.find('\0');
  if (nul == std::string::npos) return absl::DataLossError("cubin entry without resources");
  CubinResult r;
  r.cubin = bytes.substr(nul + 1);
  for (absl::string_view line : absl::StrSplit(bytes.substr(0, nul), '\n', absl::SkipEmpty())) {
    const std::vector<std::string> f = absl::StrSplit(line, ' ');
    KernelResources k;
    if (f.size() != 4 || !absl::SimpleAtoi(f[1], &k.registers) ||
        !absl::SimpleAtoi(f[2], &k.spill_stores) || !absl::SimpleAtoi(f[3], &k.spill_loads)) {
      return absl::DataLossError("malformed cubin entry");
    }
    k.name = f[0];
    r.kernels.push_back(std::move(k));
  }
  return r;
}

}  // namespace

absl::StatusOr<std::shared_ptr<const CubinResult>> CompileCudaCached(const std::string& source,
                                                                     const std::string& arch,
                                                                     const std::string& name) {
  static metrics::Counter* memory_hits = metrics::GetCounter("CubinMemoryHit");
  static metrics::Counter* disk_hits = metrics::GetCounter("CubinDiskHit");
  static metrics::Counter* compiled = metrics::GetCounter("CubinCompiled");
  constinit static Mutex mu;
  static auto* memory = new absl::flat_hash_map<Hash128, std::shared_ptr<const CubinResult>>();
  const Hash128 key = HashBuilder()
                          .AddString("kiln cubin")
                          .AddString(KILN_VERSION)
                          .AddString(NvrtcVersion())
                          .AddString(arch)
                          .Add(static_cast<uint64_t>(config().cuda_fast_math))
                          .Add(HashString(source))
                          .Finish();
  {
    MutexLock lock(&mu);
    if (auto it = memory->find(key); it != memory->end()) {
      memory_hits->Add();
      return it->second;
    }
  }
  const std::string dir = config().disk_cache ? config().cache_dir : "";
  std::shared_ptr<const CubinResult> result;
  if (!dir.empty()) {
    absl::StatusOr<std::string> bytes = cpu::DiskCache(dir).LookupBytes(key);
    if (bytes.ok()) {
      absl::StatusOr<CubinResult> decoded = DecodeCubin(*bytes);
      if (decoded.ok()) {
        disk_hits->Add();
        result = std::make_shared<const CubinResult>(*std::move(decoded));
      }
    }
  }
  if (result == nullptr) {
    ASSIGN_OR_RETURN(CubinResult fresh, CompileCuda(source, arch, name));
    compiled->Add();
    // A cache that cannot be written costs a recompile next time, nothing more.
    if (!dir.empty()) cpu::DiskCache(dir).StoreBytes(key, EncodeCubin(fresh)).IgnoreError();
    result = std::make_shared<const CubinResult>(std::move(fresh));
  }
  MutexLock lock(&mu);
  memory->emplace(key, result);
  return result;
}

absl::StatusOr<std::vector<std::shared_ptr<const CubinResult>>> CompileCudaUnits(
    const std::vector<std::string>& sources, const std::string& arch, const std::string& name) {
  const size_t n = sources.size();
  std::vector<absl::StatusOr<std::shared_ptr<const CubinResult>>> results(
      n, absl::UnknownError("not compiled"));
  std::atomic<size_t> next{0};
  auto work = [&] {
    for (size_t k = next++; k < n; k = next++) {
      results[k] = CompileCudaCached(sources[k], arch, absl::StrCat(name, "_", k, ".cu"));
    }
  };
  const size_t threads = std::min<size_t>(n, std::max(1u, std::thread::hardware_concurrency()));
  std::vector<std::thread> pool;
  for (size_t t = 1; t < threads; ++t) pool.emplace_back(work);
  work();
  for (std::thread& t : pool) t.join();
  std::vector<std::shared_ptr<const CubinResult>> cubins;
  for (auto& r : results) {
    if (!r.ok()) return r.status();
    cubins.push_back(*std::move(r));
  }
  return cubins;
}

std::vector<KernelResources> ParsePtxasInfo(const std::string& log) {
  // ptxas info    : Compiling entry function 'kiln_k0_n0' for 'sm_90'
  // ptxas         .     0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
  // ptxas info    : Used 16 registers, used 0 barriers
  std::vector<KernelResources> kernels;
  for (absl::string_view line : absl::StrSplit(log, '\n')) {
    const size_t entry = line.find("Compiling entry function '");
    if (entry != absl::string_view::npos) {
      const size_t start = entry + 26;
      const size_t end = line.find('\'', start);
      kernels.push_back({std::string(line.substr(start, end - start))});
      continue;
    }
    if (kernels.empty()) continue;
    KernelResources& k = kernels.back();
    // The number before `marker` on this line, if the marker is there.
    auto number_before = [&](absl::string_view marker, int64_t* out) {
      const size_t at = line.find(marker);
      if (at == absl::string_view::npos) return;
      size_t begin = at;
      while (begin > 0 && line[begin - 1] == ' ') --begin;
      size_t digits = begin;
      while (digits > 0 && line[digits - 1] >= '0' && line[digits - 1] <= '9') --digits;
      int64_t value = 0;
      if (absl::SimpleAtoi(line.substr(digits, begin - digits), &value)) *out = value;
    };
    number_before("bytes spill stores", &k.spill_stores);
    number_before("bytes spill loads", &k.spill_loads);
    int64_t registers = -1;
    number_before("registers", &registers);
    if (registers >= 0) k.registers = static_cast<int>(registers);
  }
  return kernels;
}

}  // namespace kiln::cuda
