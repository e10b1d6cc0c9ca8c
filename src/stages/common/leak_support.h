// Helpers shared by the leak stages (canary, prompt_leak): the operator's system prompt of an
// OpenAI chat request, every string of a response body, and the text released by a streaming
// stage that holds text back.
//
// Thread safety: functions on caller-owned values; a HoldBack belongs to one stage instance.
#pragma once

#include <boost/json/value.hpp>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "pipeline/exchange.h"
#include "rampart/verdict.h"

namespace rampart::stages {

// The texts of the request's system and developer messages, in order (string content, or
// the "text" of each content part).
std::vector<std::string> SystemPrompts(const boost::json::value& request);

// Calls `fn(pointer, text)` for every string in `v` (object values and array elements, not
// keys), depth first, down to `max_depth` levels. `fn` may rewrite the string.
void ForEachString(boost::json::value& v,
                   const std::function<void(const std::string&, boost::json::string&)>& fn,
                   size_t max_depth = 64);

// One finding of a leak stage; the matched text itself is never stored (see finding.h).
Finding LeakFinding(std::string_view detector, std::string_view rule, uint64_t begin, uint64_t end,
                    std::string_view decoded_via, std::string_view label);

// Streamed text a stage has seen but not yet released: the bytes from stream offset
// `start()` on, with spans (stream offsets) to drop when they are released.
class HoldBack {
 public:
  void Append(std::string_view text) { pending_ += text; }
  // Marks [begin, end) to be dropped; the part already released cannot be recalled.
  void Cut(uint64_t begin, uint64_t end);
  // Releases the held bytes before stream offset `upto` (clamped to what is held), minus
  // the cut spans.
  std::string Release(uint64_t upto);
  // Drops everything held and everything after (the rest of the stream is suppressed).
  void Clear() { start_ += pending_.size(), pending_.clear(); }
  uint64_t start() const { return start_; }
  uint64_t end() const { return start_ + pending_.size(); }
  std::string_view pending() const { return pending_; }

 private:
  std::string pending_;
  uint64_t start_ = 0;
  std::vector<std::pair<uint64_t, uint64_t>> cuts_;
};

// Moves stream offset `pos` back to the start of a UTF-8 sequence within `hb`'s held text.
uint64_t Utf8Floor(const HoldBack& hb, uint64_t pos);

}  // namespace rampart::stages
