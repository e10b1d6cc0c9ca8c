// RuleEngine: every rule of every loaded pack compiled into Hyperscan databases.
//
// Built once per configuration generation; the databases are immutable and shared by all
// threads, and each thread scans with its own scratch (RuleEngine::NewContext()). A scan is
// one pass over the text for all rules that learns which rules match (plus one pass for each
// rule marked own_database, which has that pass to itself); a redactable rule that matched
// then gets an exact-span pass of its own, and a heuristic rule's start is located by binary
// search (docs/rules.md). Candidates are validated per rule (validators.h) and
// overlapping redactable findings resolved by rule priority.
//
// Thread safety: const methods may be called concurrently; a ScanContext is per thread.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "detectors/rule_pack.h"
#include "detectors/validators.h"
#include "rampart/detector.h"
#include "text/text_view.h"

struct hs_database;

namespace rampart::detectors {

struct RuleEngineOptions {
  // Candidate matches collected per scan before the scan stops and reports
  // `rules.match_limit`. Default: 1,000,000.
  uint32_t max_candidates = 1'000'000;
  // Validation attempts per candidate start (longest first). Default: 8.
  uint32_t max_tries_per_start = 8;
  // Findings kept per rule per text for redactable rules; non-redactable rules keep their
  // first match only. Default: 100,000.
  uint32_t max_findings_per_rule = 100'000;
  // How far back from a match's end its start is searched: for non-redactable rules by
  // Locate, for redactable ones where their exact-span pass begins. Default: 4096.
  uint32_t max_locate_bytes = 4096;
  // Directory of compiled databases (see database_cache.h). Default: "" = the environment
  // variable RAMPART_CACHE_DIR when set, else no cache.
  std::string cache_dir;
};

// Returns `pattern` with every `\s+` and `\s*` outside a character class written as
// `\s{1,N}` and `\s{0,N}`, N = text::kMaxWhiteSpaceRun. Normalized text never holds a longer
// run of white space, so the two match the same texts; the bounded form lets Hyperscan
// check the words before a rare literal only when that literal occurs, instead of
// following every common word that starts a phrase (docs/rules.md, "Writing fast rules").
std::string BoundWhiteSpaceRepeats(std::string_view pattern);

// Rules that may set own_database, across all packs: each is one more pass over every text.
inline constexpr size_t kMaxOwnDatabases = 16;

class RuleEngine : public Detector {
 public:
  // Compiles all rules. Errors name the pack file and rule id of a pattern Hyperscan
  // rejects, and reject a pack set with no rules or more than kMaxOwnDatabases rules with
  // own_database.
  static absl::StatusOr<std::unique_ptr<RuleEngine>> Create(const std::vector<RulePack>& packs,
                                                            RuleEngineOptions limits = {});
  ~RuleEngine() override;
  RuleEngine(const RuleEngine&) = delete;
  RuleEngine& operator=(const RuleEngine&) = delete;

  std::string_view id() const override { return "rules"; }
  void Scan(const text::TextView& view, ScanContext& ctx, std::vector<Finding>& out) const override;
  std::unique_ptr<ScanContext> NewContext() const override;

  size_t rule_count() const { return rules_.size(); }
  const Rule& rule(size_t i) const { return rules_[i].rule; }
  // Bytes of the compiled database.
  size_t database_bytes() const;

 private:
  struct CompiledRule {
    Rule rule;
    std::string detector;  // "rules.<pack>"
    ValidatorFn validator = nullptr;
    hs_database* span_db = nullptr;  // redactable rules: exact spans of every match
    hs_database* own_db = nullptr;   // Rule::own_database: its main pass, alone
  };
  enum class DbKind { kMain, kOwn, kLocate, kSpans };
  RuleEngine(std::vector<CompiledRule> rules, hs_database* db, hs_database* locate_db,
             RuleEngineOptions limits);
  // Compiles the database of `kind` (for kSpans and kOwn: of rule `one_rule` alone).
  static absl::Status CompileDatabase(const std::vector<CompiledRule>& rules,
                                      const std::vector<std::string>& sources, DbKind kind,
                                      size_t one_rule, const std::string& cache_dir,
                                      hs_database** out);
  // Start of the shortest match of non-redactable `rule` that ends at `end`.
  uint32_t Locate(std::string_view text, uint32_t rule, uint32_t end, ScanContext& ctx) const;

  std::vector<CompiledRule> rules_;
  std::vector<uint32_t> own_db_rules_;  // rules with an own_db, in order
  hs_database* db_;  // the main pass of every other rule; null when there are none
  hs_database* locate_db_;
  RuleEngineOptions limits_;
};

}  // namespace rampart::detectors
