// Reading policies from YAML. The Policy type itself is public: include/rampart/policy.h.
//
// File format (YAML; see docs/policy.md and examples/policy.yaml):
//
//   default_action: allow          # Default: allow
//   fail_on: block                 # rampart scan exits 1 at or above this. Default: block
//   redaction:
//     mode: label                  # label ([EMAIL]) | pseudonym ([EMAIL_3f2a9c1e]). Default: label
//     key_env: RAMPART_PSEUDONYM_KEY   # env var holding the HMAC key (pseudonym mode only)
//   rules:
//     - {category: secret, action: redact}
//     - {category: prompt_injection, min_severity: high, action: block}
//     - {rule: text.tag_characters, action: block}     # rule-id prefix
#pragma once

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "rampart/policy.h"

namespace rampart::detectors {

// Parses a policy file's YAML text; errors name `source` and the field path. In pseudonym
// mode the key is read from the environment variable named by redaction.key_env, and a
// missing or short (< 16 bytes) key is an error.
absl::StatusOr<Policy> ParsePolicy(std::string_view yaml, std::string_view source);
absl::StatusOr<Policy> LoadPolicyFile(const std::string& path);

}  // namespace rampart::detectors
