#include "common/file.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>

#include "absl/status/status.h"
#include "common/strings.h"

namespace rampart {
namespace {

absl::Status ErrnoStatus(const std::string& path, int err) {
  std::string msg = StrCat(path, ": ", std::strerror(err));
  switch (err) {
    case ENOENT:
      return absl::NotFoundError(msg);
    case EACCES:
    case EPERM:
      return absl::PermissionDeniedError(msg);
    default:
      return absl::InternalError(msg);
  }
}

struct FileCloser {
  void operator()(FILE* f) const { std::fclose(f); }
};

}  // namespace

absl::StatusOr<std::string> ReadFileBounded(const std::string& path, size_t max_bytes) {
  std::unique_ptr<FILE, FileCloser> f(std::fopen(path.c_str(), "rb"));
  if (!f) return ErrnoStatus(path, errno);
  std::string out;
  char buf[1 << 16];
  while (true) {
    size_t n = std::fread(buf, 1, sizeof buf, f.get());
    if (n > 0) {
      if (out.size() + n > max_bytes) {
        return absl::ResourceExhaustedError(
            StrCat(path, ": larger than the limit of ", max_bytes, " bytes"));
      }
      out.append(buf, n);
    }
    if (n < sizeof buf) {
      if (std::ferror(f.get())) return ErrnoStatus(path, errno ? errno : EIO);
      break;
    }
  }
  return out;
}

}  // namespace rampart
