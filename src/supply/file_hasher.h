// Streaming file hashing and model-tree enumeration, shared by `rampart manifest` and the
// OpenSSF model-signing code (oms.h).
//
// A file is read with large sequential reads (kHashReadBytes) and hashed as it streams, so
// memory stays bounded whatever the file size. HashFiles spreads many files over threads; one
// file is always hashed by one thread (SHA-256 is sequential).
//
// Thread safety: stateless functions; HashFiles starts and joins its own threads.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/crypto.h"

namespace rampart::supply {

// Bytes per read() while hashing. 4 MiB amortizes the syscall and keeps the page cache
// read-ahead busy.
inline constexpr size_t kHashReadBytes = size_t{4} << 20;

struct FileDigest {
  std::string path;  // as given (relative to the root for HashFiles)
  uint64_t size = 0;
  Sha256Digest sha256{};
};

// Hashes the file at `path`. Errors: NotFound / PermissionDenied / Internal naming the path.
absl::StatusOr<FileDigest> HashFile(const std::string& path);

// Hashes `root`/`relative_paths[i]` for every i, on up to `threads` threads (0 = one per
// core). The result is in the order of `relative_paths`, each `path` the relative one. The
// first error (in input order) is returned when any file cannot be read.
absl::StatusOr<std::vector<FileDigest>> HashFiles(const std::string& root,
                                                  const std::vector<std::string>& relative_paths,
                                                  unsigned threads = 0);

struct ListOptions {
  // Paths relative to the root ('/' separated) left out with everything below them.
  std::vector<std::string> ignore_paths;
  // Leave out .git, .gitignore, .gitattributes and .github at the top level. Default: true.
  bool ignore_git = true;
  // Symbolic links are an error unless this is set; then the target is hashed (files only).
  // Default: false.
  bool allow_symlinks = false;
};

// The regular files under `root`, as '/'-separated paths relative to it, sorted bytewise.
// Errors: InvalidArgument when `root` is not a directory, or when a symlink (without
// allow_symlinks) or a special file (FIFO, socket, device) is found, naming it.
absl::StatusOr<std::vector<std::string>> ListModelFiles(const std::string& root,
                                                        const ListOptions& options);

// True when `rel` equals one of `ignore_paths` or lies below one.
bool IsIgnored(const std::string& rel, const std::vector<std::string>& ignore_paths);

}  // namespace rampart::supply
