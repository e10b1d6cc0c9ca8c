// LineReader: streams a file (or stdin) line by line with a bound on line length, so a
// JSONL input of any size is read in constant memory and a hostile line cannot exhaust it.
//
// Thread safety: one reader per thread.
#pragma once

#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>

#include "absl/status/statusor.h"

namespace rampart {

class LineReader {
 public:
  // Opens `path`, or standard input when `path` is "-". Lines longer than
  // `max_line_bytes` are an error (ResourceExhausted naming the line number).
  static absl::StatusOr<std::unique_ptr<LineReader>> Open(const std::string& path,
                                                          size_t max_line_bytes);
  ~LineReader();
  LineReader(const LineReader&) = delete;
  LineReader& operator=(const LineReader&) = delete;

  // Reads the next line without its "\n" (and "\r\n"). Returns false at end of input.
  absl::StatusOr<bool> Next(std::string& line);

  // 1-based number of the line last returned.
  uint64_t line_number() const { return line_number_; }
  uint64_t bytes_read() const { return bytes_read_; }
  // Total size when known (regular files), else 0.
  uint64_t total_bytes() const { return total_bytes_; }

 private:
  LineReader(FILE* f, bool owned, std::string name, size_t max_line, uint64_t total);
  bool Fill();

  FILE* f_;
  bool owned_;
  std::string name_;
  size_t max_line_;
  uint64_t total_bytes_;
  std::string buf_;
  size_t pos_ = 0;
  size_t len_ = 0;
  bool eof_ = false;
  uint64_t line_number_ = 0;
  uint64_t bytes_read_ = 0;
};

}  // namespace rampart
