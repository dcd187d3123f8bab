#pragma once
// The on-disk cache of compiled host libraries, shared by every kiln process of a user:
// a library is compiled once per machine, not once per run.
//
// One entry is one file, `<dir>/<key hex>.so`: the shared library's bytes followed by a
// trailer that the dynamic loader never reads (ELF files are located by their headers,
// not their end):
//
//   [ ELF bytes ... ][ "KILNLIB\0" | format version | library size | XXH3-128 | key ]
//
// One file, written under a unique temporary name in the same directory and renamed into
// place, so a reader sees a whole entry or none, and two processes storing the same key
// at once both succeed (the last rename wins; both wrote the same bytes). The checksum is
// verified before anything is dlopen'ed, so a truncated, corrupt or old-format entry is a
// miss rather than a crash. The checksum detects damage, not tampering: the directory is
// created private to its owner (0700).
#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "util/hash.h"

namespace kiln::cpu {

// Changes whenever the entry layout changes; entries of another version are rebuilt.
inline constexpr uint32_t kDiskCacheFormatVersion = 1;

class DiskCache {
 public:
  explicit DiskCache(std::string dir) : dir_(std::move(dir)) {}

  const std::string& dir() const { return dir_; }
  // `<dir>/<key hex>.so`, whether or not it exists.
  std::string EntryPath(const Hash128& key) const;

  // The path of the verified entry for `key`. NotFound when there is none (or the
  // directory does not exist); DataLoss, saying what is wrong, when the entry is
  // truncated, corrupt or of another format version.
  absl::StatusOr<std::string> Lookup(const Hash128& key) const;

  // Copies the shared library at `library_path` into the cache under `key` (creating the
  // directory if needed) and returns the entry's path. Fails, leaving no partial file,
  // when the directory cannot be created or written.
  absl::StatusOr<std::string> Store(const Hash128& key, const std::string& library_path) const;

  // The same for an entry held in memory (a CUDA CUBIN): stores `bytes` under `key`, and
  // reads back a verified entry's bytes (NotFound / DataLoss as Lookup).
  absl::StatusOr<std::string> StoreBytes(const Hash128& key, std::string_view bytes) const;
  absl::StatusOr<std::string> LookupBytes(const Hash128& key) const;

 private:
  std::string dir_;
};

// `library` followed by its trailer: the bytes of an entry. Exposed for tests.
std::string EncodeEntry(std::string_view library, const Hash128& key);
// OK when `entry` is a whole, current-format entry for `key`; DataLoss saying why not.
absl::Status VerifyEntry(std::string_view entry, const Hash128& key);

}  // namespace kiln::cpu
