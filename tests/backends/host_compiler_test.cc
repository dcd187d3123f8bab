#include "backends/cpu/host_compiler.h"

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <climits>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "backends/cpu/disk_cache.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "util/config.h"
#include "util/metrics.h"

namespace kiln::cpu {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

// Each test uses its own `bias` so that no two tests share a cache key.
std::string AddSource(int bias) {
  return absl::StrCat("extern \"C\" int kiln_test_add(int a, int b) { return a + b + ", bias,
                      "; }\n");
}

// kiln_test_add(a, b) from `lib`; INT_MIN (and a test failure) when the symbol is missing.
int CallAdd(const LoadedLibrary& lib, int a, int b) {
  absl::StatusOr<void*> symbol = lib.Symbol("kiln_test_add");
  EXPECT_TRUE(symbol.ok()) << symbol.status();
  if (!symbol.ok()) return INT_MIN;
  return reinterpret_cast<int (*)(int, int)>(*symbol)(a, b);
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

int64_t Compiles() { return metrics::counter("HostCompile"); }
int64_t DiskHits() { return metrics::counter("DiskCacheHit"); }

// Waits for `pid` and returns its exit code (-1 when it did not exit normally).
int WaitExitCode(pid_t pid) {
  int status = 0;
  if (::waitpid(pid, &status, 0) != pid || !WIFEXITED(status)) return -1;
  return WEXITSTATUS(status);
}

// In a forked child: loads AddSource(bias) and checks it; the exit code says what failed.
// `max_compiles` bounds the compiler runs the child may do.
[[noreturn]] void ChildLoadAndExit(int bias, int64_t max_compiles) {
  const int64_t compiles_before = Compiles();
  absl::StatusOr<std::shared_ptr<LoadedLibrary>> lib = CompileAndLoad(AddSource(bias), "child");
  if (!lib.ok()) {
    std::fprintf(stderr, "child: %s\n", std::string(lib.status().message()).c_str());
    ::_exit(2);
  }
  absl::StatusOr<void*> symbol = (*lib)->Symbol("kiln_test_add");
  if (!symbol.ok() || reinterpret_cast<int (*)(int, int)>(*symbol)(1, 2) != 3 + bias) ::_exit(3);
  if (Compiles() - compiles_before > max_compiles) ::_exit(4);
  ::_exit(0);
}

class HostCompilerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = ::testing::TempDir() + "/kiln_host_compiler_test_XXXXXX";
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    root_ = pattern;
    cache_dir_ = root_ + "/cache";
    cfg_->cache_dir = cache_dir_;  // never the user's real cache
    cfg_->disk_cache = true;
    ClearMemoryCacheForTesting();
  }
  void TearDown() override {
    ClearMemoryCacheForTesting();
    ::chmod(root_.c_str(), 0700);
    std::filesystem::remove_all(root_);
  }

  std::string EntryPath(int bias) {
    absl::StatusOr<Hash128> key = LibraryKey(AddSource(bias));
    EXPECT_TRUE(key.ok()) << key.status();
    return DiskCache(cache_dir_).EntryPath(key.ok() ? *key : Hash128{});
  }

  ScopedConfigOverride cfg_;
  std::string root_;
  std::string cache_dir_;
};

TEST_F(HostCompilerTest, CompilesLoadsAndCalls) {
  const int64_t compiles = Compiles();
  absl::StatusOr<std::shared_ptr<LoadedLibrary>> lib = CompileAndLoad(AddSource(0), "graph_add");
  ASSERT_TRUE(lib.ok()) << lib.status();
  EXPECT_EQ(CallAdd(**lib, 2, 3), 5);
  EXPECT_EQ(Compiles() - compiles, 1);
  EXPECT_EQ((*lib)->path(), EntryPath(0));
  EXPECT_TRUE(std::filesystem::exists((*lib)->path()));

  absl::StatusOr<void*> missing = (*lib)->Symbol("kiln_no_such_symbol");
  EXPECT_TRUE(absl::IsNotFound(missing.status()));
  EXPECT_THAT(missing.status().message(), HasSubstr("kiln_no_such_symbol"));
  EXPECT_THAT(missing.status().message(), HasSubstr((*lib)->path()));
}

TEST_F(HostCompilerTest, SameSourceCompilesOnceThenComesFromDisk) {
  const int64_t compiles = Compiles();
  // Several threads at once: one compiles, the others wait for its result.
  constexpr int kThreads = 4;
  std::vector<std::shared_ptr<LoadedLibrary>> libs(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&libs, t] {
      absl::StatusOr<std::shared_ptr<LoadedLibrary>> lib = CompileAndLoad(AddSource(1), "twice");
      if (lib.ok()) libs[t] = *lib;
    });
  }
  for (std::thread& t : threads) t.join();
  for (const auto& lib : libs) {
    ASSERT_NE(lib, nullptr);
    EXPECT_EQ(lib, libs[0]);
  }
  absl::StatusOr<std::shared_ptr<LoadedLibrary>> again = CompileAndLoad(AddSource(1), "twice");
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(*again, libs[0]);
  EXPECT_EQ(Compiles() - compiles, 1);

  // A fresh in-memory cache (as in a new process) finds the entry on disk.
  libs.clear();
  again = absl::StatusOr<std::shared_ptr<LoadedLibrary>>();
  ClearMemoryCacheForTesting();
  const int64_t hits = DiskHits();
  absl::StatusOr<std::shared_ptr<LoadedLibrary>> cached = CompileAndLoad(AddSource(1), "twice");
  ASSERT_TRUE(cached.ok()) << cached.status();
  EXPECT_EQ(CallAdd(**cached, 2, 3), 6);
  EXPECT_EQ(Compiles() - compiles, 1);
  EXPECT_EQ(DiskHits() - hits, 1);
}

TEST_F(HostCompilerTest, AnotherProcessLoadsFromDiskWithoutCompiling) {
  {
    absl::StatusOr<std::shared_ptr<LoadedLibrary>> lib = CompileAndLoad(AddSource(2), "shared");
    ASSERT_TRUE(lib.ok()) << lib.status();
  }
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ClearMemoryCacheForTesting();  // the child starts with nothing in memory
    ChildLoadAndExit(2, /*max_compiles=*/0);
  }
  EXPECT_EQ(WaitExitCode(pid), 0) << "2: load failed, 3: wrong result, 4: it compiled";
}

TEST_F(HostCompilerTest, CorruptOrTruncatedEntryIsRebuilt) {
  {
    absl::StatusOr<std::shared_ptr<LoadedLibrary>> lib = CompileAndLoad(AddSource(3), "corrupt");
    ASSERT_TRUE(lib.ok()) << lib.status();
  }
  const std::string path = EntryPath(3);
  const std::string good = ReadAll(path);
  ASSERT_GT(good.size(), 1000u);

  std::string flipped = good;
  for (size_t i = good.size() / 3; i < good.size() / 3 + 16; ++i) flipped[i] ^= 0xff;
  const std::string truncated = good.substr(0, good.size() / 2);
  for (const std::string* damaged : std::vector<const std::string*>{&flipped, &truncated}) {
    std::ofstream(path, std::ios::binary | std::ios::trunc) << *damaged;
    ClearMemoryCacheForTesting();
    const int64_t compiles = Compiles();
    const int64_t hits = DiskHits();
    ::testing::internal::CaptureStderr();
    absl::StatusOr<std::shared_ptr<LoadedLibrary>> lib = CompileAndLoad(AddSource(3), "corrupt");
    const std::string warnings = ::testing::internal::GetCapturedStderr();
    ASSERT_TRUE(lib.ok()) << lib.status();
    EXPECT_EQ(CallAdd(**lib, 2, 3), 8);
    EXPECT_EQ(Compiles() - compiles, 1);
    EXPECT_EQ(DiskHits() - hits, 0);
    EXPECT_THAT(warnings, HasSubstr("recompiling"));
    EXPECT_THAT(warnings, HasSubstr(path));
    // The entry was replaced by a good one.
    absl::StatusOr<Hash128> key = LibraryKey(AddSource(3));
    ASSERT_TRUE(key.ok());
    EXPECT_TRUE(DiskCache(cache_dir_).Lookup(*key).ok());
  }
}

TEST_F(HostCompilerTest, UnwritableCacheDirectoryFallsBackToMemory) {
  if (::geteuid() == 0) {
    // Root writes through chmod; mkdir below a regular file fails for everyone.
    const std::string file = root_ + "/file";
    std::ofstream(file) << "not a directory";
    cfg_->cache_dir = file + "/sub";
  } else {
    ASSERT_EQ(::chmod(root_.c_str(), 0500), 0);
  }
  const int64_t compiles = Compiles();
  for (int round = 0; round < 2; ++round) {
    ClearMemoryCacheForTesting();
    ::testing::internal::CaptureStderr();
    absl::StatusOr<std::shared_ptr<LoadedLibrary>> lib = CompileAndLoad(AddSource(4), "readonly");
    const std::string warnings = ::testing::internal::GetCapturedStderr();
    ASSERT_TRUE(lib.ok()) << lib.status();
    EXPECT_EQ(CallAdd(**lib, 2, 3), 9);
    EXPECT_THAT((*lib)->path(), Not(StartsWith(root_)));
    // One warning per process, not one per compile.
    if (round == 0) {
      EXPECT_THAT(warnings, HasSubstr("memory only"));
    } else {
      EXPECT_THAT(warnings, Not(HasSubstr("memory only")));
    }
  }
  EXPECT_EQ(Compiles() - compiles, 2);
}

TEST_F(HostCompilerTest, ConcurrentProcessesCompilingTheSameSourceBothSucceed) {
  std::vector<pid_t> children;
  for (int p = 0; p < 2; ++p) {
    const pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) ChildLoadAndExit(5, /*max_compiles=*/1);
    children.push_back(pid);
  }
  for (pid_t pid : children) EXPECT_EQ(WaitExitCode(pid), 0);

  const int64_t compiles = Compiles();
  absl::StatusOr<std::shared_ptr<LoadedLibrary>> lib = CompileAndLoad(AddSource(5), "race");
  ASSERT_TRUE(lib.ok()) << lib.status();
  EXPECT_EQ(CallAdd(**lib, 2, 3), 10);
  EXPECT_EQ(Compiles() - compiles, 0);
  // Only the entry is left: no temporaries from either writer.
  std::vector<std::string> files;
  for (const auto& f : std::filesystem::directory_iterator(cache_dir_)) {
    files.push_back(f.path().string());
  }
  EXPECT_THAT(files, ::testing::ElementsAre(EntryPath(5)));
}

TEST_F(HostCompilerTest, SyntaxErrorReportsCompilerMessageAndKeepsSource) {
  const std::string source = "extern \"C\" int kiln_broken( { return 1 }\n";
  absl::StatusOr<std::shared_ptr<LoadedLibrary>> lib = CompileAndLoad(source, "graph_broken");
  ASSERT_FALSE(lib.ok());
  const std::string message(lib.status().message());
  EXPECT_THAT(message, HasSubstr("error"));
  EXPECT_THAT(message, HasSubstr("graph_broken.cc"));
  EXPECT_THAT(message, HasSubstr("command: "));
  const std::string marker = "source kept in ";
  const size_t at = message.find(marker);
  ASSERT_NE(at, std::string::npos) << message;
  const std::string kept =
      message.substr(at + marker.size(), message.find('\n', at) - at - marker.size());
  ASSERT_TRUE(std::filesystem::exists(kept)) << kept;
  EXPECT_EQ(ReadAll(kept), source);
  std::filesystem::remove_all(std::filesystem::path(kept).parent_path());
}

TEST_F(HostCompilerTest, MissingCompilerIsAClearError) {
  cfg_->cxx = "/nonexistent/c++";
  absl::StatusOr<std::shared_ptr<LoadedLibrary>> lib = CompileAndLoad(AddSource(6), "nocxx");
  ASSERT_FALSE(lib.ok());
  EXPECT_THAT(lib.status().message(), HasSubstr("/nonexistent/c++"));
  EXPECT_THAT(lib.status().message(), HasSubstr("KILN_CXX"));
  EXPECT_THAT(lib.status().message(), HasSubstr("not found"));
}

TEST_F(HostCompilerTest, DiskCacheOffWritesNothing) {
  cfg_->disk_cache = false;
  std::string library_path;
  {
    absl::StatusOr<std::shared_ptr<LoadedLibrary>> lib = CompileAndLoad(AddSource(7), "nodisk");
    ASSERT_TRUE(lib.ok()) << lib.status();
    EXPECT_EQ(CallAdd(**lib, 2, 3), 12);
    library_path = (*lib)->path();
    EXPECT_TRUE(std::filesystem::exists(library_path));
  }
  EXPECT_FALSE(std::filesystem::exists(cache_dir_));
  // The private temporary directory goes with the library.
  EXPECT_FALSE(std::filesystem::exists(library_path));
}

}  // namespace
}  // namespace kiln::cpu
