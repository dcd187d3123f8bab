#include "backends/cpu/disk_cache.h"

#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kiln::cpu {
namespace {

using ::testing::HasSubstr;

constexpr Hash128 kKey{0x1234, 0x5678};

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void WriteAll(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << bytes;
}

class DiskCacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = ::testing::TempDir() + "/kiln_disk_cache_test_XXXXXX";
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    root_ = pattern;
    library_path_ = root_ + "/lib.so";
    // Not a real library: the cache only moves and checks bytes.
    library_ =
        "\x7f"
        "ELF fake library bytes";
    library_.append(1000, 'x');
    WriteAll(library_path_, library_);
  }
  void TearDown() override { std::filesystem::remove_all(root_); }

  // Files in `dir` whose names start with '.' (unrenamed temporaries).
  static int Temporaries(const std::string& dir) {
    int n = 0;
    for (const auto& f : std::filesystem::directory_iterator(dir)) {
      n += f.path().filename().string().starts_with(".");
    }
    return n;
  }

  std::string root_;
  std::string library_path_;
  std::string library_;
};

TEST_F(DiskCacheTest, StoreThenLookupRoundTrips) {
  const DiskCache cache(root_ + "/a/b/cache");
  absl::StatusOr<std::string> stored = cache.Store(kKey, library_path_);
  ASSERT_TRUE(stored.ok()) << stored.status();
  EXPECT_EQ(*stored, cache.EntryPath(kKey));
  EXPECT_EQ(*stored, root_ + "/a/b/cache/" + kKey.ToString() + ".so");

  absl::StatusOr<std::string> found = cache.Lookup(kKey);
  ASSERT_TRUE(found.ok()) << found.status();
  EXPECT_EQ(*found, *stored);
  // The library's bytes come first, unchanged, so the loader sees a normal file.
  const std::string entry = ReadAll(*found);
  EXPECT_EQ(entry.substr(0, library_.size()), library_);
  EXPECT_GT(entry.size(), library_.size());
  EXPECT_EQ(Temporaries(cache.dir()), 0);
  // The directory kiln created is private to its owner.
  struct stat st;
  ASSERT_EQ(::stat(cache.dir().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
}

TEST_F(DiskCacheTest, MissingEntryOrDirectoryIsNotFound) {
  EXPECT_TRUE(absl::IsNotFound(DiskCache(root_).Lookup(kKey).status()));
  EXPECT_TRUE(absl::IsNotFound(DiskCache(root_ + "/absent").Lookup(kKey).status()));
  // A "directory" below a regular file.
  EXPECT_TRUE(absl::IsNotFound(DiskCache(library_path_ + "/sub").Lookup(kKey).status()));
}

TEST_F(DiskCacheTest, FlippedBytesAreDetected) {
  const DiskCache cache(root_);
  ASSERT_TRUE(cache.Store(kKey, library_path_).ok());
  const std::string path = cache.EntryPath(kKey);
  std::string entry = ReadAll(path);
  entry[500] ^= 0x40;
  WriteAll(path, entry);
  absl::StatusOr<std::string> found = cache.Lookup(kKey);
  EXPECT_TRUE(absl::IsDataLoss(found.status())) << found.status();
  EXPECT_THAT(found.status().message(), HasSubstr("checksum"));
  EXPECT_THAT(found.status().message(), HasSubstr(path));
}

TEST_F(DiskCacheTest, TruncatedEntriesAreDetected) {
  const DiskCache cache(root_);
  ASSERT_TRUE(cache.Store(kKey, library_path_).ok());
  const std::string path = cache.EntryPath(kKey);
  const std::string entry = ReadAll(path);
  for (size_t size : {size_t{0}, size_t{10}, library_.size() / 2, entry.size() - 1}) {
    WriteAll(path, entry.substr(0, size));
    EXPECT_TRUE(absl::IsDataLoss(cache.Lookup(kKey).status())) << "size " << size;
  }
  // Bytes appended after the trailer are damage too.
  WriteAll(path, entry + "x");
  EXPECT_TRUE(absl::IsDataLoss(cache.Lookup(kKey).status()));
}

TEST_F(DiskCacheTest, OtherFormatVersionIsRejected) {
  std::string entry = EncodeEntry(library_, kKey);
  ASSERT_TRUE(VerifyEntry(entry, kKey).ok());
  // The version follows the 8-byte magic at the start of the 56-byte trailer.
  const size_t version_offset = library_.size() + 8;
  ASSERT_EQ(entry.size(), library_.size() + 56);
  entry[version_offset] = static_cast<char>(kDiskCacheFormatVersion + 1);
  absl::Status status = VerifyEntry(entry, kKey);
  EXPECT_TRUE(absl::IsDataLoss(status));
  EXPECT_THAT(status.message(), HasSubstr("format version"));
}

TEST_F(DiskCacheTest, EntryUnderAnotherKeyIsRejected) {
  const std::string entry = EncodeEntry(library_, kKey);
  absl::Status status = VerifyEntry(entry, Hash128{1, 2});
  EXPECT_TRUE(absl::IsDataLoss(status));
  EXPECT_THAT(status.message(), HasSubstr("another key"));
}

TEST_F(DiskCacheTest, StoreIntoUncreatableDirectoryFailsCleanly) {
  // mkdir below a regular file fails even for root (chmod would not stop root).
  const DiskCache cache(library_path_ + "/sub");
  absl::StatusOr<std::string> stored = cache.Store(kKey, library_path_);
  EXPECT_FALSE(stored.ok());
  EXPECT_THAT(stored.status().message(), HasSubstr(cache.dir()));
  // A library that cannot be read is an error too, and leaves nothing behind.
  const DiskCache good(root_ + "/cache");
  EXPECT_FALSE(good.Store(kKey, root_ + "/missing.so").ok());
  EXPECT_TRUE(absl::IsNotFound(good.Lookup(kKey).status()));
}

// A disk that fills up mid-entry, simulated in a child process by a file size limit (the
// write fails as with ENOSPC, with EFBIG): the store fails naming the file, and neither a
// partial entry nor a temporary is left.
TEST_F(DiskCacheTest, AFullDiskFailsTheStoreAndLeavesNothing) {
  const DiskCache cache(root_ + "/full");
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::signal(SIGXFSZ, SIG_IGN);  // a failed write instead of the signal's default, exit
    const rlimit limit{512, 512};
    if (::setrlimit(RLIMIT_FSIZE, &limit) != 0) ::_exit(3);
    const absl::StatusOr<std::string> stored = cache.Store(kKey, library_path_);
    if (stored.ok()) ::_exit(1);
    if (stored.status().message().find("cannot write") == std::string_view::npos) ::_exit(2);
    ::_exit(0);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "status " << status;
  EXPECT_TRUE(absl::IsNotFound(cache.Lookup(kKey).status()));
  EXPECT_EQ(Temporaries(cache.dir()), 0);
  // With room again, the same store succeeds.
  EXPECT_TRUE(cache.Store(kKey, library_path_).ok());
  EXPECT_TRUE(cache.Lookup(kKey).ok());
}

TEST_F(DiskCacheTest, ConcurrentWritersFromSeveralProcessesAllSucceed) {
  const DiskCache cache(root_ + "/shared");
  constexpr int kProcesses = 4;
  std::vector<pid_t> children;
  for (int p = 0; p < kProcesses; ++p) {
    const pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      for (int i = 0; i < 50; ++i) {
        if (!cache.Store(kKey, library_path_).ok()) ::_exit(1);
        // A reader racing the writers sees a whole entry, never a partial one.
        if (!cache.Lookup(kKey).ok()) ::_exit(2);
      }
      ::_exit(0);
    }
    children.push_back(pid);
  }
  for (pid_t pid : children) {
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "status " << status;
  }
  EXPECT_TRUE(cache.Lookup(kKey).ok());
  EXPECT_EQ(Temporaries(cache.dir()), 0);
}

}  // namespace
}  // namespace kiln::cpu
