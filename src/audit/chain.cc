#include "audit/chain.h"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/strings.h"

namespace rampart::audit {
namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string_view AsChars(const Sha256Digest& d) {
  return std::string_view(reinterpret_cast<const char*>(d.data()), d.size());
}

}  // namespace

const Sha256Digest& GenesisHash() {
  static const Sha256Digest kZero{};
  return kZero;
}

Sha256Digest RecordHash(const Sha256Digest& prev_hash, std::string_view canonical) {
  std::string msg;
  msg.reserve(prev_hash.size() + canonical.size());
  msg.append(AsChars(prev_hash));
  msg.append(canonical);
  return Sha256(msg);
}

Sha256Digest RecordMac(std::string_view key, const Sha256Digest& record_hash) {
  return HmacSha256(key, AsChars(record_hash));
}

Sha256Digest CheckpointMac(std::string_view key, uint64_t seq, const Sha256Digest& record_hash,
                           int64_t created_us) {
  return HmacSha256(key, StrCat("rampart.audit.checkpoint.v1\n", seq, "\n", ToHex(record_hash),
                                "\n", created_us));
}

Sha256Digest HeadMac(std::string_view key, uint64_t seq, const Sha256Digest& record_hash) {
  return HmacSha256(key, StrCat("rampart.audit.head.v1\n", seq, "\n", ToHex(record_hash)));
}

std::string KeyId(std::string_view key) {
  return ToHex(HmacSha256(key, "rampart.audit.key-id.v1")).substr(0, 16);
}

absl::StatusOr<Sha256Digest> DigestFromHex(std::string_view hex) {
  Sha256Digest d{};
  if (hex.size() != 2 * d.size()) return absl::InvalidArgumentError("hash is not 64 hex digits");
  for (size_t i = 0; i < d.size(); ++i) {
    int hi = HexValue(hex[2 * i]), lo = HexValue(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return absl::InvalidArgumentError("hash is not 64 hex digits");
    d[i] = static_cast<uint8_t>(hi << 4 | lo);
  }
  return d;
}

bool DigestEqual(const Sha256Digest& a, const Sha256Digest& b) {
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

absl::StatusOr<std::string> LoadKeyFile(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) {
    int err = errno;
    std::string msg = StrCat("audit key file ", path, ": ", std::strerror(err));
    if (err == ENOENT) return absl::NotFoundError(msg);
    if (err == EACCES || err == ELOOP) return absl::PermissionDeniedError(msg);
    return absl::InternalError(msg);
  }
  struct stat st;
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return absl::InvalidArgumentError(StrCat("audit key file ", path, ": not a regular file"));
  }
  if ((st.st_mode & (S_IRWXO | S_IRGRP | S_IWGRP)) != 0) {
    ::close(fd);
    return absl::PermissionDeniedError(
        StrCat("audit key file ", path, ": readable or writable by group or others (mode ",
               fmt::format("{:o}", st.st_mode & 0777), "); run chmod 600 ", path));
  }
  std::string data;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof buf)) > 0) {
    data.append(buf, static_cast<size_t>(n));
    if (data.size() > 4096) break;
  }
  ::close(fd);
  if (n < 0) return absl::InternalError(StrCat("audit key file ", path, ": read failed"));
  if (data.size() > 4096) {
    return absl::InvalidArgumentError(StrCat("audit key file ", path, ": larger than 4 KiB"));
  }
  size_t b = data.find_first_not_of(" \t\r\n");
  size_t e = data.find_last_not_of(" \t\r\n");
  std::string key = b == std::string::npos ? std::string() : data.substr(b, e - b + 1);
  if (key.size() == 64) {
    if (auto raw = DigestFromHex(key); raw.ok()) key.assign(AsChars(*raw));
  }
  if (key.size() < kMinKeyBytes) {
    return absl::InvalidArgumentError(
        StrCat("audit key file ", path, ": key shorter than ", kMinKeyBytes, " bytes"));
  }
  return key;
}

}  // namespace rampart::audit
