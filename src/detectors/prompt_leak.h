// Prompt-leak detection without canaries: finds long verbatim or near-verbatim overlaps
// between a response and protected strings (the operator's system prompt, other secrets of
// the application).
//
// Text is folded to lower-case words of letters and digits; overlaps are measured in word
// shingles (k consecutive words, hashed). A response leaks when it contains at least
// `min_shingles` of a protected string's shingles, or a share `min_fraction` of them — so a
// copy with a few words changed, reordered sentences or extra spaces still counts, while a
// response that shares a short phrase with the prompt does not. Streaming: feed chunks of any
// size; a word split across chunks is carried.
//
// Thread safety: a PromptLeakIndex is immutable and shared; a PromptLeakMatcher belongs to one
// exchange.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

namespace rampart::detectors {

struct PromptLeakOptions {
  // Words per shingle. Default: 5.
  uint32_t shingle_words = 5;
  // A leak: at least this many of a protected string's shingles in the response. Default: 8
  // (about a dozen words in a row).
  uint32_t min_shingles = 8;
  // ... or at least this share of them (for short protected strings). Default: 0.5.
  double min_fraction = 0.5;
};

class PromptLeakIndex {
 public:
  // `protected_texts` are named ("system_prompt", "policy.secret" ...).
  PromptLeakIndex(const std::vector<std::pair<std::string, std::string>>& protected_texts,
                  PromptLeakOptions options = {});

  const PromptLeakOptions& options() const { return options_; }
  size_t size() const { return texts_.size(); }

 private:
  friend class PromptLeakMatcher;
  struct Text {
    std::string name;
    size_t shingles = 0;
  };
  PromptLeakOptions options_;
  std::vector<Text> texts_;
  // Shingle lengths in use: k, and the word counts of texts shorter than k.
  std::vector<bool> lengths_;
  // (shingle hash, index of a text that contains it), sorted: built with one allocation and
  // one sort per index (an index is built per request for its system prompt), searched by
  // binary search.
  std::vector<std::pair<uint64_t, uint32_t>> shingles_;
};

struct PromptLeak {
  std::string name;        // which protected string
  size_t matched = 0;      // distinct shingles of it found in the response
  size_t total = 0;        // its shingles
  uint64_t first_end = 0;  // stream offset where the first matched shingle ended
};

class PromptLeakMatcher {
 public:
  explicit PromptLeakMatcher(std::shared_ptr<const PromptLeakIndex> index);

  // Feeds the next chunk. Returns the protected strings that crossed the leak threshold in
  // this chunk (each is reported once).
  std::vector<PromptLeak> Feed(std::string_view chunk);
  // Ends the stream (a last word without a following separator is counted).
  std::vector<PromptLeak> Finish();

 private:
  void EndWord(uint64_t end, std::vector<PromptLeak>* out);

  std::shared_ptr<const PromptLeakIndex> index_;
  std::string word_;
  std::vector<uint64_t> window_;  // hashes of the last k words
  std::vector<std::unordered_set<uint64_t>> seen_;
  std::vector<uint64_t> first_end_;
  std::vector<bool> reported_;
  uint64_t offset_ = 0;
};

}  // namespace rampart::detectors
