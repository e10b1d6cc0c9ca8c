// SseParser: incremental parsing of a text/event-stream (the WHATWG event-stream format) as
// it arrives from an upstream in arbitrary pieces: an event, a line, even a CRLF may be split
// across reads. Only what the gateway needs is kept: each event's `event:` name and its
// `data:` lines joined by "\n"; comments and `id:`/`retry:` fields are dropped.
//
// Bounded: an event (or a line) larger than `max_event_bytes` is an error, and the parser
// stops; the caller ends the stream.
//
// Thread safety: one parser per stream, used by one thread.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace rampart::server {

struct SseEvent {
  std::string event;  // "" when the event had no `event:` field ("message")
  std::string data;
};

class SseParser {
 public:
  explicit SseParser(size_t max_event_bytes) : max_(max_event_bytes) {}

  // Feeds bytes; appends completed events to `out`. Returns false (and stays failed) when
  // an event exceeds the bound.
  bool Feed(std::string_view bytes, std::vector<SseEvent>& out);
  bool failed() const { return failed_; }
  // True when bytes of an unfinished event are buffered (a stream that ends here was cut).
  bool has_partial() const { return !line_.empty() || has_fields_; }

 private:
  void Line(std::string_view line, std::vector<SseEvent>& out);
  size_t max_;
  bool failed_ = false;
  bool skip_lf_ = false;  // the last byte was CR: a following LF belongs to the same break
  std::string line_;
  SseEvent current_;
  bool has_fields_ = false;
  bool has_data_ = false;
};

// Frames one event: "data: <line>\n" per line of `data`, then a blank line.
std::string FormatSseData(std::string_view data);

}  // namespace rampart::server
