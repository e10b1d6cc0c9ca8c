// Canary tokens: a fresh random marker placed in the operator's system prompt for one
// exchange; if it shows up in the response, the model is leaking its instructions.
//
// CanaryMatcher finds the canary in a response streamed in chunks of any size, also when the
// model spaces it out ("r m p - 7 k ..."), changes its case, puts punctuation or invisible
// characters inside it, or base64- or hex-encodes it. The response is folded to lower-case
// letters and digits (everything else skipped) and searched for the folded canary and for
// the folded base64 (three alignments) and hex forms of its body, each with a streaming
// Knuth-Morris-Pratt automaton, so a canary split across chunks is found and memory is
// constant.
//
// Thread safety: NewCanary is thread-safe; a CanaryMatcher is used by one exchange (thread).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace rampart::detectors {

struct CanaryOptions {
  // Text before the random part; letters, digits and '-'. Default: "rmp-".
  std::string prefix = "rmp-";
  // Random characters (base32: a-z, 2-7; 5 bits each). Default: 20 (100 bits).
  size_t random_chars = 20;
};

// A fresh canary from OpenSSL's CSPRNG. Fails (rather than return a guessable canary) when
// the generator cannot be seeded.
absl::StatusOr<std::string> NewCanary(const CanaryOptions& options = {});

struct CanaryMatch {
  // Byte offsets in the whole stream fed so far: where the matched text starts and ends.
  uint64_t begin = 0;
  uint64_t end = 0;
  // "plain" (possibly spaced out or case-changed), "base64" or "hex".
  std::string_view form;
};

class CanaryMatcher {
 public:
  explicit CanaryMatcher(std::string_view canary);

  // Feeds the next chunk of the response. Returns the first match completed in this chunk.
  // After a match the matcher keeps looking (a second leak is reported too).
  std::optional<CanaryMatch> Feed(std::string_view chunk);
  // Like Feed, but returns every match completed in this chunk, in order of their ends.
  std::vector<CanaryMatch> FeedAll(std::string_view chunk);

  // Stream offset where the longest match still in progress began (a run of text that could
  // become the canary with more input), or the offset after the last byte fed when none is.
  // Text before this offset can never be part of a future match: a streaming stage may
  // release it.
  uint64_t PendingBegin() const;

  // Convenience: the first match in a whole text.
  static std::optional<CanaryMatch> Find(std::string_view canary, std::string_view text);

 private:
  struct Pattern {
    std::string text;
    std::vector<uint32_t> failure;
    uint32_t state = 0;
    std::string_view form;
  };
  void AddPattern(std::string folded, std::string_view form);

  std::vector<Pattern> patterns_;
  // Folded characters that begin some pattern, and how many patterns are mid-match: while
  // none is, other characters only advance the count (the fast path).
  std::array<bool, 256> starts_{};
  size_t active_ = 0;
  // Stream offsets of the last folded characters (ring of the longest pattern's length), to
  // report where a match began.
  std::vector<uint64_t> ring_;
  uint64_t folded_count_ = 0;
  uint64_t offset_ = 0;
};

}  // namespace rampart::detectors
