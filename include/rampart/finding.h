// Finding: one thing a detector saw in a text, as a pointer into that text.
//
// A Finding never carries the matched bytes: only ids, a byte span into the ORIGINAL text
// the caller passed in, a score and a severity. Logs, audit records and JSON output can
// therefore carry findings without leaking the secret or PII that was matched. Redaction
// uses the span against the caller's own copy of the text.
//
// Thread safety: a value type; distinct objects may be used from distinct threads.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace rampart {

// Half-open byte range [begin, end) into the original (un-normalized) text.
struct Span {
  uint32_t begin = 0;
  uint32_t end = 0;

  uint32_t size() const { return end - begin; }
  bool empty() const { return end <= begin; }
  bool Overlaps(const Span& o) const { return begin < o.end && o.begin < end; }
  friend bool operator==(const Span&, const Span&) = default;
};

enum class Severity : uint8_t { kInfo = 0, kLow = 1, kMedium = 2, kHigh = 3, kCritical = 4 };

// Stable lower-case names: "info", "low", "medium", "high", "critical".
std::string_view SeverityName(Severity s);
// Parses a name produced by SeverityName; nullopt for anything else.
std::optional<Severity> ParseSeverity(std::string_view name);

// What family of threat a finding belongs to. Policies are written against categories.
enum class Category : uint8_t {
  kPromptInjection,   // instruction override, indirect injection
  kJailbreak,         // persona / role-play / refusal suppression
  kPromptExtraction,  // requests to reveal system prompt or hidden instructions
  kRoleInjection,     // chat-template control tokens and role markers in user text
  kObfuscation,       // hidden characters, homoglyph mixing, encoded payload markers
  kPii,               // personal data
  kSecret,            // credentials and keys
};

// Stable lower-case names: "prompt_injection", "jailbreak", "prompt_extraction",
// "role_injection", "obfuscation", "pii", "secret".
std::string_view CategoryName(Category c);
std::optional<Category> ParseCategory(std::string_view name);

struct Finding {
  // Detector that produced it, dotted lower-case and stable: "rules.injection", "text.hidden".
  std::string detector;
  // Rule within the detector, dotted lower-case and stable: "pii.email", "text.tag_chars".
  std::string rule;
  Category category = Category::kObfuscation;
  Severity severity = Severity::kInfo;
  // Confidence in [0,1].
  float score = 0.0f;
  // Where the text came from in a structured input, as a JSON Pointer ("" for a plain text).
  std::string field;
  // Byte span in the original text.
  Span span;
  // Decoding chain that exposed the match, outermost first ("base64", "base64>hex"), or ""
  // when the match was in the text itself. The span then covers the whole encoded run.
  std::string decoded_via;
  // Short label used for redaction ("EMAIL", "CARD"); empty for non-redactable findings.
  std::string label;
};

}  // namespace rampart
