#include "common/line_reader.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>

#include "absl/status/status.h"
#include "common/strings.h"

namespace rampart {

absl::StatusOr<std::unique_ptr<LineReader>> LineReader::Open(const std::string& path,
                                                             size_t max_line_bytes) {
  if (path == "-") {
    return std::unique_ptr<LineReader>(new LineReader(stdin, false, "<stdin>", max_line_bytes, 0));
  }
  FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) {
    int err = errno;
    std::string msg = StrCat(path, ": ", std::strerror(err));
    return err == ENOENT ? absl::NotFoundError(msg) : absl::InvalidArgumentError(msg);
  }
  struct stat st {};
  uint64_t total = 0;
  if (fstat(fileno(f), &st) == 0) {
    if (S_ISDIR(st.st_mode)) {
      std::fclose(f);
      return absl::InvalidArgumentError(StrCat(path, ": is a directory"));
    }
    if (S_ISREG(st.st_mode)) total = static_cast<uint64_t>(st.st_size);
  }
  return std::unique_ptr<LineReader>(new LineReader(f, true, path, max_line_bytes, total));
}

LineReader::LineReader(FILE* f, bool owned, std::string name, size_t max_line, uint64_t total)
    : f_(f), owned_(owned), name_(std::move(name)), max_line_(max_line), total_bytes_(total) {
  buf_.resize(1 << 20);
}

LineReader::~LineReader() {
  if (owned_) std::fclose(f_);
}

bool LineReader::Fill() {
  if (eof_) return false;
  len_ = std::fread(buf_.data(), 1, buf_.size(), f_);
  pos_ = 0;
  if (len_ == 0) eof_ = true;
  return len_ > 0;
}

absl::StatusOr<bool> LineReader::Next(std::string& line) {
  line.clear();
  bool got_any = false;
  while (true) {
    if (pos_ >= len_ && !Fill()) {
      if (std::ferror(f_)) return absl::InternalError(StrCat(name_, ": read error"));
      if (!got_any) return false;
      break;
    }
    got_any = true;
    const char* start = buf_.data() + pos_;
    const void* nl = std::memchr(start, '\n', len_ - pos_);
    size_t take = nl ? static_cast<size_t>(static_cast<const char*>(nl) - start) : len_ - pos_;
    if (line.size() + take > max_line_) {
      return absl::ResourceExhaustedError(
          StrCat(name_, ": line ", line_number_ + 1, " is longer than ", max_line_, " bytes"));
    }
    line.append(start, take);
    pos_ += take;
    bytes_read_ += take;
    if (nl) {
      ++pos_;
      ++bytes_read_;
      break;
    }
  }
  if (!line.empty() && line.back() == '\r') line.pop_back();
  ++line_number_;
  return true;
}

}  // namespace rampart
