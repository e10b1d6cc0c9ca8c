// The head of an HTTP/1.x response, as bench/paced_load reads it: status, Content-Length and
// whether the server closes after it. A header of its own so that fuzz/response_head_fuzz.cc
// can fuzz the same code.
//
// Bounded: ParseHead looks only at the bytes it is given (the caller caps a head at 64 KiB)
// and refuses a body over kMaxResponseBytes. Anything it does not handle (no Content-Length,
// Transfer-Encoding, a status line that is not HTTP/1.x) is an error with a message, never a
// guess.
#pragma once

#include <charconv>
#include <cstddef>
#include <string>
#include <string_view>

namespace rampart::bench {

inline constexpr size_t kMaxResponseBytes = 1 << 20;

inline bool IEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

inline std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// The head of one response: status, body length, whether the server closes after it.
struct Head {
  size_t head_bytes = 0;
  size_t body_bytes = 0;
  int status = 0;
  bool close = false;
};

// Parses the response head at the start of `in`; `head_end` is the offset of its terminating
// "\r\n\r\n" (REQUIRES: head_end + 4 <= in.size()). Returns false, with `*error` set, for
// anything this client does not handle.
inline bool ParseHead(std::string_view in, size_t head_end, Head* h, std::string* error) {
  std::string_view head = in.substr(0, head_end);
  size_t eol = head.find("\r\n");
  std::string_view status_line = head.substr(0, eol);
  if (status_line.size() < 12 || status_line.substr(0, 7) != "HTTP/1.") {
    *error = "the response does not start with an HTTP/1.x status line";
    return false;
  }
  // "HTTP/1.x NNN": three digits, nothing else (from_chars alone would take "-04").
  const std::string_view code = status_line.substr(9, 3);
  if (status_line[8] != ' ' || code.find_first_not_of("0123456789") != std::string_view::npos) {
    *error = "the response's status code is not three digits";
    return false;
  }
  h->status = (code[0] - '0') * 100 + (code[1] - '0') * 10 + (code[2] - '0');
  h->close = status_line.substr(0, 8) == "HTTP/1.0";
  bool have_length = false;
  size_t pos = eol == std::string_view::npos ? head.size() : eol + 2;
  while (pos < head.size()) {
    size_t end = head.find("\r\n", pos);
    if (end == std::string_view::npos) end = head.size();
    std::string_view line = head.substr(pos, end - pos);
    pos = end + 2;
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    std::string_view name = line.substr(0, colon);
    std::string_view value = Trim(line.substr(colon + 1));
    if (IEquals(name, "content-length")) {
      size_t n = 0;
      auto [q, cec] = std::from_chars(value.data(), value.data() + value.size(), n);
      if (value.empty() || cec != std::errc() || q != value.data() + value.size()) {
        *error = "the response's Content-Length is not a number";
        return false;
      }
      if (have_length && n != h->body_bytes) {
        *error = "the response has two different Content-Lengths";
        return false;
      }
      h->body_bytes = n;
      have_length = true;
    } else if (IEquals(name, "transfer-encoding")) {
      *error = "the response uses Transfer-Encoding, which paced_load does not read";
      return false;
    } else if (IEquals(name, "connection")) {
      if (IEquals(value, "close")) h->close = true;
      if (IEquals(value, "keep-alive")) h->close = false;
    }
  }
  if (!have_length) {
    *error = "the response has no Content-Length";
    return false;
  }
  if (h->body_bytes > kMaxResponseBytes) {
    *error = "the response is over 1 MiB";
    return false;
  }
  h->head_bytes = head_end + 4;
  return true;
}

}  // namespace rampart::bench
