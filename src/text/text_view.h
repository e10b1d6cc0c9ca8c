// TextView: what a detector scans — normalized bytes plus the way back to original spans.
//
// A view either covers a normalized top-level text (each normalized byte maps to its own
// original span) or a decoded layer (every match maps to the whole encoded run in the
// original text, because decoded bytes have no finer correspondence).
//
// Ownership: a TextView borrows everything; the NormalizedText and strings it was built
// from must outlive it. Thread safety: immutable value.
#pragma once

#include <string_view>

#include "rampart/finding.h"
#include "text/normalizer.h"

namespace rampart::text {

class TextView {
 public:
  // View of a top-level text.
  TextView(const NormalizedText& n, std::string_view field) : n_(&n), field_(field) {}
  // View of a decoded layer: `n` is the normalized decoded text, `fixed` the original span
  // of the outermost encoded run, `decoded_via` the decoding chain ("base64>hex").
  TextView(const NormalizedText& n, std::string_view field, Span fixed,
           std::string_view decoded_via)
      : n_(&n), field_(field), fixed_(fixed), decoded_via_(decoded_via), is_decoded_(true) {}

  // The bytes to match against.
  std::string_view text() const { return n_->text; }
  const NormalizedText& normalized() const { return *n_; }
  std::string_view field() const { return field_; }
  std::string_view decoded_via() const { return decoded_via_; }
  bool is_decoded() const { return is_decoded_; }

  // Original span for text() bytes [begin, end). REQUIRES: begin < end <= text().size().
  Span ToOriginal(uint32_t begin, uint32_t end) const {
    return is_decoded_ ? fixed_ : n_->ToOriginal(begin, end);
  }

 private:
  const NormalizedText* n_;
  std::string_view field_;
  Span fixed_;
  std::string_view decoded_via_;
  bool is_decoded_ = false;
};

}  // namespace rampart::text
