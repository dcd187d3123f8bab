#pragma once
// The host C++ compiler as a JIT: generated source in, a loaded shared library out.
//
//   ASSIGN_OR_RETURN(std::shared_ptr<LoadedLibrary> lib,
//                    CompileAndLoad(source, "graph_1a2b3c"));
//   ASSIGN_OR_RETURN(void* fn, lib->Symbol("kiln_graph_main"));
//
// Compiling is slow (a fraction of a second for a tiny unit), so libraries are cached
// twice: in memory for this process and on disk for the machine (backends/cpu/disk_cache.h).
// The compiler is run with an argv (never through a shell), so generated or user-provided
// text is never interpreted as shell syntax.
//
// Configuration (util/config.h): KILN_CXX, KILN_CXXFLAGS, KILN_CACHE_DIR, KILN_DISK_CACHE.
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "util/hash.h"

namespace kiln::cpu {

// A shared library built from generated source and loaded with dlopen; dlclose'd when
// the last reference goes (the OpenMP runtime it loads stays: see Open). Shared because every
// executable compiled from the same source uses the same loaded code. Symbol() is thread-safe.
class LoadedLibrary {
 public:
  // dlopens `path` (RTLD_NOW | RTLD_LOCAL, so unresolved symbols fail here rather than at
  // the first call). The OpenMP runtime it loads is pinned, never unloaded with it. When
  // `owned_dir` is not empty it is a private directory holding the library, removed with everything
  // in it when the library is closed.
  static absl::StatusOr<std::shared_ptr<LoadedLibrary>> Open(const std::string& path,
                                                             std::string owned_dir = "");
  ~LoadedLibrary();
  LoadedLibrary(const LoadedLibrary&) = delete;
  LoadedLibrary& operator=(const LoadedLibrary&) = delete;

  // The address of the extern "C" symbol `name`; NotFound naming the symbol and library.
  absl::StatusOr<void*> Symbol(const std::string& name) const;
  // Where the library file is (in the disk cache, or a temporary directory).
  const std::string& path() const { return path_; }

 private:
  LoadedLibrary(void* handle, std::string path, std::string owned_dir);

  void* handle_;
  std::string path_;
  std::string owned_dir_;
};

// Compiles one translation unit of C++ (`source`) into a shared library with the
// configured compiler and flags, and loads it. Libraries are cached in memory and on disk
// by a key over the source, compiler identity and version, flags, the target CPU and
// kiln's version, so the same source is compiled once per machine. `name_hint` names the
// kept files (e.g. "graph_1a2b3c"). A compiler failure is an error with the compiler's
// message and the path of the kept source file. `flags`, when not empty, replaces the
// configured flags (KILN_CXXFLAGS).
//
// Thread-safe. Two threads asking for the same source at once compile it once: the second
// waits for the first's result. The in-memory cache holds libraries weakly, so a library
// nobody uses is closed; asking for it again reloads it from the disk cache.
absl::StatusOr<std::shared_ptr<LoadedLibrary>> CompileAndLoad(const std::string& source,
                                                              const std::string& name_hint,
                                                              const std::string& flags = "");

// The cache key CompileAndLoad uses for `source` under the current configuration (runs
// the compiler once per process to learn its identity and target CPU).
absl::StatusOr<Hash128> LibraryKey(const std::string& source);

// For tests: forgets every library in the in-memory cache (libraries still referenced stay
// loaded), so the next CompileAndLoad goes to the disk cache or the compiler.
void ClearMemoryCacheForTesting();

}  // namespace kiln::cpu
