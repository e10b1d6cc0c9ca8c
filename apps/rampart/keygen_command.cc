// rampart keygen: creates an EC key pair for `rampart sign` (OpenSSF model signing, key
// method). See docs/signing.md.
//
//   rampart keygen --private-key KEY.pem --public-key KEY.pub [--curve P-256] [--force]
//
// The private key is written unencrypted (PKCS#8 PEM) with mode 0600; an existing file is
// never overwritten without --force. Exit: 0 written, 2 usage or I/O error.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>

#include "cli_common.h"
#include "commands.h"
#include "common/strings.h"
#include "supply/oms.h"

namespace rampart::cli {
namespace {

struct KeygenFlags {
  std::string private_key;
  std::string public_key;
  std::string curve = "P-256";
  bool force = false;
};

// Writes `data` to `path` with `mode`. Without `force` the file must not exist (O_EXCL); with
// it, an existing file is truncated and its mode reset.
absl::Status WriteNewFile(const std::string& path, const std::string& data, mode_t mode,
                          bool force) {
  int flags = O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW | (force ? O_TRUNC : O_EXCL);
  int fd = ::open(path.c_str(), flags, mode);
  if (fd < 0) {
    if (errno == EEXIST) {
      return absl::AlreadyExistsError(StrCat(path, ": exists; pass --force to overwrite it"));
    }
    return absl::InternalError(StrCat(path, ": ", std::strerror(errno)));
  }
  if (::fchmod(fd, mode) != 0) {
    int err = errno;
    ::close(fd);
    return absl::InternalError(StrCat(path, ": chmod: ", std::strerror(err)));
  }
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::write(fd, data.data() + off, data.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      ::close(fd);
      return absl::InternalError(StrCat(path, ": ", std::strerror(err)));
    }
    off += static_cast<size_t>(n);
  }
  if (::close(fd) != 0) return absl::InternalError(StrCat(path, ": ", std::strerror(errno)));
  return absl::OkStatus();
}

int RunKeygen(const KeygenFlags& flags) {
  if (flags.private_key == flags.public_key) {
    std::fprintf(stderr, "rampart keygen: --private-key and --public-key must differ\n");
    return kExitError;
  }
  absl::StatusOr<supply::oms::KeyPair> kp = supply::oms::GenerateKeyPair(flags.curve);
  if (!kp.ok()) return ReportError("keygen", kp.status());
  // Check both targets before writing either, so a refusal leaves nothing behind.
  if (!flags.force) {
    for (const std::string* p : {&flags.private_key, &flags.public_key}) {
      struct stat st;
      if (::lstat(p->c_str(), &st) == 0) {
        return ReportError("keygen", absl::AlreadyExistsError(
                                         StrCat(*p, ": exists; pass --force to overwrite it")));
      }
    }
  }
  if (absl::Status s = WriteNewFile(flags.private_key, kp->private_key_pem, 0600, flags.force);
      !s.ok()) {
    return ReportError("keygen", s);
  }
  if (absl::Status s = WriteNewFile(flags.public_key, kp->public_key_pem, 0644, flags.force);
      !s.ok()) {
    return ReportError("keygen", s);
  }
  absl::StatusOr<std::string> hint = supply::oms::KeyHint(kp->public_key_pem);
  std::printf("wrote %s (private, mode 0600) and %s (public), EC %s, hint %s\n",
              ForTerminal(flags.private_key).c_str(), ForTerminal(flags.public_key).c_str(),
              flags.curve.c_str(), hint.ok() ? hint->c_str() : "?");
  return kExitClean;
}

}  // namespace

void RegisterKeygen(CLI::App& app) {
  auto flags = std::make_shared<KeygenFlags>();
  CLI::App* sub = app.add_subcommand("keygen", "Create an EC key pair for rampart sign");
  sub->add_option("--private-key", flags->private_key, "Private key output (PEM, mode 0600)")
      ->required();
  sub->add_option("--public-key", flags->public_key, "Public key output (PEM)")->required();
  sub->add_option("--curve", flags->curve, "P-256, P-384 or P-521")->capture_default_str();
  sub->add_flag("--force", flags->force, "Overwrite existing key files");
  AddCommand(sub, [flags] { return RunKeygen(*flags); });
}

}  // namespace rampart::cli
