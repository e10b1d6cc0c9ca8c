#include "detectors/canary.h"

#include <openssl/rand.h>

#include <algorithm>

#include "common/crypto.h"

namespace rampart::detectors {
namespace {

// Lower-case letters and digits only.
std::string Fold(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    if (c >= 'A' && c <= 'Z') {
      out += static_cast<char>(c - 'A' + 'a');
    } else if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) {
      out += c;
    }
  }
  return out;
}

}  // namespace

absl::StatusOr<std::string> NewCanary(const CanaryOptions& options) {
  static constexpr char kBase32[] = "abcdefghijklmnopqrstuvwxyz234567";
  std::string random(options.random_chars, '\0');
  std::vector<unsigned char> bytes(options.random_chars);
  if (RAND_bytes(bytes.data(), static_cast<int>(bytes.size())) != 1) {
    return absl::UnavailableError("canary: the random generator failed (RAND_bytes)");
  }
  for (size_t i = 0; i < bytes.size(); ++i) random[i] = kBase32[bytes[i] & 31];
  return options.prefix + random;
}

CanaryMatcher::CanaryMatcher(std::string_view canary) {
  AddPattern(Fold(canary), "plain");
  // Base64 of the canary at each of the three byte alignments it can have in a longer
  // encoded text: keep the characters that depend on canary bytes only.
  for (size_t k = 0; k < 3; ++k) {
    std::string padded(k, '\0');
    padded += canary;
    std::string b64 = Base64Encode(padded);
    const size_t first = (8 * k + 5) / 6;
    const size_t last = (8 * (k + canary.size())) / 6;  // exclusive
    if (last > first + 8) AddPattern(Fold(b64.substr(first, last - first)), "base64");
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  for (unsigned char c : canary) {
    hex += kHex[c >> 4];
    hex += kHex[c & 15];
  }
  AddPattern(hex, "hex");
  size_t longest = 0;
  for (const Pattern& p : patterns_) longest = std::max(longest, p.text.size());
  ring_.assign(longest + 1, 0);
}

void CanaryMatcher::AddPattern(std::string folded, std::string_view form) {
  if (folded.empty()) return;
  Pattern p;
  p.text = std::move(folded);
  p.form = form;
  p.failure.assign(p.text.size() + 1, 0);
  // Standard KMP failure function over the folded pattern.
  for (size_t i = 1, k = 0; i < p.text.size(); ++i) {
    while (k > 0 && p.text[i] != p.text[k]) k = p.failure[k];
    if (p.text[i] == p.text[k]) ++k;
    p.failure[i + 1] = static_cast<uint32_t>(k);
  }
  starts_[static_cast<unsigned char>(p.text[0])] = true;
  patterns_.push_back(std::move(p));
}

std::optional<CanaryMatch> CanaryMatcher::Feed(std::string_view chunk) {
  std::vector<CanaryMatch> all = FeedAll(chunk);
  if (all.empty()) return std::nullopt;
  return all.front();
}

uint64_t CanaryMatcher::PendingBegin() const {
  uint64_t begin = offset_;
  for (const Pattern& p : patterns_) {
    if (p.state == 0) continue;
    begin = std::min(begin, ring_[(folded_count_ - p.state) % ring_.size()]);
  }
  return begin;
}

std::vector<CanaryMatch> CanaryMatcher::FeedAll(std::string_view chunk) {
  std::vector<CanaryMatch> found;
  for (size_t i = 0; i < chunk.size(); ++i) {
    char c = chunk[i];
    const uint64_t at = offset_ + i;
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))) continue;
    if (active_ == 0 && !starts_[static_cast<unsigned char>(c)]) {
      // No match in progress and none starts here. The ring is read only at the first
      // character of a match in progress, so this one need not be written.
      ++folded_count_;
      continue;
    }
    ring_[folded_count_ % ring_.size()] = at;
    ++folded_count_;
    active_ = 0;
    for (Pattern& p : patterns_) {
      uint32_t k = p.state;
      while (k > 0 && p.text[k] != c) k = p.failure[k];
      if (p.text[k] == c) ++k;
      if (k == p.text.size()) {
        const uint64_t begin = ring_[(folded_count_ - k) % ring_.size()];
        found.push_back(CanaryMatch{begin, at + 1, p.form});
        k = p.failure[k];
      }
      p.state = k;
      if (k > 0) ++active_;
    }
  }
  offset_ += chunk.size();
  return found;
}

std::optional<CanaryMatch> CanaryMatcher::Find(std::string_view canary, std::string_view text) {
  CanaryMatcher m(canary);
  return m.Feed(text);
}

}  // namespace rampart::detectors
