// Rule packs: the data files under rules/ that the rule engine compiles.
//
// A pack is one YAML file (format in docs/rules.md):
//
//   pack: pii                      # pack name; rule ids start with it or a sibling prefix
//   description: Personal data.
//   rules:
//     - id: pii.email              # stable dotted lower-case id
//       category: pii              # see rampart::Category names
//       severity: medium           # info|low|medium|high|critical
//       score: 0.9                 # confidence in [0,1]. Default: 0.8
//       label: EMAIL               # redaction label; empty = not redactable. Default: ""
//       pattern: '[a-z0-9._%+-]+@[a-z0-9-]+(\.[a-z0-9-]+)+'   # Hyperscan syntax
//       caseless: true             # Default: false
//       validator: email           # optional, see validators.h
//       min_entropy: 3.0           # optional, bits/char of the (narrowed) match
//       priority: 10               # overlap resolution among redactable findings. Default: 0
//       description: An e-mail address.
//       references: [https://...]
//       examples:                  # checked by the test suite for every shipped pack
//         match: ["write to alice@example.org"]
//         no_match: ["alice at example dot org"]
//
// Loading validates everything and names the offending field:
//   "rules/pii.yaml: rules[3].severity: unknown severity 'hgh'".
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "rampart/finding.h"

namespace rampart::detectors {

struct Rule {
  std::string id;
  Category category = Category::kPromptInjection;
  Severity severity = Severity::kMedium;
  float score = 0.8f;
  std::string label;
  std::string pattern;
  bool caseless = false;
  std::string validator;
  double min_entropy = 0.0;
  int priority = 0;
  // Scan this rule's main pass in a Hyperscan database of its own. Some patterns make a
  // shared database much slower than the sum of its parts (bench/rule_cost_benchmark's
  // "all" and "own/" rows show it); see docs/rules.md, "Writing fast rules".
  bool own_database = false;
  std::string description;
  std::vector<std::string> references;
  std::vector<std::string> match_examples;
  std::vector<std::string> no_match_examples;
};

struct RulePack {
  std::string name;
  std::string description;
  std::string source;  // file path or "<memory>", for error messages
  std::vector<Rule> rules;
};

// Limits that keep a hostile or broken pack from exhausting memory.
inline constexpr size_t kMaxRulePackBytes = 4u << 20;
inline constexpr size_t kMaxRulesPerPack = 4096;
inline constexpr size_t kMaxPatternBytes = 8192;
// Counted repeats ({m}, {m,}, {m,n}) cost Hyperscan compile time and memory in proportion to
// their counts: a pattern's repeat weight (RepeatWeight) may not exceed this. The shipped
// rules stay under 400.
inline constexpr uint64_t kMaxRepeatWeight = 2000;

// The sum of a pattern's counted-repeat bounds (the larger of m and n), a repeated group
// counting its content's weight times the count: `a{10}(b{5}){3}` weighs 10 + 5 * 3 = 25.
// Braces in escapes and character classes do not count. Saturates instead of overflowing.
uint64_t RepeatWeight(std::string_view pattern);

// Parses one pack from YAML text. `source` names it in errors.
absl::StatusOr<RulePack> ParseRulePack(std::string_view yaml, std::string_view source);
// Reads and parses one pack file.
absl::StatusOr<RulePack> LoadRulePackFile(const std::string& path);
// Loads every *.yaml file in `dir`, sorted by name. Duplicate rule ids across packs are an
// error.
absl::StatusOr<std::vector<RulePack>> LoadRulePackDir(const std::string& dir);

}  // namespace rampart::detectors
