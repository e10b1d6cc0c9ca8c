// Policy: maps findings to actions, and a set of findings to one Verdict.
//
// A policy is a list of rules, first match wins, each matching on category, rule-id prefix,
// minimum severity and minimum score. Findings that match no rule get `default_action`.
// The verdict's action is the strongest action of its findings (allow < redact < review <
// block); its reason is "<category>.<outcome>" of the finding that decided it, e.g.
// "prompt_injection.blocked", "pii.redacted".
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
//
// Thread safety: immutable after construction.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "rampart/finding.h"
#include "rampart/verdict.h"

namespace rampart::detectors {

struct PolicyRule {
  std::optional<Category> category;  // unset: any category
  std::string rule_prefix;           // "" matches every rule id
  Severity min_severity = Severity::kInfo;
  float min_score = 0.0f;
  Action action = Action::kAllow;

  bool Matches(const Finding& f) const;
};

enum class RedactionMode : uint8_t { kLabel, kPseudonym };

struct Policy {
  std::vector<PolicyRule> rules;
  Action default_action = Action::kAllow;
  Action fail_on = Action::kBlock;
  RedactionMode redaction_mode = RedactionMode::kLabel;
  // HMAC key for pseudonyms; set only in pseudonym mode (never logged).
  std::string pseudonym_key;

  // The built-in policy, identical to examples/policy.yaml: block injection, jailbreak,
  // extraction and role injection of high severity, review medium ones, redact PII and
  // secrets, review obfuscation.
  static Policy Default();

  Action Decide(const Finding& f) const;
  // Action and reason for a set of findings (does not redact).
  void Apply(const std::vector<Finding>& findings, Verdict& verdict) const;
};

// Parses a policy file's YAML text; errors name `source` and the field path. In pseudonym
// mode the key is read from the environment variable named by redaction.key_env, and a
// missing or short (< 16 bytes) key is an error.
absl::StatusOr<Policy> ParsePolicy(std::string_view yaml, std::string_view source);
absl::StatusOr<Policy> LoadPolicyFile(const std::string& path);

// "blocked", "review", "redacted", "allowed".
std::string_view OutcomeName(Action a);

}  // namespace rampart::detectors
