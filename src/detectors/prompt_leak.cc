#include "detectors/prompt_leak.h"

#include <algorithm>

namespace rampart::detectors {
namespace {

constexpr size_t kMaxWord = 64;

// FNV-1a of one folded word.
uint64_t WordHash(std::string_view w) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : w) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

uint64_t ShingleHash(const std::vector<uint64_t>& words, size_t from, size_t k) {
  uint64_t h = 0x9e3779b97f4a7c15ull;
  for (size_t i = 0; i < k; ++i) {
    h ^= words[from + i] + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
  }
  return h;
}

bool WordChar(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c >= 0x80;
}

char Lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

std::vector<uint64_t> Words(std::string_view text) {
  std::vector<uint64_t> out;
  std::string w;
  for (size_t i = 0; i <= text.size(); ++i) {
    if (i < text.size() && WordChar(static_cast<unsigned char>(text[i]))) {
      if (w.size() < kMaxWord) w += Lower(text[i]);
      continue;
    }
    if (!w.empty()) out.push_back(WordHash(w));
    w.clear();
  }
  return out;
}

}  // namespace

PromptLeakIndex::PromptLeakIndex(
    const std::vector<std::pair<std::string, std::string>>& protected_texts,
    PromptLeakOptions options)
    : options_(options) {
  const size_t k = std::max<uint32_t>(options_.shingle_words, 1);
  lengths_.assign(k + 1, false);
  lengths_[k] = true;
  size_t total = 0;
  for (const auto& pt : protected_texts) total += pt.second.size() / 4;  // ~ words
  shingles_.reserve(total);
  for (const auto& [name, text] : protected_texts) {
    std::vector<uint64_t> words = Words(text);
    // A protected text shorter than one shingle is one shingle of all its words.
    const size_t kk = std::min(k, words.size());
    lengths_[kk] = true;
    const uint32_t id = static_cast<uint32_t>(texts_.size());
    const size_t first = shingles_.size();
    for (size_t i = 0; kk > 0 && i + kk <= words.size(); ++i) {
      shingles_.emplace_back(ShingleHash(words, i, kk), id);
    }
    // Distinct shingles of this text (a repeated phrase counts once).
    std::sort(shingles_.begin() + static_cast<std::ptrdiff_t>(first), shingles_.end());
    shingles_.erase(
        std::unique(shingles_.begin() + static_cast<std::ptrdiff_t>(first), shingles_.end()),
        shingles_.end());
    texts_.push_back(Text{name, shingles_.size() - first});
  }
  std::sort(shingles_.begin(), shingles_.end());
}

PromptLeakMatcher::PromptLeakMatcher(std::shared_ptr<const PromptLeakIndex> index)
    : index_(std::move(index)),
      seen_(index_->texts_.size()),
      first_end_(index_->texts_.size(), 0),
      reported_(index_->texts_.size(), false) {}

void PromptLeakMatcher::EndWord(uint64_t end, std::vector<PromptLeak>* out) {
  if (word_.empty()) return;
  const size_t k = std::max<uint32_t>(index_->options_.shingle_words, 1);
  window_.push_back(WordHash(word_));
  word_.clear();
  if (window_.size() > k) window_.erase(window_.begin());
  // Shingles of every length up to k end here (short protected texts are short shingles).
  for (size_t len = 1; len <= window_.size(); ++len) {
    if (!index_->lengths_[len]) continue;
    const uint64_t h = ShingleHash(window_, window_.size() - len, len);
    auto it = std::lower_bound(index_->shingles_.begin(), index_->shingles_.end(),
                               std::pair<uint64_t, uint32_t>(h, 0));
    for (; it != index_->shingles_.end() && it->first == h; ++it) {
      const uint32_t id = it->second;
      const auto& text = index_->texts_[id];
      // Only shingles of the text's own length count (k, or all its words when shorter).
      if (len != k && text.shingles != 1) continue;
      if (!seen_[id].insert(h).second) continue;
      if (seen_[id].size() == 1) first_end_[id] = end;
      const size_t matched = seen_[id].size();
      const bool leak =
          matched >= index_->options_.min_shingles ||
          static_cast<double>(matched) >= index_->options_.min_fraction * text.shingles;
      if (leak && !reported_[id]) {
        reported_[id] = true;
        out->push_back(PromptLeak{text.name, matched, text.shingles, first_end_[id]});
      }
    }
  }
}

std::vector<PromptLeak> PromptLeakMatcher::Feed(std::string_view chunk) {
  std::vector<PromptLeak> out;
  for (size_t i = 0; i < chunk.size(); ++i) {
    if (WordChar(static_cast<unsigned char>(chunk[i]))) {
      if (word_.size() < kMaxWord) word_ += Lower(chunk[i]);
      continue;
    }
    EndWord(offset_ + i, &out);
  }
  offset_ += chunk.size();
  return out;
}

std::vector<PromptLeak> PromptLeakMatcher::Finish() {
  std::vector<PromptLeak> out;
  EndWord(offset_, &out);
  return out;
}

}  // namespace rampart::detectors
