// Test helpers: child processes with captured standard output, and a small blocking HTTP/1.1
// client over loopback with timeouts (raw bytes too, for the bad-input tests).
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <fstream>
#include <iterator>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

extern char** environ;

namespace rampart::testing {

class Process {
 public:
  // Starts `argv` with standard output on a pipe; standard error goes to `stderr_path`
  // ("" = inherited).
  bool Start(const std::vector<std::string>& argv, const std::string& stderr_path = "") {
    int fds[2];
    if (pipe(fds) != 0) return false;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
    posix_spawn_file_actions_addclose(&fa, fds[0]);
    if (!stderr_path.empty()) {
      posix_spawn_file_actions_addopen(&fa, 2, stderr_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                       0644);
    }
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    int rc = posix_spawn(&pid_, args[0], &fa, nullptr, args.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    close(fds[1]);
    out_ = fds[0];
    return rc == 0;
  }

  // Reads one line of standard output, waiting at most `timeout_ms`.
  std::optional<std::string> ReadLine(int timeout_ms = 30000) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    for (;;) {
      size_t nl = buf_.find('\n');
      if (nl != std::string::npos) {
        std::string line = buf_.substr(0, nl);
        buf_.erase(0, nl + 1);
        return line;
      }
      int left = static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                      deadline - std::chrono::steady_clock::now())
                                      .count());
      if (left <= 0) return std::nullopt;
      pollfd p{out_, POLLIN, 0};
      if (poll(&p, 1, left) <= 0) return std::nullopt;
      char tmp[4096];
      ssize_t n = read(out_, tmp, sizeof tmp);
      if (n <= 0) return std::nullopt;
      buf_.append(tmp, static_cast<size_t>(n));
    }
  }

  // Port from a line "... port N".
  static int PortFrom(const std::optional<std::string>& line) {
    if (!line) return -1;
    size_t p = line->rfind("port ");
    return p == std::string::npos ? -1 : std::atoi(line->c_str() + p + 5);
  }

  void Signal(int sig) {
    if (pid_ > 0) kill(pid_, sig);
  }

  // Waits for exit up to `timeout_ms`; returns the exit code, or -1 (then kills it).
  int Wait(int timeout_ms) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    while (pid_ > 0) {
      int status = 0;
      pid_t r = waitpid(pid_, &status, WNOHANG);
      if (r == pid_) {
        pid_ = -1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
      }
      if (std::chrono::steady_clock::now() > deadline) break;
      usleep(10000);
    }
    Stop();
    return -1;
  }

  void Stop() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
      pid_ = -1;
    }
  }

  ~Process() {
    Stop();
    if (out_ >= 0) close(out_);
  }

 private:
  pid_t pid_ = -1;
  int out_ = -1;
  std::string buf_;
};

// A loopback TCP connection with a receive timeout.
class Conn {
 public:
  explicit Conn(int port, int timeout_ms = 10000) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    timeval tv{timeout_ms / 1000, (timeout_ms % 1000) * 1000};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ok_ = connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  }
  ~Conn() { Close(); }
  bool ok() const { return ok_; }
  bool Send(const std::string& s) {
    size_t off = 0;
    while (off < s.size()) {
      ssize_t n = ::send(fd_, s.data() + off, s.size() - off, MSG_NOSIGNAL);
      if (n <= 0) return false;
      off += static_cast<size_t>(n);
    }
    return true;
  }
  // Reads until the peer closes, the timeout hits or `max` bytes.
  std::string ReadAll(size_t max = 1 << 24) {
    std::string out = std::move(pending_);
    pending_.clear();
    char tmp[8192];
    while (out.size() < max) {
      ssize_t n = ::recv(fd_, tmp, sizeof tmp, 0);
      if (n <= 0) break;
      out.append(tmp, static_cast<size_t>(n));
    }
    return out;
  }
  // Reads one response head, through its blank line, and nothing after it (the answer to a
  // HEAD request has no body whatever its Content-Length says).
  std::string ReadHead() {
    std::string out;
    char ch;
    while (out.size() < 65536 && out.find("\r\n\r\n") == std::string::npos) {
      if (!pending_.empty()) {
        ch = pending_.front();
        pending_.erase(0, 1);
      } else if (::recv(fd_, &ch, 1, 0) != 1) {
        break;
      }
      out += ch;
    }
    return out;
  }
  // Reads one HTTP/1.1 response (Content-Length or chunked); returns the raw bytes. Bytes
  // after it (a pipelined next response) are kept for the next read.
  std::string ReadResponse() {
    std::string out = std::move(pending_);
    pending_.clear();
    char tmp[8192];
    for (;;) {
      size_t head_end = out.find("\r\n\r\n");
      if (head_end != std::string::npos) {
        std::string head = Lower(out.substr(0, head_end));
        size_t cl = head.find("content-length: ");
        size_t end = std::string::npos;
        if (cl != std::string::npos) {
          size_t len = std::stoul(head.substr(cl + 16));
          if (out.size() >= head_end + 4 + len) end = head_end + 4 + len;
        } else if (head.find("transfer-encoding: chunked") != std::string::npos) {
          size_t last = out.find("\r\n0\r\n\r\n", head_end);
          if (last != std::string::npos) end = last + 7;
        }
        if (end != std::string::npos) {
          pending_ = out.substr(end);
          return out.substr(0, end);
        }
      }
      ssize_t n = ::recv(fd_, tmp, sizeof tmp, 0);
      if (n <= 0) return out;
      out.append(tmp, static_cast<size_t>(n));
    }
  }
  // True when bytes (or EOF) can be read within `ms`.
  bool WaitReadable(int ms) {
    pollfd p{fd_, POLLIN, 0};
    return poll(&p, 1, ms) > 0;
  }
  void Close() {
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
  }
  static std::string Lower(std::string s) {
    for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
  }

 private:
  int fd_ = -1;
  bool ok_ = false;
  std::string pending_;  // bytes read past the last response returned
};

struct Response {
  int status = 0;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;                            // de-chunked
  std::string raw;
};

inline Response ParseResponse(const std::string& raw) {
  Response r;
  r.raw = raw;
  size_t head_end = raw.find("\r\n\r\n");
  if (raw.size() < 12 || head_end == std::string::npos) return r;
  r.status = std::atoi(raw.c_str() + 9);
  size_t pos = raw.find("\r\n") + 2;
  while (pos < head_end) {
    size_t eol = raw.find("\r\n", pos);
    std::string line = raw.substr(pos, eol - pos);
    size_t colon = line.find(':');
    if (colon != std::string::npos) {
      std::string v = line.substr(colon + 1);
      while (!v.empty() && v[0] == ' ') v.erase(0, 1);
      r.headers[Conn::Lower(line.substr(0, colon))] = v;
    }
    pos = eol + 2;
  }
  std::string body = raw.substr(head_end + 4);
  if (Conn::Lower(r.headers["transfer-encoding"]) == "chunked") {
    size_t p = 0;
    while (p < body.size()) {
      size_t eol = body.find("\r\n", p);
      if (eol == std::string::npos) break;
      size_t len = std::stoul(body.substr(p, eol - p), nullptr, 16);
      if (len == 0) break;
      r.body += body.substr(eol + 2, len);
      p = eol + 2 + len + 2;
    }
  } else {
    r.body = body;
  }
  return r;
}

inline Response Http(int port, const std::string& method, const std::string& target,
                     const std::string& body,
                     const std::map<std::string, std::string>& headers = {},
                     int timeout_ms = 10000) {
  Conn c(port, timeout_ms);
  std::string req = method + " " + target + " HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n";
  for (const auto& [k, v] : headers) req += k + ": " + v + "\r\n";
  if (!body.empty() || method == "POST") {
    req +=
        "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
  }
  req += "\r\n" + body;
  if (!c.Send(req)) return {};
  return ParseResponse(c.ReadResponse());
}

// The text of the file at `path` once it contains `needle`, or as it is after `timeout_ms`.
// The gateway writes its log from a thread of its own, so a line about a request may land a
// moment after the response.
inline std::string WaitForText(const std::string& path, std::string_view needle,
                               int timeout_ms = 5000) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (true) {
    std::ifstream in(path);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (text.find(needle) != std::string::npos || std::chrono::steady_clock::now() >= deadline) {
      return text;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

}  // namespace rampart::testing
