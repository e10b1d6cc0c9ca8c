// rampart eval: measures the shipped detectors against labelled data.
//
//   rampart eval pii --data FILE.jsonl [--json] [--min-f1 X]
//   rampart eval injection --data FILE.jsonl [--by category|source] [--max-fpr X] ...
//
// Both read the JSONL formats of ../shared/data (see docs/eval.md). Exit 0 when the run
// completed and met the gates given, 1 when a gate failed, 2 on input errors.
#include <algorithm>
#include <cstdio>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "cli_common.h"
#include "commands.h"
#include "common/line_reader.h"
#include "common/strings.h"
#include "detectors/eval.h"
#include "detectors/scanner.h"
#include "json_output.h"

namespace rampart::cli {
namespace {

constexpr size_t kMaxLine = 16u << 20;

struct EvalFlags {
  std::string data;
  std::string rules;
  bool json = false;
  double min_f1 = -1;
  double max_fpr = -1;
  double min_tpr = -1;
  std::string by = "category";
  std::string min_severity = "medium";
  size_t worst = 10;
  bool show_text = false;
};

// Streams the records of a JSONL file to `fn` (record, line number), so memory stays flat
// whatever the file's size. Returns false (after printing why) on an unreadable line, on a
// record without a string "text", when `fn` returns false, or when there are no records.
bool ForEachRecord(const std::string& path,
                   const std::function<bool(const boost::json::object&, uint64_t)>& fn,
                   uint64_t* count) {
  *count = 0;
  auto reader = LineReader::Open(path, kMaxLine);
  if (!reader.ok()) {
    ReportError("eval", reader.status());
    return false;
  }
  std::string line;
  boost::json::parse_options opts;
  opts.max_depth = 32;
  while (true) {
    auto more = (*reader)->Next(line);
    if (!more.ok()) {
      ReportError("eval", more.status());
      return false;
    }
    if (!*more) break;
    if (line.empty()) continue;
    boost::system::error_code ec;
    auto v = boost::json::parse(line, ec, {}, opts);
    if (ec || !v.is_object() || !v.as_object().contains("text") ||
        !v.as_object().at("text").is_string()) {
      std::fprintf(stderr, "rampart eval: %s: line %lu: not a record with a string 'text'\n",
                   path.c_str(), (unsigned long)(*reader)->line_number());
      return false;
    }
    ++*count;
    if (!fn(v.as_object(), (*reader)->line_number())) return false;
  }
  if (*count == 0) {
    std::fprintf(stderr, "rampart eval: %s: no records\n", path.c_str());
    return false;
  }
  return true;
}

// ---------------------------------------------------------------- pii

// The entity types Rampart claims, named as in the evaluation data.
std::string EntityTypeOfRule(const std::string& rule) {
  static const std::map<std::string, std::string> kMap = {
      {"pii.email", "EMAIL_ADDRESS"}, {"pii.phone", "PHONE_NUMBER"}, {"pii.card", "CREDIT_CARD"},
      {"pii.iban", "IBAN_CODE"},      {"pii.ssn", "US_SSN"},         {"pii.ipv4", "IP_ADDRESS"},
      {"pii.ipv6", "IP_ADDRESS"},     {"pii.dob", "DATE_OF_BIRTH"}};
  if (auto it = kMap.find(rule); it != kMap.end()) return it->second;
  if (absl::StartsWith(rule, "secret.")) return "SECRET";
  return "";
}

// Gold types as evaluated: detect-secrets' IP_PUBLIC plugin flags IP addresses, which
// Rampart reports as PII; every other SECRET:<plugin> is a secret.
std::string GoldType(const std::string& t) {
  if (t == "SECRET:IP_PUBLIC") return "IP_ADDRESS";
  if (absl::StartsWith(t, "SECRET")) return "SECRET";
  return t;
}

const std::set<std::string>& SupportedTypes() {
  static const std::set<std::string> kTypes = {"EMAIL_ADDRESS", "PHONE_NUMBER", "CREDIT_CARD",
                                               "IBAN_CODE",     "US_SSN",       "IP_ADDRESS",
                                               "SECRET",        "DATE_OF_BIRTH"};
  return kTypes;
}

int RunEvalPii(const EvalFlags& flags) {
  auto scanner = detectors::Scanner::FromFiles(ResolveRulesDir(flags.rules), "");
  if (!scanner.ok()) return ReportError("eval", scanner.status());
  auto ctx = (*scanner)->NewContext();

  std::map<std::string, detectors::PrfCounts> exact, overlap;
  std::map<std::string, uint64_t> unsupported;
  std::vector<Finding> findings;
  uint64_t records = 0;
  auto one = [&](const boost::json::object& rec, uint64_t /*line*/) {
    std::string text(rec.at("text").as_string());
    std::vector<detectors::TypedSpan> gold;
    if (auto* ents = rec.if_contains("entities"); ents && ents->is_array()) {
      for (const auto& e : ents->as_array()) {
        if (!e.is_object() || !e.as_object().contains("type") ||
            !e.as_object().at("type").is_string()) {
          continue;
        }
        const auto& eo = e.as_object();
        std::string type = GoldType(std::string(eo.at("type").as_string()));
        if (!SupportedTypes().count(type)) {
          unsupported[type]++;
          continue;
        }
        detectors::TypedSpan g;
        g.type = type;
        auto* s = eo.if_contains("start");
        auto* en = eo.if_contains("end");
        if (s && en && s->is_int64() && en->is_int64()) {
          g.begin = static_cast<uint32_t>(s->as_int64());
          g.end = static_cast<uint32_t>(en->as_int64());
        } else {
          g.has_span = false;
        }
        gold.push_back(g);
      }
    }
    findings.clear();
    if (auto st = (*scanner)->CollectFindings(text, *ctx, "", findings); !st.ok()) {
      ReportError("eval", st);
      return false;
    }
    std::vector<detectors::TypedSpan> pred;
    for (const auto& f : findings) {
      std::string type = EntityTypeOfRule(f.rule);
      if (type.empty()) continue;
      pred.push_back({type, detectors::CodePointOffset(text, f.span.begin),
                      detectors::CodePointOffset(text, f.span.end), true});
    }
    detectors::MatchSpans(gold, pred, detectors::SpanMatch::kExact, exact);
    detectors::MatchSpans(gold, pred, detectors::SpanMatch::kOverlap, overlap);
    return true;
  };
  if (!ForEachRecord(flags.data, one, &records)) return kExitError;

  bool gate_failed = false;
  boost::json::object report;
  boost::json::object types;
  if (!flags.json) {
    std::printf("rampart eval pii: %lu records from %s\n\n", (unsigned long)records,
                flags.data.c_str());
    std::printf("%-15s %6s %6s | %-23s | %-23s\n", "", "", "", "exact span", "overlapping span");
    std::printf("%-15s %6s %6s | %7s %7s %7s | %7s %7s %7s\n", "type", "gold", "pred", "prec",
                "recall", "F1", "prec", "recall", "F1");
  }
  for (const auto& type : SupportedTypes()) {
    const auto& e = exact[type];
    const auto& o = overlap[type];
    uint64_t gold_n = o.tp + o.fn, pred_n = o.tp + o.fp;
    if (gold_n == 0 && pred_n == 0) {
      if (!flags.json)
        std::printf("%-15s %6s %6s   (no examples in this data)\n", type.c_str(), "0", "0");
      continue;
    }
    if (flags.min_f1 >= 0 && gold_n > 0 && o.f1() < flags.min_f1) gate_failed = true;
    if (flags.json) {
      boost::json::object t;
      t["gold"] = gold_n;
      t["predicted"] = pred_n;
      t["exact"] = {{"precision", e.precision()}, {"recall", e.recall()}, {"f1", e.f1()}};
      t["overlap"] = {{"precision", o.precision()}, {"recall", o.recall()}, {"f1", o.f1()}};
      types[type] = std::move(t);
    } else {
      std::printf("%-15s %6lu %6lu | %7.3f %7.3f %7.3f | %7.3f %7.3f %7.3f\n", type.c_str(),
                  (unsigned long)gold_n, (unsigned long)pred_n, e.precision(), e.recall(), e.f1(),
                  o.precision(), o.recall(), o.f1());
    }
  }
  if (flags.json) {
    report["records"] = records;
    report["types"] = std::move(types);
    boost::json::object uns;
    for (const auto& [t, n] : unsupported) uns[t] = n;
    report["unsupported"] = std::move(uns);
    std::cout << boost::json::serialize(report) << "\n";
  } else {
    std::printf("\nunsupported (not claimed, not detected):");
    for (const auto& [t, n] : unsupported) std::printf(" %s=%lu", t.c_str(), (unsigned long)n);
    std::printf("\n");
    if (flags.min_f1 >= 0) {
      std::printf("gate: overlap F1 >= %.3f for every type with gold examples: %s\n", flags.min_f1,
                  gate_failed ? "FAILED" : "passed");
    }
  }
  return gate_failed ? kExitFindings : kExitClean;
}

// ---------------------------------------------------------------- injection

bool InjectionFamily(Category c) {
  return c == Category::kPromptInjection || c == Category::kJailbreak ||
         c == Category::kPromptExtraction || c == Category::kRoleInjection ||
         c == Category::kObfuscation;
}

int RunEvalInjection(const EvalFlags& flags) {
  auto min_sev = ParseSeverity(flags.min_severity);
  if (!min_sev) {
    std::fprintf(stderr, "rampart eval: --min-severity: unknown severity '%s'\n",
                 flags.min_severity.c_str());
    return kExitError;
  }
  if (flags.by != "category" && flags.by != "source") {
    std::fprintf(stderr, "rampart eval: --by must be category or source\n");
    return kExitError;
  }
  auto scanner = detectors::Scanner::FromFiles(ResolveRulesDir(flags.rules), "");
  if (!scanner.ok()) return ReportError("eval", scanner.status());
  auto ctx = (*scanner)->NewContext();

  // Misses are counted in full; the first --worst of each kind are kept to be listed, with
  // their text only when --show-text asks for it.
  struct Miss {
    uint64_t line;
    size_t bytes;
    std::string group;
    std::string rules;
    std::string text;
  };
  detectors::BinaryCounts all;
  std::map<std::string, detectors::BinaryCounts> groups;
  std::map<std::string, uint64_t> rule_hits_benign, rule_hits_attack;
  std::vector<std::pair<double, int>> scored;
  std::vector<Miss> false_pos, false_neg;
  uint64_t false_pos_count = 0, false_neg_count = 0;
  std::vector<Finding> findings;
  uint64_t records = 0;
  auto one = [&](const boost::json::object& rec, uint64_t line) {
    std::string text(rec.at("text").as_string());
    int label = 0;
    if (auto* l = rec.if_contains("label"); l && l->is_int64()) label = l->as_int64() != 0;
    std::string group = "(none)";
    if (auto* g = rec.if_contains(flags.by); g && g->is_string()) group = g->as_string().c_str();
    findings.clear();
    if (auto st = (*scanner)->CollectFindings(text, *ctx, "", findings); !st.ok()) {
      ReportError("eval", st);
      return false;
    }
    double score = 0;
    std::string fired;
    for (const auto& f : findings) {
      if (!InjectionFamily(f.category) || f.severity < *min_sev) continue;
      score = std::max(score, static_cast<double>(f.score));
      if (fired.find(f.rule) == std::string::npos) {
        if (!fired.empty()) fired += ",";
        fired += f.rule;
      }
      (label ? rule_hits_attack : rule_hits_benign)[f.rule]++;
    }
    bool flagged = score > 0;
    all.Add(flagged, label);
    groups[group].Add(flagged, label);
    scored.emplace_back(score, label);
    auto keep = [&](std::vector<Miss>& misses, uint64_t& count, std::string rules) {
      ++count;
      if (misses.size() < flags.worst) {
        misses.push_back(
            {line, text.size(), group, std::move(rules), flags.show_text ? text : std::string()});
      }
    };
    if (flagged && !label) keep(false_pos, false_pos_count, fired);
    if (!flagged && label) keep(false_neg, false_neg_count, "");
    return true;
  };
  if (!ForEachRecord(flags.data, one, &records)) return kExitError;

  bool gate_failed = (flags.max_fpr >= 0 && all.fpr() > flags.max_fpr) ||
                     (flags.min_tpr >= 0 && all.tpr() < flags.min_tpr);
  double auc = detectors::RocAuc(scored);
  if (flags.json) {
    boost::json::object report;
    report["records"] = records;
    report["tpr"] = all.tpr();
    report["fpr"] = all.fpr();
    report["precision"] = all.precision();
    report["f1"] = all.f1();
    report["roc_auc"] = auc;
    boost::json::object g;
    for (const auto& [name, c] : groups) {
      g[name] = {{"tp", c.tp}, {"fp", c.fp}, {"tn", c.tn}, {"fn", c.fn}};
    }
    report[flags.by] = std::move(g);
    std::cout << boost::json::serialize(report) << "\n";
    return gate_failed ? kExitFindings : kExitClean;
  }
  std::printf("rampart eval injection: %zu records from %s (rules, severity >= %s)\n\n",
              (size_t)records, flags.data.c_str(), flags.min_severity.c_str());
  std::printf("attacks flagged (TPR)   %6.2f%%  (%lu of %lu)\n", 100 * all.tpr(),
              (unsigned long)all.tp, (unsigned long)(all.tp + all.fn));
  std::printf("benign flagged (FPR)    %6.2f%%  (%lu of %lu)\n", 100 * all.fpr(),
              (unsigned long)all.fp, (unsigned long)(all.fp + all.tn));
  std::printf("precision %.3f  F1 %.3f  ROC AUC %.3f (rule scores are coarse)\n\n", all.precision(),
              all.f1(), auc);
  std::printf("by %s:\n", flags.by.c_str());
  std::printf("  %-34s %7s %9s %9s\n", flags.by.c_str(), "records", "TPR", "FPR");
  for (const auto& [name, c] : groups) {
    std::string tpr = c.tp + c.fn ? StrCat(int(1000 * c.tpr() + 0.5) / 10.0, "%") : "-";
    std::string fpr = c.fp + c.tn ? StrCat(int(1000 * c.fpr() + 0.5) / 10.0, "%") : "-";
    std::printf("  %-34s %7lu %9s %9s\n", name.c_str(), (unsigned long)(c.tp + c.fp + c.tn + c.fn),
                tpr.c_str(), fpr.c_str());
  }
  std::printf("\nrules firing on benign texts:\n");
  std::vector<std::pair<uint64_t, std::string>> benign_rules;
  for (const auto& [r, n] : rule_hits_benign) benign_rules.emplace_back(n, r);
  std::sort(benign_rules.rbegin(), benign_rules.rend());
  for (const auto& [n, r] : benign_rules) {
    std::printf("  %-40s %lu benign, %lu attack\n", r.c_str(), (unsigned long)n,
                (unsigned long)rule_hits_attack[r]);
  }
  auto print_misses = [&](const char* title, std::vector<Miss>& misses, uint64_t total) {
    std::printf("\n%s (first %zu of %zu; line, bytes, %s%s):\n", title, misses.size(),
                (size_t)total, flags.by.c_str(), flags.show_text ? ", text" : "");
    for (size_t k = 0; k < misses.size() && k < flags.worst; ++k) {
      const auto& m = misses[k];
      std::printf("  line %-6lu %6zu bytes  %-28s %s\n", (unsigned long)m.line, m.bytes,
                  m.group.c_str(), m.rules.c_str());
      if (flags.show_text) {
        std::string t = m.text.substr(0, 300);
        std::replace(t.begin(), t.end(), '\n', ' ');
        std::printf("      %s\n", t.c_str());
      }
    }
  };
  print_misses("false positives", false_pos, false_pos_count);
  print_misses("false negatives", false_neg, false_neg_count);
  if (flags.max_fpr >= 0 || flags.min_tpr >= 0) {
    std::printf("\ngate: %s%s: %s\n",
                flags.max_fpr >= 0 ? StrCat("FPR <= ", flags.max_fpr, " ").c_str() : "",
                flags.min_tpr >= 0 ? StrCat("TPR >= ", flags.min_tpr).c_str() : "",
                gate_failed ? "FAILED" : "passed");
  }
  return gate_failed ? kExitFindings : kExitClean;
}

}  // namespace

void RegisterEval(CLI::App& app) {
  CLI::App* eval = app.add_subcommand("eval", "Measure the detectors on labelled JSONL data");
  eval->require_subcommand(1);

  auto pii = std::make_shared<EvalFlags>();
  CLI::App* p =
      eval->add_subcommand("pii", "Span-level precision/recall/F1 per PII and secret entity type");
  p->add_option("--data", pii->data, "JSONL with text and entities")->required();
  p->add_option("--rules", pii->rules, "Rule-pack directory (default: shipped rules)");
  p->add_flag("--json", pii->json, "Print JSON");
  p->add_option("--min-f1", pii->min_f1,
                "Exit 1 unless every claimed type present in the data has overlap F1 >= X");
  AddCommand(p, [pii] { return RunEvalPii(*pii); });

  auto inj = std::make_shared<EvalFlags>();
  CLI::App* i = eval->add_subcommand(
      "injection", "Detection and false-positive rates of the injection detectors");
  i->add_option("--data", inj->data, "JSONL with text and label (1 = attack)")->required();
  i->add_option("--rules", inj->rules, "Rule-pack directory (default: shipped rules)");
  i->add_option("--by", inj->by, "Break down by category or source")->capture_default_str();
  i->add_option("--min-severity", inj->min_severity,
                "Lowest finding severity that counts as flagged")
      ->capture_default_str();
  i->add_option("--worst", inj->worst, "How many false positives/negatives to list")
      ->capture_default_str();
  i->add_flag("--show-text", inj->show_text, "Print the text of listed misses");
  i->add_flag("--json", inj->json, "Print JSON");
  i->add_option("--max-fpr", inj->max_fpr, "Exit 1 when the false-positive rate exceeds X");
  i->add_option("--min-tpr", inj->min_tpr, "Exit 1 when the detection rate is below X");
  AddCommand(i, [inj] { return RunEvalInjection(*inj); });
}

}  // namespace rampart::cli
