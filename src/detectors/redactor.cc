#include "detectors/redactor.h"

#include <algorithm>

#include "common/crypto.h"
#include "common/strings.h"

namespace rampart::detectors {

std::string Redact(std::string_view original, const std::vector<Finding>& findings,
                   const Policy& policy, size_t* redacted_count) {
  struct Item {
    Span span;
    const std::string* label;
  };
  std::vector<Item> items;
  for (const auto& f : findings) {
    if (f.label.empty() || f.span.empty() || f.span.end > original.size()) continue;
    if (policy.Decide(f) < Action::kRedact) continue;
    items.push_back({f.span, &f.label});
  }
  if (redacted_count != nullptr) *redacted_count = 0;
  if (items.empty()) return std::string();
  std::sort(items.begin(), items.end(), [](const Item& a, const Item& b) {
    return a.span.begin != b.span.begin ? a.span.begin < b.span.begin : a.span.end > b.span.end;
  });
  // Merge overlaps.
  std::vector<Item> merged;
  for (const auto& it : items) {
    if (!merged.empty() && it.span.begin < merged.back().span.end) {
      merged.back().span.end = std::max(merged.back().span.end, it.span.end);
    } else {
      merged.push_back(it);
    }
  }
  std::string out;
  out.reserve(original.size());
  uint32_t pos = 0;
  for (const auto& it : merged) {
    out.append(original.substr(pos, it.span.begin - pos));
    std::string_view value = original.substr(it.span.begin, it.span.size());
    if (policy.redaction_mode == RedactionMode::kPseudonym) {
      Sha256Digest mac = HmacSha256(policy.pseudonym_key, StrCat(*it.label, ":", value));
      StrAppend(&out, "[", *it.label, "_", ToHex(mac.data(), 6), "]");
    } else {
      StrAppend(&out, "[", *it.label, "]");
    }
    pos = it.span.end;
  }
  out.append(original.substr(pos));
  if (redacted_count != nullptr) *redacted_count = merged.size();
  return out;
}

}  // namespace rampart::detectors
