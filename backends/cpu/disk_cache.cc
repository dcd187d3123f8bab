#include "backends/cpu/disk_cache.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <system_error>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "util/status_macros.h"

namespace kiln::cpu {
namespace {

constexpr char kMagic[8] = {'K', 'I', 'L', 'N', 'L', 'I', 'B', '\0'};

// Stored in native byte order: an entry is only ever read on the machine (and CPU) that
// the key was computed for.
struct Trailer {
  char magic[8];
  uint32_t format_version;
  uint32_t reserved;
  uint64_t library_size;
  uint64_t checksum_low;
  uint64_t checksum_high;
  uint64_t key_low;
  uint64_t key_high;
};
static_assert(sizeof(Trailer) == 56);

std::string ErrnoText(int err) { return std::strerror(err); }

absl::Status ErrnoStatus(int err, const std::string& what) {
  return absl::Status(absl::ErrnoToStatusCode(err), absl::StrCat(what, ": ", ErrnoText(err)));
}

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus(errno, absl::StrCat("cannot open ", path));
  std::string bytes;
  char buffer[1 << 16];
  while (true) {
    const ssize_t n = ::read(fd, buffer, sizeof(buffer));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int err = errno;
      ::close(fd);
      return ErrnoStatus(err, absl::StrCat("cannot read ", path));
    }
    if (n == 0) break;
    bytes.append(buffer, static_cast<size_t>(n));
  }
  ::close(fd);
  return bytes;
}

absl::Status WriteAll(int fd, std::string_view bytes, const std::string& path) {
  while (!bytes.empty()) {
    const ssize_t n = ::write(fd, bytes.data(), bytes.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoStatus(errno, absl::StrCat("cannot write ", path));
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  return absl::OkStatus();
}

// Unique within the directory across processes (pid) and threads (counter).
std::string TemporaryName(const std::string& dir, const Hash128& key) {
  static std::atomic<uint64_t> counter{0};
  return absl::StrCat(dir, "/.", key.ToString(), ".", ::getpid(), ".",
                      counter.fetch_add(1, std::memory_order_relaxed), ".tmp");
}

absl::Status CreateDirectory(const std::string& dir) {
  std::error_code ec;
  if (std::filesystem::is_directory(dir, ec)) return absl::OkStatus();
  // Only the last component is made private; parents (e.g. ~/.cache) are shared.
  std::filesystem::create_directories(std::filesystem::path(dir).parent_path(), ec);
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return ErrnoStatus(errno, absl::StrCat("cannot create cache directory ", dir));
  }
  if (!std::filesystem::is_directory(dir, ec)) {
    return absl::FailedPreconditionError(absl::StrCat(dir, " is not a directory"));
  }
  return absl::OkStatus();
}

}  // namespace

std::string DiskCache::EntryPath(const Hash128& key) const {
  return absl::StrCat(dir_, "/", key.ToString(), ".so");
}

absl::StatusOr<std::string> DiskCache::Lookup(const Hash128& key) const {
  const std::string path = EntryPath(key);
  absl::StatusOr<std::string> bytes = ReadFile(path);
  if (!bytes.ok()) {
    // Absent, or a directory that does not exist (or is a file): a plain miss.
    if (absl::IsNotFound(bytes.status()) || absl::IsFailedPrecondition(bytes.status())) {
      return absl::NotFoundError(absl::StrCat("no cache entry ", path));
    }
    return bytes.status();
  }
  absl::Status valid = VerifyEntry(*bytes, key);
  if (!valid.ok()) return absl::DataLossError(absl::StrCat(path, ": ", valid.message()));
  return path;
}

absl::StatusOr<std::string> DiskCache::Store(const Hash128& key,
                                             const std::string& library_path) const {
  ASSIGN_OR_RETURN(const std::string library, ReadFile(library_path));
  return StoreBytes(key, library);
}

absl::StatusOr<std::string> DiskCache::StoreBytes(const Hash128& key,
                                                  std::string_view bytes) const {
  RETURN_IF_ERROR(CreateDirectory(dir_));
  const std::string entry = EncodeEntry(bytes, key);
  const std::string temporary = TemporaryName(dir_, key);
  const int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return ErrnoStatus(errno, absl::StrCat("cannot create ", temporary));
  absl::Status written = WriteAll(fd, entry, temporary);
  if (::close(fd) != 0 && written.ok()) {
    written = ErrnoStatus(errno, absl::StrCat("cannot write ", temporary));
  }
  const std::string path = EntryPath(key);
  if (written.ok() && ::rename(temporary.c_str(), path.c_str()) != 0) {
    written = ErrnoStatus(errno, absl::StrCat("cannot rename ", temporary, " to ", path));
  }
  if (!written.ok()) {
    ::unlink(temporary.c_str());
    return written;
  }
  return path;
}

absl::StatusOr<std::string> DiskCache::LookupBytes(const Hash128& key) const {
  ASSIGN_OR_RETURN(const std::string path, Lookup(key));
  ASSIGN_OR_RETURN(std::string entry, ReadFile(path));
  // Verified again: the file may have been replaced since Lookup read it.
  RETURN_IF_ERROR(VerifyEntry(entry, key));
  entry.resize(entry.size() - sizeof(Trailer));
  return entry;
}

std::string EncodeEntry(std::string_view library, const Hash128& key) {
  const Hash128 checksum = HashBytes(library.data(), library.size());
  Trailer trailer;
  std::memcpy(trailer.magic, kMagic, sizeof(kMagic));
  trailer.format_version = kDiskCacheFormatVersion;
  trailer.reserved = 0;
  trailer.library_size = library.size();
  trailer.checksum_low = checksum.low;
  trailer.checksum_high = checksum.high;
  trailer.key_low = key.low;
  trailer.key_high = key.high;
  std::string entry(library);
  entry.append(reinterpret_cast<const char*>(&trailer), sizeof(trailer));
  return entry;
}

absl::Status VerifyEntry(std::string_view entry, const Hash128& key) {
  if (entry.size() < sizeof(Trailer)) {
    return absl::DataLossError(absl::StrCat("truncated (", entry.size(), " bytes)"));
  }
  Trailer trailer;
  std::memcpy(&trailer, entry.data() + entry.size() - sizeof(Trailer), sizeof(Trailer));
  if (std::memcmp(trailer.magic, kMagic, sizeof(kMagic)) != 0) {
    return absl::DataLossError("no kiln trailer (truncated or not a cache entry)");
  }
  if (trailer.format_version != kDiskCacheFormatVersion) {
    return absl::DataLossError(absl::StrCat("format version ", trailer.format_version,
                                            ", expected ", kDiskCacheFormatVersion));
  }
  const size_t library_size = entry.size() - sizeof(Trailer);
  if (trailer.library_size != library_size) {
    return absl::DataLossError(
        absl::StrCat("library is ", library_size, " bytes, trailer says ", trailer.library_size));
  }
  if (trailer.key_low != key.low || trailer.key_high != key.high) {
    return absl::DataLossError("entry belongs to another key");
  }
  const Hash128 checksum = HashBytes(entry.data(), library_size);
  if (checksum.low != trailer.checksum_low || checksum.high != trailer.checksum_high) {
    return absl::DataLossError("checksum mismatch");
  }
  return absl::OkStatus();
}

}  // namespace kiln::cpu
