// Policy: maps findings to actions, and a set of findings to one Verdict.
//
// A policy is a list of rules, first match wins, each matching on category, rule-id prefix,
// minimum severity and minimum score (the threshold). Findings that match no rule get
// `default_action`. The verdict's action is the strongest action of its findings (allow <
// redact < review < block); its reason is "<category>.<outcome>" of the finding that decided
// it, e.g. "prompt_injection.blocked", "pii.redacted".
//
// Policies are usually read from YAML (src/detectors/policy.h, docs/policy.md).
//
// Thread safety: immutable after construction; const methods may be called concurrently.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "rampart/finding.h"
#include "rampart/verdict.h"

namespace rampart {

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

// "blocked", "review", "redacted", "allowed".
std::string_view OutcomeName(Action a);

}  // namespace rampart
