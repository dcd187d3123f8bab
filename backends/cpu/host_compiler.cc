#include "backends/cpu/host_compiler.h"

#include <dlfcn.h>
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <future>
#include <map>
#include <mutex>
#include <set>
#include <system_error>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "backends/cpu/disk_cache.h"
#include "util/config.h"
#include "util/metrics.h"
#include "util/status_macros.h"

extern char** environ;

// Part of every cache key, so a new kiln never loads code an older one generated.
#ifndef KILN_VERSION
#define KILN_VERSION "unknown"
#endif

namespace kiln::cpu {
namespace {

// Compiler messages past this are cut in the Status (the full log is kept on disk).
constexpr size_t kMaxMessageBytes = 4000;

struct ProcessResult {
  int exit_code = 0;   // -1 when killed by a signal
  std::string output;  // stdout and stderr, interleaved as the process wrote them
};

// Runs argv[0] (looked up in PATH) with `argv` and no shell, stdin from /dev/null.
absl::StatusOr<ProcessResult> RunProcess(const std::vector<std::string>& argv) {
  int pipe_fds[2];
  // O_CLOEXEC: a compiler spawned by another thread at the same time must not inherit the
  // write end, or this read would wait for that other compiler to exit.
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) {
    return absl::InternalError(absl::StrCat("pipe: ", std::strerror(errno)));
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], 1);
  posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], 2);
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid;
  const int err = ::posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(pipe_fds[1]);
  if (err != 0) {
    ::close(pipe_fds[0]);
    return absl::Status(absl::ErrnoToStatusCode(err),
                        absl::StrCat("cannot run '", argv[0], "': ", std::strerror(err)));
  }
  ProcessResult result;
  char buffer[4096];
  while (true) {
    const ssize_t n = ::read(pipe_fds[0], buffer, sizeof(buffer));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    result.output.append(buffer, static_cast<size_t>(n));
  }
  ::close(pipe_fds[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return absl::InternalError(absl::StrCat("waitpid: ", std::strerror(errno)));
  }
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

// For messages only: argv as one line a shell would read back the same way.
std::string CommandLine(const std::vector<std::string>& argv) {
  std::vector<std::string> quoted;
  for (const std::string& a : argv) {
    if (!a.empty() && a.find_first_of(" \t\n'\"\\$`*?;&|<>()") == std::string::npos) {
      quoted.push_back(a);
    } else {
      quoted.push_back(absl::StrCat("'", absl::StrReplaceAll(a, {{"'", "'\\''"}}), "'"));
    }
  }
  return absl::StrJoin(quoted, " ");
}

std::vector<std::string> SplitFlags(const std::string& flags) {
  return absl::StrSplit(flags, absl::ByAnyChar(" \t\n"), absl::SkipEmpty());
}

// What identifies the generated code besides its source: which compiler (and version)
// and which CPU -march=native means here. Queried once per process per compiler, since
// each query runs the compiler (tens of milliseconds).
struct CompilerInfo {
  std::string identity;  // first line of `<cxx> --version`
  std::string target;    // what "native" resolves to; empty when the flags never say native
};

absl::StatusOr<std::string> QueryIdentity(const std::string& cxx) {
  absl::StatusOr<ProcessResult> run = RunProcess({cxx, "--version"});
  if (!run.ok()) {
    return absl::FailedPreconditionError(
        absl::StrCat("host C++ compiler '", cxx,
                     "' not found or not runnable (set KILN_CXX): ", run.status().message()));
  }
  if (run->exit_code != 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("'", cxx, " --version' failed (exit status ", run->exit_code,
                     "); is KILN_CXX a C++ compiler?\n", run->output.substr(0, kMaxMessageBytes)));
  }
  return std::string(absl::StripAsciiWhitespace(run->output.substr(0, run->output.find('\n'))));
}

// gcc: `-march=native -Q --help=target` lists the resolved -march plus every -m option;
// all of it goes into the key, so two CPUs with the same -march name but different
// features (e.g. AVX-512 fused off) never share code. clang: the -target-cpu and
// -target-feature arguments of the cc1 command that `-###` prints. Empty when neither
// works: the key then holds the flags only.
std::string QueryNativeTarget(const std::string& cxx, const std::string& identity) {
  if (!absl::StrContains(identity, "clang")) {
    absl::StatusOr<ProcessResult> run = RunProcess({cxx, "-march=native", "-Q", "--help=target"});
    if (run.ok() && run->exit_code == 0) {
      for (absl::string_view line : absl::StrSplit(run->output, '\n')) {
        line = absl::StripAsciiWhitespace(line);
        if (absl::StartsWith(line, "-march=")) {
          return absl::StrCat(
              std::string(absl::StripAsciiWhitespace(line.substr(7))), " (options ",
              HashString(std::string_view(run->output.data(), run->output.size())).ToString(), ")");
        }
      }
    }
  }
  absl::StatusOr<ProcessResult> run =
      RunProcess({cxx, "-###", "-march=native", "-x", "c++", "-c", "/dev/null", "-o", "/dev/null"});
  if (!run.ok() || run->exit_code != 0) return "";
  std::vector<std::string> target;
  std::vector<absl::string_view> tokens =
      absl::StrSplit(run->output, absl::ByAnyChar(" \n"), absl::SkipEmpty());
  for (size_t i = 0; i + 1 < tokens.size(); ++i) {
    if (tokens[i] == "\"-target-cpu\"" || tokens[i] == "\"-target-feature\"") {
      target.emplace_back(tokens[i + 1]);
    }
  }
  return absl::StrJoin(target, " ");
}

absl::StatusOr<CompilerInfo> GetCompilerInfo(const std::string& cxx, bool native) {
  static std::mutex mu;
  static auto* cache = new std::map<std::pair<std::string, bool>, CompilerInfo>;
  {
    std::lock_guard<std::mutex> lock(mu);
    auto it = cache->find({cxx, native});
    if (it != cache->end()) return it->second;
  }
  // Queried outside the lock; two threads may both query, with the same answer.
  CompilerInfo info;
  ASSIGN_OR_RETURN(info.identity, QueryIdentity(cxx));
  if (native) info.target = QueryNativeTarget(cxx, info.identity);
  std::lock_guard<std::mutex> lock(mu);
  return cache->emplace(std::make_pair(cxx, native), info).first->second;
}

// Only letters, digits, '_' and '-' from the hint reach file names.
std::string FileStem(const std::string& name_hint) {
  std::string stem;
  for (char c : name_hint.substr(0, 64)) {
    stem.push_back(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' ? c : '_');
  }
  return stem.empty() ? "kernel" : stem;
}

absl::Status WriteTextFile(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  out.close();
  if (!out) return absl::InternalError(absl::StrCat("cannot write ", path));
  return absl::OkStatus();
}

absl::StatusOr<std::string> MakeTemporaryDirectory(const std::string& stem) {
  std::error_code ec;
  std::filesystem::path base = std::filesystem::temp_directory_path(ec);
  if (ec) base = "/tmp";
  std::string pattern = (base / absl::StrCat("kiln-", stem, "-XXXXXX")).string();
  if (::mkdtemp(pattern.data()) == nullptr) {
    return absl::InternalError(
        absl::StrCat("cannot create a temporary directory ", pattern, ": ", std::strerror(errno)));
  }
  return pattern;
}

// Compiles `source` in a fresh private directory and returns that directory; the library
// is `<dir>/<stem>.so`. On failure the directory is kept (source, command, full log) and
// the error says where.
absl::StatusOr<std::string> RunCompiler(const std::string& source, const std::string& stem,
                                        const std::string& cxx,
                                        const std::vector<std::string>& flags) {
  ASSIGN_OR_RETURN(const std::string dir, MakeTemporaryDirectory(stem));
  const std::string source_path = absl::StrCat(dir, "/", stem, ".cc");
  const std::string library_path = absl::StrCat(dir, "/", stem, ".so");
  absl::Status written = WriteTextFile(source_path, source);
  if (!written.ok()) {
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
    return written;
  }
  std::vector<std::string> argv = {cxx};
  argv.insert(argv.end(), flags.begin(), flags.end());
  argv.insert(argv.end(), {"-o", library_path, source_path});

  static metrics::Counter* compiles = metrics::GetCounter("HostCompile");
  static metrics::Timer* compile_time = metrics::GetTimer("HostCompileTime");
  compiles->Add();
  absl::StatusOr<ProcessResult> run;
  {
    metrics::ScopedTimer timer(compile_time);
    run = RunProcess(argv);
  }
  const std::string command = CommandLine(argv);
  if (run.ok() && run->exit_code == 0) return dir;

  // Kept for the user to reproduce: cd <dir> && sh command.sh
  (void)WriteTextFile(absl::StrCat(dir, "/command.sh"), command + "\n");
  std::string message;
  if (!run.ok()) {
    message = std::string(run.status().message());
  } else {
    (void)WriteTextFile(absl::StrCat(dir, "/compiler.log"), run->output);
    message = absl::StrCat(
        run->exit_code < 0 ? "killed by a signal" : absl::StrCat("exit status ", run->exit_code),
        "\n", absl::StripTrailingAsciiWhitespace(run->output.substr(0, kMaxMessageBytes)));
    if (run->output.size() > kMaxMessageBytes) {
      absl::StrAppend(&message, "\n... (", run->output.size() - kMaxMessageBytes, " more bytes in ",
                      dir, "/compiler.log)");
    }
  }
  return absl::InternalError(absl::StrCat("host compiler failed: ", message, "\ncommand: ", command,
                                          "\nsource kept in ", source_path));
}

// Directories that failed to take an entry: used memory-only for the rest of the process,
// with one warning each.
struct UnusableDirs {
  std::mutex mu;
  std::set<std::string> dirs;
};

UnusableDirs& Unusable() {
  static auto* unusable = new UnusableDirs;
  return *unusable;
}

bool DiskCacheUnusable(const std::string& dir) {
  UnusableDirs& u = Unusable();
  std::lock_guard<std::mutex> lock(u.mu);
  return u.dirs.count(dir) > 0;
}

void MarkDiskCacheUnusable(const std::string& dir, const absl::Status& why) {
  UnusableDirs& u = Unusable();
  {
    std::lock_guard<std::mutex> lock(u.mu);
    if (!u.dirs.insert(dir).second) return;
  }
  std::fprintf(stderr,
               "kiln: warning: cannot use the disk cache %s (%s); compiled code is kept in "
               "memory only (set KILN_CACHE_DIR, or KILN_DISK_CACHE=0 to silence this)\n",
               dir.c_str(), std::string(why.message()).c_str());
}

struct Settings {
  std::string cxx;
  std::vector<std::string> flags;
  std::string cache_dir;  // empty: memory only
};

Settings CurrentSettings(const std::string& flags = "") {
  const Config& c = config();
  Settings s;
  s.cxx = c.cxx;
  s.flags = SplitFlags(flags.empty() ? c.cxxflags : flags);
  if (c.disk_cache) s.cache_dir = c.cache_dir;
  return s;
}

absl::StatusOr<Hash128> KeyFor(const std::string& source, const Settings& s) {
  bool native = false;
  for (const std::string& f : s.flags) native = native || absl::StrContains(f, "native");
  ASSIGN_OR_RETURN(const CompilerInfo info, GetCompilerInfo(s.cxx, native));
  HashBuilder h;
  h.AddString("kiln host library").AddString(KILN_VERSION);
  h.Add(HashString(source)).AddString(s.cxx).AddString(info.identity).AddString(info.target);
  h.Add(s.flags.size());
  for (const std::string& f : s.flags) h.AddString(f);
  return h.Finish();
}

// The disk cache, then the compiler; no in-memory caching here.
absl::StatusOr<std::shared_ptr<LoadedLibrary>> LoadUncached(const std::string& source,
                                                            const std::string& name_hint,
                                                            const Settings& s, const Hash128& key) {
  static metrics::Counter* hits = metrics::GetCounter("DiskCacheHit");
  static metrics::Counter* misses = metrics::GetCounter("DiskCacheMiss");
  const bool use_disk = !s.cache_dir.empty() && !DiskCacheUnusable(s.cache_dir);
  const DiskCache disk(s.cache_dir);
  if (use_disk) {
    absl::StatusOr<std::string> entry = disk.Lookup(key);
    if (entry.ok()) {
      absl::StatusOr<std::shared_ptr<LoadedLibrary>> lib = LoadedLibrary::Open(*entry);
      if (lib.ok()) {
        hits->Add();
        return lib;
      }
      entry = absl::DataLossError(std::string(lib.status().message()));
    }
    misses->Add();
    if (absl::IsDataLoss(entry.status())) {
      std::fprintf(stderr, "kiln: warning: disk cache entry unusable (%s); recompiling\n",
                   std::string(entry.status().message()).c_str());
    }
  }

  const std::string stem = FileStem(name_hint);
  ASSIGN_OR_RETURN(const std::string dir, RunCompiler(source, stem, s.cxx, s.flags));
  const std::string library_path = absl::StrCat(dir, "/", stem, ".so");
  if (use_disk) {
    absl::StatusOr<std::string> stored = disk.Store(key, library_path);
    if (stored.ok()) {
      std::error_code ec;
      std::filesystem::remove_all(dir, ec);
      return LoadedLibrary::Open(*stored);
    }
    MarkDiskCacheUnusable(s.cache_dir, stored.status());
  }
  return LoadedLibrary::Open(library_path, dir);
}

using LoadResult = absl::StatusOr<std::shared_ptr<LoadedLibrary>>;

// key -> the library (held weakly: the cache never keeps a library loaded by itself) or
// the compile in flight for it, which later askers wait on instead of compiling again.
struct MemoryEntry {
  std::weak_ptr<LoadedLibrary> library;
  std::shared_future<LoadResult> in_flight;
};

std::mutex& MemoryMutex() {
  static auto* mu = new std::mutex;
  return *mu;
}

absl::flat_hash_map<Hash128, MemoryEntry>& MemoryCache() {
  static auto* cache = new absl::flat_hash_map<Hash128, MemoryEntry>;
  return *cache;
}

// Generated code is what pulls the OpenMP runtime into the process. Unloading it with
// the last generated library, under its parked worker threads, crashes the next parallel
// region, so once loaded it is pinned for the process's life (RTLD_NOLOAD finds it,
// RTLD_NODELETE pins it). The generated libraries themselves still unload.
void PinOpenMpRuntime() {
  static std::atomic<bool> gomp_pinned{false}, omp_pinned{false};
  for (auto [name, pinned] :
       {std::pair{"libgomp.so.1", &gomp_pinned}, std::pair{"libomp.so.5", &omp_pinned}}) {
    // The handle is deliberately never closed.
    if (!pinned->load() && ::dlopen(name, RTLD_NOW | RTLD_NOLOAD | RTLD_NODELETE) != nullptr) {
      pinned->store(true);
    }
  }
}

}  // namespace

absl::StatusOr<std::shared_ptr<LoadedLibrary>> LoadedLibrary::Open(const std::string& path,
                                                                   std::string owned_dir) {
  void* handle = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle != nullptr) PinOpenMpRuntime();
  if (handle == nullptr) {
    const char* error = ::dlerror();
    if (!owned_dir.empty()) {
      std::error_code ec;
      std::filesystem::remove_all(owned_dir, ec);
    }
    return absl::InternalError(
        absl::StrCat("dlopen ", path, ": ", error != nullptr ? error : "unknown error"));
  }
  return std::shared_ptr<LoadedLibrary>(new LoadedLibrary(handle, path, std::move(owned_dir)));
}

LoadedLibrary::LoadedLibrary(void* handle, std::string path, std::string owned_dir)
    : handle_(handle), path_(std::move(path)), owned_dir_(std::move(owned_dir)) {}

LoadedLibrary::~LoadedLibrary() {
  ::dlclose(handle_);
  if (!owned_dir_.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(owned_dir_, ec);
  }
}

absl::StatusOr<void*> LoadedLibrary::Symbol(const std::string& name) const {
  ::dlerror();
  void* address = ::dlsym(handle_, name.c_str());
  if (address == nullptr) {
    const char* error = ::dlerror();
    return absl::NotFoundError(absl::StrCat("symbol '", name, "' not found in ", path_,
                                            error != nullptr ? absl::StrCat(": ", error) : ""));
  }
  return address;
}

absl::StatusOr<Hash128> LibraryKey(const std::string& source) {
  return KeyFor(source, CurrentSettings());
}

absl::StatusOr<std::shared_ptr<LoadedLibrary>> CompileAndLoad(const std::string& source,
                                                              const std::string& name_hint,
                                                              const std::string& flags) {
  const Settings settings = CurrentSettings(flags);
  ASSIGN_OR_RETURN(const Hash128 key, KeyFor(source, settings));

  std::promise<LoadResult> promise;
  {
    std::unique_lock<std::mutex> lock(MemoryMutex());
    MemoryEntry& entry = MemoryCache()[key];
    if (std::shared_ptr<LoadedLibrary> lib = entry.library.lock()) return lib;
    if (entry.in_flight.valid()) {
      std::shared_future<LoadResult> in_flight = entry.in_flight;
      lock.unlock();
      return in_flight.get();
    }
    entry.in_flight = promise.get_future().share();
  }

  LoadResult result = LoadUncached(source, name_hint, settings, key);
  {
    std::lock_guard<std::mutex> lock(MemoryMutex());
    MemoryEntry& entry = MemoryCache()[key];
    // A failure is not cached: the next ask retries (the compiler may have been fixed).
    if (result.ok()) entry.library = *result;
    entry.in_flight = {};
  }
  promise.set_value(result);
  return result;
}

void ClearMemoryCacheForTesting() {
  std::lock_guard<std::mutex> lock(MemoryMutex());
  // Compiles in flight finish and publish into the fresh map.
  MemoryCache().clear();
}

}  // namespace kiln::cpu
