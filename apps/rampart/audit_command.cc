// rampart audit: checks and reads the gateway's tamper-evident audit log.
//
//   rampart audit verify --db F --key-file K [--json]     exit 0 intact, 1 broken, 2 error
//   rampart audit query  --db F [--principal P] [--since T] [--until T] [--reason R]
//                        [--limit N] [--json]
//   rampart audit export --db F [--since T] [--until T]   JSONL of the canonical records
//   rampart audit prune  --db F --key-file K --older-than 30d
//
// Times are RFC 3339 ("2026-11-21T08:00:00Z"), a date ("2026-11-21", UTC midnight), or an
// age ("90m", "24h", "30d") counted back from now. See docs/audit.md.
#include <boost/json.hpp>
#include <cstdio>
#include <iostream>
#include <memory>
#include <optional>
#include <string>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "audit/chain.h"
#include "audit/query.h"
#include "audit/retention.h"
#include "audit/verify.h"
#include "cli_common.h"
#include "commands.h"
#include "common/strings.h"

namespace rampart::cli {
namespace {

struct AuditFlags {
  std::string db;
  std::string key_file;
  bool json = false;
  std::string principal;
  std::string since;
  std::string until;
  std::string reason;
  bool has_reason = false;
  uint64_t limit = 0;
  std::string older_than;
};

// "30d", "12h", "90m", "45s" -> microseconds; nullopt for anything else.
std::optional<int64_t> ParseAge(const std::string& s) {
  if (s.size() < 2) return std::nullopt;
  int64_t unit_us;
  switch (s.back()) {
    case 's':
      unit_us = 1'000'000;
      break;
    case 'm':
      unit_us = 60'000'000;
      break;
    case 'h':
      unit_us = 3'600'000'000;
      break;
    case 'd':
      unit_us = 86'400'000'000;
      break;
    default:
      return std::nullopt;
  }
  int64_t n = 0;
  for (size_t i = 0; i + 1 < s.size(); ++i) {
    if (s[i] < '0' || s[i] > '9' || n > 1'000'000) return std::nullopt;
    n = n * 10 + (s[i] - '0');
  }
  return n * unit_us;
}

int64_t NowUs() { return absl::ToUnixMicros(absl::Now()); }

// A time flag -> microseconds since the epoch; nullopt (after printing why) when malformed.
std::optional<int64_t> ParseTimeFlag(const char* flag, const std::string& s) {
  if (auto age = ParseAge(s)) return NowUs() - *age;
  absl::Time t;
  std::string err;
  if (absl::ParseTime(absl::RFC3339_full, s, &t, &err) ||
      absl::ParseTime("%Y-%m-%d", s, absl::UTCTimeZone(), &t, &err)) {
    return absl::ToUnixMicros(t);
  }
  std::fprintf(stderr,
               "rampart audit: %s: expected RFC 3339 time, YYYY-MM-DD or an age like 24h, got "
               "'%s'\n",
               flag, ForTerminal(s).c_str());
  return std::nullopt;
}

std::string FormatTime(int64_t us) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::FromUnixMicros(us), absl::UTCTimeZone());
}

int RunVerify(const AuditFlags& f) {
  auto key = audit::LoadKeyFile(f.key_file);
  if (!key.ok()) return ReportError("audit verify", key.status());
  auto report = audit::Verify(f.db, *key);
  if (!report.ok()) return ReportError("audit verify", report.status());
  const audit::VerifyReport& r = *report;
  if (f.json) {
    boost::json::object o;
    o["ok"] = r.ok;
    o["records_checked"] = r.records_checked;
    o["first_seq"] = r.first_seq;
    o["last_seq"] = r.last_seq;
    o["checkpoint_seq"] = r.checkpoint_seq;
    o["head_hash"] = r.head_hash;
    if (!r.ok) {
      o["broken_seq"] = r.broken_seq;
      o["kind"] = std::string(audit::BreakKindName(r.kind));
      o["detail"] = r.detail;
    }
    std::cout << boost::json::serialize(o) << "\n";
  } else if (r.ok) {
    std::printf("audit log %s: OK, %lu records checked", ForTerminal(f.db).c_str(),
                (unsigned long)r.records_checked);
    if (r.records_checked > 0) {
      std::printf(" (seq %lu..%lu)", (unsigned long)r.first_seq, (unsigned long)r.last_seq);
    }
    if (r.checkpoint_seq > 0) {
      std::printf(", from the checkpoint at seq %lu", (unsigned long)r.checkpoint_seq);
    }
    std::printf("\nhead hash %s\n", r.head_hash.c_str());
  } else {
    std::printf("audit log %s: BROKEN at seq %lu (%s): %s\n", ForTerminal(f.db).c_str(),
                (unsigned long)r.broken_seq, std::string(audit::BreakKindName(r.kind)).c_str(),
                r.detail.c_str());
    std::printf("%lu records verified before the break\n", (unsigned long)r.records_checked);
  }
  return r.ok ? kExitClean : kExitFindings;
}

// Builds the filter shared by query and export; false (after printing why) on a bad flag.
bool BuildFilter(const AuditFlags& f, audit::QueryFilter* q) {
  if (!f.principal.empty()) q->principal = f.principal;
  if (f.has_reason) q->reason = f.reason;
  if (!f.since.empty()) {
    q->since_us = ParseTimeFlag("--since", f.since);
    if (!q->since_us) return false;
  }
  if (!f.until.empty()) {
    q->until_us = ParseTimeFlag("--until", f.until);
    if (!q->until_us) return false;
  }
  q->limit = f.limit;
  return true;
}

int RunQuery(const AuditFlags& f, bool export_mode) {
  const char* cmd = export_mode ? "audit export" : "audit query";
  audit::QueryFilter q;
  if (!BuildFilter(f, &q)) return kExitError;
  bool raw = export_mode || f.json;
  if (!raw) {
    std::printf("%-8s %-24s %-16s %-24s %-7s %-24s %6s %s\n", "seq", "time", "principal", "route",
                "verdict", "reason", "status", "findings");
  }
  uint64_t n = 0;
  auto st = audit::Query(f.db, q, [&](const audit::Record& r, std::string_view canonical) {
    ++n;
    if (raw) {
      std::fwrite(canonical.data(), 1, canonical.size(), stdout);
      std::fputc('\n', stdout);
      return true;
    }
    std::string rules;
    for (const auto& fi : r.findings) {
      if (!rules.empty()) rules += ",";
      rules += fi.rule;
    }
    std::printf("%-8lu %-24s %-16s %-24s %-7s %-24s %6d %s\n", (unsigned long)r.seq,
                FormatTime(r.time_us).c_str(), ForTerminal(r.principal).c_str(),
                ForTerminal(r.route).c_str(), ForTerminal(r.verdict).c_str(),
                ForTerminal(r.reason.empty() ? "-" : r.reason).c_str(), r.http_status,
                ForTerminal(rules).c_str());
    return true;
  });
  std::fflush(stdout);
  if (!st.ok()) return ReportError(cmd, st);
  if (!raw) std::printf("%lu records\n", (unsigned long)n);
  return kExitClean;
}

int RunPrune(const AuditFlags& f) {
  auto age = ParseAge(f.older_than);
  if (!age) {
    std::fprintf(stderr, "rampart audit prune: --older-than: expected an age like 30d, got '%s'\n",
                 ForTerminal(f.older_than).c_str());
    return kExitError;
  }
  auto key = audit::LoadKeyFile(f.key_file);
  if (!key.ok()) return ReportError("audit prune", key.status());
  auto result = audit::Prune(f.db, *key, NowUs() - *age);
  if (!result.ok()) return ReportError("audit prune", result.status());
  if (result->pruned == 0) {
    std::printf("nothing older than %s\n", f.older_than.c_str());
  } else {
    std::printf("pruned %lu records; signed checkpoint at seq %lu\n", (unsigned long)result->pruned,
                (unsigned long)result->checkpoint_seq);
  }
  return kExitClean;
}

}  // namespace

void RegisterAudit(CLI::App& app) {
  CLI::App* audit = app.add_subcommand("audit", "Verify, query, export and prune the audit log");
  audit->require_subcommand(1);

  auto v = std::make_shared<AuditFlags>();
  CLI::App* verify = audit->add_subcommand(
      "verify", "Check the hash chain and MACs; name the first broken record (exit 1)");
  verify->add_option("--db", v->db, "Audit log (SQLite file)")->required();
  verify->add_option("--key-file", v->key_file, "HMAC key file (mode 600)")->required();
  verify->add_flag("--json", v->json, "Print JSON");
  AddCommand(verify, [v] { return RunVerify(*v); });

  auto q = std::make_shared<AuditFlags>();
  CLI::App* query = audit->add_subcommand("query", "List records, oldest first");
  query->add_option("--db", q->db, "Audit log (SQLite file)")->required();
  query->add_option("--principal", q->principal, "Only this principal");
  query->add_option("--reason", q->reason, "Only this reason code ('' for allowed exchanges)")
      ->each([q](const std::string&) { q->has_reason = true; });
  query->add_option("--since", q->since, "From this time (RFC 3339, YYYY-MM-DD, or an age: 24h)");
  query->add_option("--until", q->until, "Before this time");
  query->add_option("--limit", q->limit, "At most N records");
  query->add_flag("--json", q->json, "Print the records as JSONL");
  AddCommand(query, [q] { return RunQuery(*q, false); });

  auto e = std::make_shared<AuditFlags>();
  CLI::App* exp = audit->add_subcommand("export", "Write the records as JSONL to stdout");
  exp->add_option("--db", e->db, "Audit log (SQLite file)")->required();
  exp->add_option("--since", e->since, "From this time");
  exp->add_option("--until", e->until, "Before this time");
  AddCommand(exp, [e] { return RunQuery(*e, true); });

  auto p = std::make_shared<AuditFlags>();
  CLI::App* prune = audit->add_subcommand(
      "prune", "Delete old records behind a signed checkpoint (verifies the log first)");
  prune->add_option("--db", p->db, "Audit log (SQLite file)")->required();
  prune->add_option("--key-file", p->key_file, "HMAC key file (mode 600)")->required();
  prune->add_option("--older-than", p->older_than, "Age: 30d, 12h, 90m")->required();
  AddCommand(prune, [p] { return RunPrune(*p); });
}

}  // namespace rampart::cli
