// Redaction: replaces the original bytes of redactable findings with labels.
//
// A finding is redacted when it has a label and the policy decides redact or stronger for
// it. In label mode the bytes become "[EMAIL]"; in pseudonym mode "[EMAIL_1a2b3c4d5e6f]",
// where the suffix is the first 48 bits of HMAC-SHA256(key, label ":" value), so one value
// always maps to the same token under one key and tokens cannot be reversed without it.
// Overlapping spans are merged and take the label of the earliest finding.
//
// Thread safety: pure function.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "detectors/policy.h"
#include "rampart/finding.h"

namespace rampart::detectors {

// Returns the redacted text and sets `*redacted_count` to the number of spans replaced.
// When nothing is redactable, returns "" without copying (count 0). Findings whose span
// lies outside `original` are ignored.
std::string Redact(std::string_view original, const std::vector<Finding>& findings,
                   const Policy& policy, size_t* redacted_count);

}  // namespace rampart::detectors
