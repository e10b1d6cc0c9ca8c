#include "detectors/hidden_text.h"

namespace rampart::detectors {
namespace {

bool IsAsciiAlnum(unsigned char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
bool IsAsciiAlpha(unsigned char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

Finding Make(std::string_view rule, Severity sev, float score, Span span, std::string_view field) {
  Finding f;
  f.detector = "text";
  f.rule = std::string(rule);
  f.category = Category::kObfuscation;
  f.severity = sev;
  f.score = score;
  f.field = std::string(field);
  f.span = span;
  return f;
}

// Emoji subdivision flags (U+1F3F4 + tags such as "gbeng" + cancel tag) are the one
// legitimate use of tag characters; their payload is at most 6 lower-case letters/digits.
bool LooksLikeFlagTagSequence(std::string_view payload) {
  if (payload.size() > 6) return false;
  for (unsigned char c : payload) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))) return false;
  }
  return true;
}

}  // namespace

void FindTextAnomalies(std::string_view original, const text::NormalizedText& n,
                       std::string_view field, std::vector<Finding>& out) {
  bool bidi_reported = false;
  bool tag_reported = false;
  for (const auto& run : n.hidden) {
    switch (run.kind) {
      case text::HiddenKind::kTagCharacter:
        if (!tag_reported && !LooksLikeFlagTagSequence(n.tag_payload)) {
          out.push_back(Make("text.tag_characters", Severity::kHigh, 0.95f,
                             n.tag_payload_span.empty() ? run.span : n.tag_payload_span, field));
          tag_reported = true;
        }
        break;
      case text::HiddenKind::kBidiControl:
        if (!bidi_reported) {
          out.push_back(Make("text.bidi_control", Severity::kMedium, 0.7f, run.span, field));
          bidi_reported = true;
        }
        break;
      case text::HiddenKind::kZeroWidth: {
        // Between two ASCII letters or digits a zero-width character only serves to split a
        // word; next to emoji or in Indic scripts (ZWJ/ZWNJ) it is ordinary.
        bool inside_word = run.span.begin > 0 && run.span.end < original.size() &&
                           IsAsciiAlnum(original[run.span.begin - 1]) &&
                           IsAsciiAlnum(original[run.span.end]);
        if (inside_word) {
          out.push_back(Make("text.zero_width", Severity::kMedium, 0.8f, run.span, field));
        }
        break;
      }
      case text::HiddenKind::kVariationSelector:
      case text::HiddenKind::kOtherInvisible:
        break;
    }
  }

  if (n.confusables_mapped > 0) {
    // A word of normalized ASCII letters in which some letters were ASCII in the original and
    // others were mapped from look-alikes (Cyrillic 'о' in "ignоre").
    const std::string& t = n.text;
    size_t i = 0;
    while (i < t.size()) {
      if (!IsAsciiAlpha(t[i])) {
        ++i;
        continue;
      }
      size_t j = i;
      bool has_ascii = false, has_mapped = false;
      while (j < t.size() && IsAsciiAlpha(t[j])) {
        const auto [ob, oe] = n.OriginalOf(static_cast<uint32_t>(j));
        if (oe - ob == 1 && static_cast<unsigned char>(original[ob]) < 0x80) {
          has_ascii = true;
        } else {
          has_mapped = true;
        }
        ++j;
      }
      if (has_ascii && has_mapped) {
        out.push_back(Make("text.mixed_script", Severity::kMedium, 0.8f,
                           n.ToOriginal(static_cast<uint32_t>(i), static_cast<uint32_t>(j)),
                           field));
        break;  // one finding says enough; the rules see the mapped text anyway
      }
      i = j;
    }
  }

  if (n.invalid_utf8_sequences > 0) {
    out.push_back(Make("text.invalid_utf8", Severity::kLow, 1.0f,
                       Span{0, static_cast<uint32_t>(original.size())}, field));
  }
}

}  // namespace rampart::detectors
