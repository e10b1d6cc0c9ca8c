#include "detectors/rule_engine.h"

#include <hs/hs.h>

#include <algorithm>
#include <cstdlib>
#include <map>
#include <thread>

#include "absl/status/status.h"
#include "common/strings.h"
#include "detectors/database_cache.h"
#include "text/normalizer.h"

namespace rampart::detectors {
namespace {

struct Candidate {
  uint32_t rule;
  uint32_t from;
  uint32_t to;
};

class RuleScanContext : public ScanContext {
 public:
  explicit RuleScanContext(hs_scratch_t* scratch) : scratch_(scratch) {}
  ~RuleScanContext() override { hs_free_scratch(scratch_); }

  hs_scratch_t* scratch_;
  std::vector<Candidate> candidates;
  uint32_t max_candidates = 0;
  bool overflowed = false;
  std::vector<std::pair<uint32_t, uint32_t>> first_end;  // (rule, end) from the main pass
  uint32_t offset = 0;            // where the current span pass started in the text
  uint32_t span_rule = 0;         // rule of the current span pass
  std::vector<Finding> labelled;  // redactable findings awaiting overlap resolution
  std::vector<int> labelled_priority;
};

struct LocateState {
  unsigned int rule;
  unsigned long long end;
  bool found;
};

int OnLocate(unsigned int id, unsigned long long /*from*/, unsigned long long to,
             unsigned int /*flags*/, void* user) {
  auto* st = static_cast<LocateState*>(user);
  if (id == st->rule && to == st->end) {
    st->found = true;
    return 1;
  }
  return 0;
}

int OnSpanMatch(unsigned int /*id*/, unsigned long long from, unsigned long long to,
                unsigned int /*flags*/, void* user) {
  auto* ctx = static_cast<RuleScanContext*>(user);
  if (ctx->candidates.size() >= ctx->max_candidates) {
    ctx->overflowed = true;
    return 1;
  }
  ctx->candidates.push_back({ctx->span_rule, ctx->offset + static_cast<uint32_t>(from),
                             ctx->offset + static_cast<uint32_t>(to)});
  return 0;
}

int OnMatch(unsigned int id, unsigned long long from, unsigned long long to, unsigned int /*flags*/,
            void* user) {
  auto* ctx = static_cast<RuleScanContext*>(user);
  if (ctx->candidates.size() >= ctx->max_candidates) {
    ctx->overflowed = true;
    return 1;  // stop scanning
  }
  ctx->candidates.push_back(
      {static_cast<uint32_t>(id), static_cast<uint32_t>(from), static_cast<uint32_t>(to)});
  return 0;
}

}  // namespace

std::string BoundWhiteSpaceRepeats(std::string_view pattern) {
  const std::string plus = StrCat("\\s{1,", text::kMaxWhiteSpaceRun, "}");
  const std::string star = StrCat("\\s{0,", text::kMaxWhiteSpaceRun, "}");
  std::string out;
  out.reserve(pattern.size() + pattern.size() / 4);
  bool in_class = false;
  for (size_t i = 0; i < pattern.size();) {
    const char c = pattern[i];
    if (c == '\\' && i + 1 < pattern.size()) {
      if (!in_class && pattern[i + 1] == 's' && i + 2 < pattern.size() &&
          (pattern[i + 2] == '+' || pattern[i + 2] == '*')) {
        out += pattern[i + 2] == '+' ? plus : star;
        i += 3;
      } else {
        out.append(pattern, i, 2);
        i += 2;
      }
      continue;
    }
    out.push_back(c);
    ++i;
    if (in_class) {
      in_class = c != ']';
    } else if (c == '[') {
      in_class = true;
      // A ']' first in a class (after an optional '^') is a literal.
      if (i < pattern.size() && pattern[i] == '^') out.push_back(pattern[i++]);
      if (i < pattern.size() && pattern[i] == ']') out.push_back(pattern[i++]);
    }
  }
  return out;
}

absl::Status RuleEngine::CompileDatabase(const std::vector<CompiledRule>& rules,
                                         const std::vector<std::string>& sources, DbKind kind,
                                         size_t one_rule, const std::string& cache_dir,
                                         hs_database** out) {
  std::vector<std::string> bounded(rules.size());
  std::vector<const char*> patterns;
  std::vector<unsigned int> flags;
  std::vector<unsigned int> ids;
  for (size_t i = 0; i < rules.size(); ++i) {
    const bool redactable = !rules[i].rule.label.empty();
    if (kind == DbKind::kLocate && redactable) continue;
    if ((kind == DbKind::kSpans || kind == DbKind::kOwn) && i != one_rule) continue;
    if (kind == DbKind::kMain && rules[i].rule.own_database) continue;
    const bool main_pass = kind == DbKind::kMain || kind == DbKind::kOwn;
    unsigned int f = HS_FLAG_DOTALL;
    if (rules[i].rule.caseless) f |= HS_FLAG_CASELESS;
    if (kind == DbKind::kSpans) {
      f |= HS_FLAG_SOM_LEFTMOST;
    } else if (main_pass && (redactable || rules[i].validator == nullptr)) {
      // The main pass only has to learn which rules match and where the first match ends;
      // a non-redactable rule with a validator must see every candidate.
      f |= HS_FLAG_SINGLEMATCH;
    }
    // Only the main pass reads whole texts. The locate and exact-span passes run near a
    // known match, where bounding buys nothing, and bounded repeats cost compile time (and
    // with start-of-match tracking, much more), so they keep the pattern as written.
    if (main_pass) {
      bounded[i] = BoundWhiteSpaceRepeats(rules[i].rule.pattern);
      patterns.push_back(bounded[i].c_str());
    } else {
      patterns.push_back(rules[i].rule.pattern.c_str());
    }
    flags.push_back(f);
    ids.push_back(static_cast<unsigned int>(i));
  }
  int bad = -1;
  CacheOutcome outcome;
  absl::Status st = CompileCached(patterns, flags, ids, cache_dir, out, &bad, &outcome);
  if (!st.ok()) {
    if (bad >= 0 && static_cast<size_t>(bad) < ids.size()) {
      size_t r = ids[bad];
      return absl::InvalidArgumentError(StrCat(
          sources[r], ": rule ", rules[r].rule.id,
          ": pattern rejected by Hyperscan: ", st.message(),
          kind == DbKind::kSpans ? " (redactable rules are compiled with start-of-match tracking; "
                                   "simplify the pattern)"
                                 : ""));
    }
    return absl::InvalidArgumentError(StrCat("rule database failed to compile: ", st.message()));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<RuleEngine>> RuleEngine::Create(const std::vector<RulePack>& packs,
                                                               RuleEngineOptions limits) {
  std::vector<CompiledRule> rules;
  std::vector<std::string> sources;
  for (const auto& pack : packs) {
    for (const auto& r : pack.rules) {
      CompiledRule c{r, StrCat("rules.", pack.name), nullptr};
      if (!r.validator.empty()) {
        c.validator = FindValidator(r.validator);
        if (c.validator == nullptr) {
          return absl::InvalidArgumentError(
              StrCat(pack.source, ": rule ", r.id, ": unknown validator ", r.validator));
        }
      }
      rules.push_back(std::move(c));
      sources.push_back(pack.source);
    }
  }
  if (rules.empty()) return absl::InvalidArgumentError("no rules to compile");
  std::string cache_dir = limits.cache_dir;
  if (cache_dir.empty()) {
    if (const char* env = std::getenv("RAMPART_CACHE_DIR"); env != nullptr) cache_dir = env;
  }

  // One main database finds which rules match, cheaply (no start-of-match tracking, first
  // match only). Redactable rules then need exact spans for every match: each has its own
  // database with start-of-match tracking, run only when the main pass saw it match, from a
  // little before its first match. Other rules locate the start of their one match with the
  // locate database (Locate). Start-of-match tracking slows Hyperscan several times over and
  // makes some natural-language patterns too large to compile, so it is paid only where a
  // match is known to exist. A rule marked own_database has its main pass in a database of
  // its own, scanned after the shared one. The databases are independent and compile on two
  // threads.
  const auto own = std::count_if(rules.begin(), rules.end(),
                                 [](const CompiledRule& r) { return r.rule.own_database; });
  if (own > static_cast<std::ptrdiff_t>(kMaxOwnDatabases)) {
    return absl::InvalidArgumentError(StrCat(own, " rules set own_database; at most ",
                                             kMaxOwnDatabases,
                                             " may (each is one more scan of every text)"));
  }
  hs_database_t* db = nullptr;
  hs_database_t* locate_db = nullptr;
  bool any_plain = std::any_of(rules.begin(), rules.end(),
                               [](const CompiledRule& r) { return r.rule.label.empty(); });
  absl::Status side_status;
  std::thread side_thread([&] {
    if (any_plain) {
      side_status = CompileDatabase(rules, sources, DbKind::kLocate, 0, cache_dir, &locate_db);
    }
    for (size_t i = 0; i < rules.size() && side_status.ok(); ++i) {
      if (rules[i].rule.label.empty()) continue;
      side_status =
          CompileDatabase(rules, sources, DbKind::kSpans, i, cache_dir, &rules[i].span_db);
    }
  });
  const bool any_shared = std::any_of(rules.begin(), rules.end(),
                                      [](const CompiledRule& r) { return !r.rule.own_database; });
  absl::Status main_status = any_shared
                                 ? CompileDatabase(rules, sources, DbKind::kMain, 0, cache_dir, &db)
                                 : absl::OkStatus();
  for (size_t i = 0; i < rules.size() && main_status.ok(); ++i) {
    if (!rules[i].rule.own_database) continue;
    main_status = CompileDatabase(rules, sources, DbKind::kOwn, i, cache_dir, &rules[i].own_db);
  }
  side_thread.join();
  if (!main_status.ok() || !side_status.ok()) {
    if (db != nullptr) hs_free_database(db);
    if (locate_db != nullptr) hs_free_database(locate_db);
    for (auto& r : rules) {
      if (r.span_db != nullptr) hs_free_database(r.span_db);
      if (r.own_db != nullptr) hs_free_database(r.own_db);
    }
    return main_status.ok() ? side_status : main_status;
  }
  return std::unique_ptr<RuleEngine>(new RuleEngine(std::move(rules), db, locate_db, limits));
}

RuleEngine::RuleEngine(std::vector<CompiledRule> rules, hs_database* db, hs_database* locate_db,
                       RuleEngineOptions limits)
    : rules_(std::move(rules)), db_(db), locate_db_(locate_db), limits_(limits) {
  for (size_t i = 0; i < rules_.size(); ++i) {
    if (rules_[i].own_db != nullptr) own_db_rules_.push_back(static_cast<uint32_t>(i));
  }
}

RuleEngine::~RuleEngine() {
  if (db_ != nullptr) hs_free_database(db_);
  if (locate_db_ != nullptr) hs_free_database(locate_db_);
  for (auto& r : rules_) {
    if (r.span_db != nullptr) hs_free_database(r.span_db);
    if (r.own_db != nullptr) hs_free_database(r.own_db);
  }
}

size_t RuleEngine::database_bytes() const {
  size_t total = 0;
  auto add = [&](const hs_database* db) {
    size_t k = 0;
    if (db != nullptr && hs_database_size(db, &k) == HS_SUCCESS) total += k;
  };
  add(db_);
  add(locate_db_);
  for (const auto& r : rules_) {
    add(r.span_db);
    add(r.own_db);
  }
  return total;
}

std::unique_ptr<ScanContext> RuleEngine::NewContext() const {
  hs_scratch_t* scratch = nullptr;
  // One scratch serves every database (hs_alloc_scratch grows it to fit each).
  auto fits = [&](const hs_database* db) {
    return db == nullptr || hs_alloc_scratch(db, &scratch) == HS_SUCCESS;
  };
  if (!fits(db_) || !fits(locate_db_) ||
      !std::all_of(rules_.begin(), rules_.end(),
                   [&](const CompiledRule& r) { return fits(r.span_db) && fits(r.own_db); })) {
    // Only fails when out of memory; a detector that cannot scan must not pretend to.
    std::abort();
  }
  auto ctx = std::make_unique<RuleScanContext>(scratch);
  ctx->max_candidates = limits_.max_candidates;
  return ctx;
}

uint32_t RuleEngine::Locate(std::string_view text, uint32_t rule, uint32_t end,
                            ScanContext& base_ctx) const {
  auto& ctx = static_cast<RuleScanContext&>(base_ctx);
  // Some match of `rule` ends at `end`. Matches ending there that start at or after s exist
  // exactly for s <= (latest such start), so binary search finds the latest start: the
  // shortest match, which is the most precise span to report.
  auto matches_from = [&](uint32_t s) {
    LocateState st{rule, end - s, false};
    hs_scan(locate_db_, text.data() + s, end - s, 0, ctx.scratch_, OnLocate, &st);
    return st.found;
  };
  uint32_t lo = end > limits_.max_locate_bytes ? end - limits_.max_locate_bytes : 0;
  uint32_t hi = end - 1;
  if (!matches_from(lo)) return lo;  // longer than the search window: report the window
  while (lo < hi) {
    uint32_t mid = lo + (hi - lo + 1) / 2;
    if (matches_from(mid)) {
      lo = mid;
    } else {
      hi = mid - 1;
    }
  }
  return lo;
}

namespace {

// Not clean: says that a text could not be fully examined.
Finding LimitFinding(const text::TextView& view) {
  Finding f;
  f.detector = "rules";
  f.rule = "rules.match_limit";
  f.category = Category::kObfuscation;
  f.severity = Severity::kMedium;
  f.score = 1.0f;
  f.field = std::string(view.field());
  f.span = view.ToOriginal(0, static_cast<uint32_t>(view.text().size()));
  f.decoded_via = std::string(view.decoded_via());
  return f;
}

}  // namespace

void RuleEngine::Scan(const text::TextView& view, ScanContext& base_ctx,
                      std::vector<Finding>& out) const {
  auto& ctx = static_cast<RuleScanContext&>(base_ctx);
  std::string_view text = view.text();
  if (text.empty()) return;
  ctx.candidates.clear();
  ctx.overflowed = false;
  ctx.labelled.clear();
  ctx.labelled_priority.clear();

  hs_error_t rc = HS_SUCCESS;
  if (db_ != nullptr) {
    rc = hs_scan(db_, text.data(), static_cast<unsigned int>(text.size()), 0, ctx.scratch_, OnMatch,
                 &ctx);
  }
  for (size_t k = 0; k < own_db_rules_.size() && rc == HS_SUCCESS && !ctx.overflowed; ++k) {
    rc = hs_scan(rules_[own_db_rules_[k]].own_db, text.data(),
                 static_cast<unsigned int>(text.size()), 0, ctx.scratch_, OnMatch, &ctx);
  }
  bool limit_reported = false;
  if (ctx.overflowed || (rc != HS_SUCCESS && rc != HS_SCAN_TERMINATED)) {
    out.push_back(LimitFinding(view));
    limit_reported = true;
  }

  // Second pass for redactable rules that matched: exact spans of every match.
  ctx.first_end.clear();
  for (const Candidate& c : ctx.candidates) {
    if (rules_[c.rule].span_db != nullptr) ctx.first_end.emplace_back(c.rule, c.to);
  }
  std::erase_if(ctx.candidates,
                [&](const Candidate& c) { return rules_[c.rule].span_db != nullptr; });
  for (const auto& [rule, end] : ctx.first_end) {
    uint32_t from = end > limits_.max_locate_bytes ? end - limits_.max_locate_bytes : 0;
    ctx.offset = from;
    ctx.span_rule = rule;
    hs_error_t src =
        hs_scan(rules_[rule].span_db, text.data() + from,
                static_cast<unsigned int>(text.size() - from), 0, ctx.scratch_, OnSpanMatch, &ctx);
    if (ctx.overflowed || (src != HS_SUCCESS && src != HS_SCAN_TERMINATED)) {
      if (!limit_reported) {
        out.push_back(LimitFinding(view));
        limit_reported = true;
      }
      break;
    }
  }

  auto& cands = ctx.candidates;
  std::sort(cands.begin(), cands.end(), [](const Candidate& a, const Candidate& b) {
    if (a.rule != b.rule) return a.rule < b.rule;
    if (a.from != b.from) return a.from < b.from;
    return a.to > b.to;
  });

  size_t i = 0;
  while (i < cands.size()) {
    const uint32_t rule_index = cands[i].rule;
    const CompiledRule& cr = rules_[rule_index];
    const bool redactable = !cr.rule.label.empty();
    const uint32_t max_findings = redactable ? limits_.max_findings_per_rule : 1;
    uint32_t kept = 0;
    uint32_t last_end = 0;
    ValidatorArgs args{cr.rule.min_entropy};
    size_t j = i;
    while (j < cands.size() && cands[j].rule == rule_index) {
      const uint32_t from = cands[j].from;
      size_t k = j;
      while (k < cands.size() && cands[k].rule == rule_index && cands[k].from == from) ++k;
      if (kept < max_findings && from >= last_end) {
        uint32_t tries = 0;
        for (size_t t = j; t < k && tries < limits_.max_tries_per_start; ++t, ++tries) {
          uint32_t b = cands[t].from, e = cands[t].to;
          if (!redactable) b = Locate(text, rule_index, e, ctx);
          if (e <= b) continue;
          if (cr.validator != nullptr && !cr.validator(text, b, e, args)) continue;
          if (e <= b || e > text.size()) continue;
          if (args.min_entropy > 0 && ShannonEntropy(text.substr(b, e - b)) < args.min_entropy) {
            continue;
          }
          if (b < last_end) continue;
          Finding f;
          f.detector = cr.detector;
          f.rule = cr.rule.id;
          f.category = cr.rule.category;
          f.severity = cr.rule.severity;
          f.score = cr.rule.score;
          f.field = std::string(view.field());
          f.span = view.ToOriginal(b, e);
          f.decoded_via = std::string(view.decoded_via());
          f.label = cr.rule.label;
          last_end = e;
          ++kept;
          if (redactable) {
            ctx.labelled.push_back(std::move(f));
            ctx.labelled_priority.push_back(cr.rule.priority);
          } else {
            out.push_back(std::move(f));
          }
          break;
        }
      }
      j = k;
    }
    i = j;
  }

  // Among redactable findings, one original byte belongs to at most one finding: the
  // highest priority wins, then the longer span, then the earlier one.
  if (!ctx.labelled.empty()) {
    std::vector<size_t> order(ctx.labelled.size());
    for (size_t n = 0; n < order.size(); ++n) order[n] = n;
    std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
      if (ctx.labelled_priority[a] != ctx.labelled_priority[b]) {
        return ctx.labelled_priority[a] > ctx.labelled_priority[b];
      }
      const Span& sa = ctx.labelled[a].span;
      const Span& sb = ctx.labelled[b].span;
      if (sa.size() != sb.size()) return sa.size() > sb.size();
      return sa.begin < sb.begin;
    });
    std::map<uint32_t, uint32_t> taken;  // begin -> end, non-overlapping
    for (size_t idx : order) {
      const Span& s = ctx.labelled[idx].span;
      // Decoded-layer findings all share the span of their encoded run; keep them all.
      if (!ctx.labelled[idx].decoded_via.empty()) {
        out.push_back(std::move(ctx.labelled[idx]));
        continue;
      }
      auto it = taken.lower_bound(s.begin);
      bool overlaps = false;
      if (it != taken.end() && it->first < s.end) overlaps = true;
      if (!overlaps && it != taken.begin()) {
        auto prev = std::prev(it);
        if (prev->second > s.begin) overlaps = true;
      }
      if (overlaps) continue;
      taken.emplace(s.begin, s.end);
      out.push_back(std::move(ctx.labelled[idx]));
    }
  }
}

}  // namespace rampart::detectors
