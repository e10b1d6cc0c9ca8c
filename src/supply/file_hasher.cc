#include "supply/file_hasher.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <memory>
#include <system_error>
#include <thread>

#include "common/strings.h"

namespace rampart::supply {
namespace {

namespace fs = std::filesystem;

absl::Status ErrnoStatus(const std::string& path, int err) {
  std::string msg = StrCat(path, ": ", std::strerror(err));
  if (err == ENOENT) return absl::NotFoundError(msg);
  if (err == EACCES || err == EPERM) return absl::PermissionDeniedError(msg);
  return absl::InternalError(msg);
}

struct MdCtxDeleter {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};

}  // namespace

absl::StatusOr<FileDigest> HashFile(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus(path, errno);
  ::posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
  std::unique_ptr<EVP_MD_CTX, MdCtxDeleter> ctx(EVP_MD_CTX_new());
  if (ctx == nullptr || EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) != 1) {
    ::close(fd);
    return absl::InternalError("EVP_DigestInit_ex failed");
  }
  // One buffer per thread, reused across files.
  thread_local std::unique_ptr<char[]> buffer(new char[kHashReadBytes]);
  FileDigest out;
  out.path = path;
  for (;;) {
    ssize_t n = ::read(fd, buffer.get(), kHashReadBytes);
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      ::close(fd);
      return ErrnoStatus(path, err);
    }
    if (n == 0) break;
    EVP_DigestUpdate(ctx.get(), buffer.get(), static_cast<size_t>(n));
    out.size += static_cast<uint64_t>(n);
  }
  ::close(fd);
  unsigned int len = 0;
  if (EVP_DigestFinal_ex(ctx.get(), out.sha256.data(), &len) != 1) {
    return absl::InternalError("EVP_DigestFinal_ex failed");
  }
  return out;
}

absl::StatusOr<std::vector<FileDigest>> HashFiles(const std::string& root,
                                                  const std::vector<std::string>& relative_paths,
                                                  unsigned threads) {
  const size_t n = relative_paths.size();
  std::vector<absl::StatusOr<FileDigest>> results(n, absl::InternalError("not hashed"));
  if (threads == 0) threads = std::max(1u, std::thread::hardware_concurrency());
  threads = static_cast<unsigned>(std::min<size_t>(threads, std::max<size_t>(n, 1)));
  std::atomic<size_t> next{0};
  auto work = [&] {
    for (size_t i = next.fetch_add(1); i < n; i = next.fetch_add(1)) {
      const std::string full =
          root.empty() ? relative_paths[i] : StrCat(root, "/", relative_paths[i]);
      results[i] = HashFile(full);
      if (results[i].ok()) results[i]->path = relative_paths[i];
    }
  };
  if (threads <= 1) {
    work();
  } else {
    std::vector<std::thread> pool;
    pool.reserve(threads);
    for (unsigned t = 0; t < threads; ++t) pool.emplace_back(work);
    for (auto& t : pool) t.join();
  }
  std::vector<FileDigest> out;
  out.reserve(n);
  for (auto& r : results) {
    if (!r.ok()) return r.status();
    out.push_back(*std::move(r));
  }
  return out;
}

bool IsIgnored(const std::string& rel, const std::vector<std::string>& ignore_paths) {
  for (const std::string& raw : ignore_paths) {
    std::string p = raw;
    while (p.size() > 2 && p.compare(0, 2, "./") == 0) p.erase(0, 2);
    while (!p.empty() && p.back() == '/') p.pop_back();
    if (p.empty()) continue;
    if (rel == p) return true;
    if (rel.size() > p.size() && rel.compare(0, p.size(), p) == 0 && rel[p.size()] == '/') {
      return true;
    }
  }
  return false;
}

absl::StatusOr<std::vector<std::string>> ListModelFiles(const std::string& root,
                                                        const ListOptions& options) {
  std::error_code ec;
  if (!fs::is_directory(root, ec)) {
    return absl::InvalidArgumentError(StrCat(root, ": not a directory"));
  }
  static const std::vector<std::string> kGit = {".git", ".gitignore", ".gitattributes", ".github"};
  std::vector<std::string> out;
  fs::recursive_directory_iterator it(root, fs::directory_options::none, ec);
  if (ec) return ErrnoStatus(root, ec.value());
  for (; it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (ec) return ErrnoStatus(root, ec.value());
    const fs::path rel_path = it->path().lexically_relative(root);
    const std::string rel = rel_path.generic_string();
    if ((options.ignore_git && IsIgnored(rel, kGit)) || IsIgnored(rel, options.ignore_paths)) {
      if (it->is_directory(ec) && !it->is_symlink(ec)) it.disable_recursion_pending();
      continue;
    }
    const fs::file_status st = it->symlink_status(ec);
    if (ec) return ErrnoStatus(it->path().string(), ec.value());
    if (fs::is_symlink(st)) {
      if (!options.allow_symlinks) {
        return absl::InvalidArgumentError(StrCat(rel, ": symbolic links are not allowed"));
      }
      if (fs::is_regular_file(it->path(), ec)) out.push_back(rel);
      continue;
    }
    if (fs::is_directory(st)) continue;
    if (!fs::is_regular_file(st)) {
      return absl::InvalidArgumentError(StrCat(rel, ": not a regular file"));
    }
    out.push_back(rel);
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace rampart::supply
