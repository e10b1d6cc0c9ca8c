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
#include "detectors/perturb.h"
#include "detectors/scanner.h"
#include "json_output.h"
#include "model_common.h"

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
  std::string model;
  bool no_model = false;
  std::string operating_point = "balanced";
  double min_auc = -1;
  bool perturb = false;
  double max_perturb_drop = -1;
  bool model_only = false;
};

std::vector<std::string> StrSplitComma(const std::string& s) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < s.size()) {
    size_t j = s.find(',', i);
    if (j == std::string::npos) j = s.size();
    if (j > i) out.push_back(s.substr(i, j - i));
    i = j + 1;
  }
  return out;
}

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

// One text (or the messages of one conversation) judged by the detectors.
struct Judgement {
  double score = 0;  // rules+model: 1 when a rule flags, else the model's score
  bool flagged = false;
  std::string fired;  // rule ids that counted
};

class InjectionJudge {
 public:
  InjectionJudge(const detectors::Scanner& scanner, Severity min_sev, bool model_only)
      : scanner_(scanner), ctx_(scanner.NewContext()), min_sev_(min_sev), model_only_(model_only) {}

  // Judges every message and, when there are several, their concatenation (how a
  // conversation's user turns are scanned); the strongest result wins.
  absl::Status Judge(const std::vector<std::string>& messages, Judgement& out) {
    out = Judgement();
    if (auto st = One(messages, out); !st.ok()) return st;
    if (messages.size() > 1) {
      std::vector<std::string> joined = {StrJoin(messages, "\n")};
      if (auto st = One(joined, out); !st.ok()) return st;
    }
    return absl::OkStatus();
  }

 private:
  absl::Status One(const std::vector<std::string>& messages, Judgement& out) {
    for (const auto& text : messages) {
      findings_.clear();
      if (auto st = scanner_.CollectFindings(text, *ctx_, "", findings_); !st.ok()) return st;
      bool rules = false;
      double rule_score = 0;
      for (const auto& f : findings_) {
        if (!InjectionFamily(f.category) || f.severity < min_sev_) continue;
        if (model_only_ && f.detector != "injection.model") continue;
        out.flagged = true;
        if (f.detector != "injection.model") {
          rules = true;
          rule_score = std::max(rule_score, static_cast<double>(f.score));
        }
        if (out.fired.find(f.rule) == std::string::npos) {
          if (!out.fired.empty()) out.fired += ",";
          out.fired += f.rule;
        }
      }
      double score = scanner_.options().model
                         ? (rules ? 1.0 : static_cast<double>(ctx_->model_score()))
                         : rule_score;
      out.score = std::max(out.score, score);
    }
    return absl::OkStatus();
  }

  const detectors::Scanner& scanner_;
  std::unique_ptr<detectors::Scanner::Context> ctx_;
  Severity min_sev_;
  bool model_only_;
  std::vector<Finding> findings_;
};

std::string Pct(uint64_t num, uint64_t den) {
  return den ? fmt::format("{:.1f}%", 100.0 * double(num) / double(den)) : std::string("-");
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
  auto op = detectors::ParseOperatingPoint(flags.operating_point);
  if (!op) {
    std::fprintf(stderr,
                 "rampart eval: --operating-point must be strict, balanced or permissive\n");
    return kExitError;
  }
  detectors::ScannerOptions opts;
  opts.operating_point = *op;
  if (!flags.no_model) {
    auto model = LoadInjectionModel(flags.model);
    if (!model.ok()) return ReportError("eval", model.status());
    opts.model = *model;
  }
  auto scanner = detectors::Scanner::FromFiles(ResolveRulesDir(flags.rules), "", opts);
  if (!scanner.ok()) return ReportError("eval", scanner.status());
  if (flags.model_only && flags.no_model) {
    std::fprintf(stderr, "rampart eval: --model-only and --no-model exclude each other\n");
    return kExitError;
  }
  InjectionJudge judge(**scanner, *min_sev, flags.model_only);

  // Every miss is kept (score, line, length); only the --worst of each kind are listed, with
  // their text only when --show-text asks for it.
  struct Miss {
    double score;
    uint64_t line;
    size_t bytes;
    std::string group;
    std::string rules;
    std::string text;
  };
  detectors::BinaryCounts all;
  std::map<std::string, detectors::BinaryCounts> by_category, by_source;
  std::map<std::string, uint64_t> rule_hits_benign, rule_hits_attack;
  std::vector<std::pair<double, int>> scored;
  std::vector<Miss> false_pos, false_neg;
  // Perturbation results: attacks flagged after each obfuscation.
  std::map<std::string, uint64_t> perturb_flagged;
  uint64_t attacks = 0;
  Judgement j;
  uint64_t records = 0;
  auto one = [&](const boost::json::object& rec, uint64_t line) {
    std::string text(rec.at("text").as_string());
    int label = 0;
    if (auto* l = rec.if_contains("label"); l && l->is_int64()) label = l->as_int64() != 0;
    auto field = [&](const char* name) {
      auto* g = rec.if_contains(name);
      return g && g->is_string() ? std::string(g->as_string()) : std::string("(none)");
    };
    std::string category = field("category"), source = field("source");
    if (auto st = judge.Judge({text}, j); !st.ok()) {
      ReportError("eval", st);
      return false;
    }
    all.Add(j.flagged, label);
    by_category[category].Add(j.flagged, label);
    by_source[source].Add(j.flagged, label);
    scored.emplace_back(j.score, label);
    for (const auto& r : StrSplitComma(j.fired)) (label ? rule_hits_attack : rule_hits_benign)[r]++;
    std::string group = flags.by == "category" ? category : source;
    if (j.flagged != (label == 1)) {
      (label ? false_neg : false_pos)
          .push_back(
              {j.score, line, text.size(), group, j.fired, flags.show_text ? text : std::string()});
    }
    if (flags.perturb && label == 1) {
      ++attacks;
      if (j.flagged) perturb_flagged["clean"]++;
      for (auto p : detectors::kAllPerturbations) {
        Judgement pj;
        auto msgs = detectors::Perturb(text, p, line * 1315423911ull + static_cast<uint64_t>(p));
        if (auto st = judge.Judge(msgs, pj); !st.ok()) {
          ReportError("eval", st);
          return false;
        }
        if (pj.flagged) perturb_flagged[std::string(detectors::PerturbationName(p))]++;
      }
    }
    return true;
  };
  if (!ForEachRecord(flags.data, one, &records)) return kExitError;

  double auc = detectors::RocAuc(scored);
  const double fprs[3] = {0.001, 0.01, 0.03};
  double tpr_at[3];
  for (int k = 0; k < 3; ++k) tpr_at[k] = detectors::TprAtFpr(scored, fprs[k]).first;
  double clean_tpr = attacks ? double(perturb_flagged["clean"]) / double(attacks) : 0;
  double worst_drop = 0;
  for (auto p : detectors::kAllPerturbations) {
    double t = attacks ? double(perturb_flagged[std::string(detectors::PerturbationName(p))]) /
                             double(attacks)
                       : 0;
    worst_drop = std::max(worst_drop, clean_tpr - t);
  }
  bool gate_failed =
      (flags.max_fpr >= 0 && all.fpr() > flags.max_fpr) ||
      (flags.min_tpr >= 0 && all.tpr() < flags.min_tpr) ||
      (flags.min_auc >= 0 && auc < flags.min_auc) ||
      (flags.perturb && flags.max_perturb_drop >= 0 && worst_drop > flags.max_perturb_drop);
  // Worst first: false positives by highest score, false negatives by lowest.
  std::stable_sort(false_pos.begin(), false_pos.end(),
                   [](const Miss& a, const Miss& b) { return a.score > b.score; });
  std::stable_sort(false_neg.begin(), false_neg.end(),
                   [](const Miss& a, const Miss& b) { return a.score < b.score; });
  const char* detectors_used = flags.no_model     ? "rules"
                               : flags.model_only ? "injection.model alone (rule features in)"
                                                  : "rules + injection.model";
  auto group_json = [](const std::map<std::string, detectors::BinaryCounts>& m) {
    boost::json::object g;
    for (const auto& [name, c] : m) {
      g[name] = {{"tp", c.tp}, {"fp", c.fp}, {"tn", c.tn}, {"fn", c.fn}};
    }
    return g;
  };
  if (flags.json) {
    boost::json::object report;
    report["records"] = records;
    report["detectors"] = detectors_used;
    report["operating_point"] = flags.no_model ? "" : flags.operating_point;
    report["tpr"] = all.tpr();
    report["fpr"] = all.fpr();
    report["precision"] = all.precision();
    report["f1"] = all.f1();
    report["roc_auc"] = auc;
    report["tpr_at_fpr"] = {{"0.001", tpr_at[0]}, {"0.01", tpr_at[1]}, {"0.03", tpr_at[2]}};
    report["category"] = group_json(by_category);
    report["source"] = group_json(by_source);
    if (flags.perturb) {
      boost::json::object pt;
      for (const auto& [name, n] : perturb_flagged) pt[name] = double(n) / double(attacks);
      report["perturb_tpr"] = std::move(pt);
    }
    std::cout << boost::json::serialize(report) << "\n";
    return gate_failed ? kExitFindings : kExitClean;
  }
  std::printf("rampart eval injection: %zu records from %s (%s, severity >= %s", (size_t)records,
              flags.data.c_str(), detectors_used, flags.min_severity.c_str());
  if (!flags.no_model) {
    std::printf(", operating point %s = model score >= %.4f", flags.operating_point.c_str(),
                opts.model->threshold(*op));
  }
  std::printf(")\n\n");
  std::printf("attacks flagged (TPR)   %6.2f%%  (%lu of %lu)\n", 100 * all.tpr(),
              (unsigned long)all.tp, (unsigned long)(all.tp + all.fn));
  std::printf("benign flagged (FPR)    %6.2f%%  (%lu of %lu)\n", 100 * all.fpr(),
              (unsigned long)all.fp, (unsigned long)(all.fp + all.tn));
  std::printf("precision %.3f  recall %.3f  F1 %.3f\n", all.precision(), all.tpr(), all.f1());
  std::printf("ROC AUC %.4f%s\n", auc, flags.no_model ? " (rule scores are coarse)" : "");
  std::printf("TPR at FPR <= 0.1%% / 1%% / 3%%: %.2f%% / %.2f%% / %.2f%%\n\n", 100 * tpr_at[0],
              100 * tpr_at[1], 100 * tpr_at[2]);
  auto print_groups = [](const char* title,
                         const std::map<std::string, detectors::BinaryCounts>& m) {
    std::printf("by %s:\n", title);
    std::printf("  %-34s %7s %8s %8s %9s %6s\n", title, "records", "TPR", "FPR", "precision", "F1");
    for (const auto& [name, c] : m) {
      std::string prec = c.tp + c.fp ? fmt::format("{:.3f}", c.precision()) : "-";
      std::string f1 = c.tp + c.fn ? fmt::format("{:.3f}", c.f1()) : "-";
      std::printf("  %-34s %7lu %8s %8s %9s %6s\n", name.c_str(),
                  (unsigned long)(c.tp + c.fp + c.tn + c.fn), Pct(c.tp, c.tp + c.fn).c_str(),
                  Pct(c.fp, c.fp + c.tn).c_str(), prec.c_str(), f1.c_str());
    }
    std::printf("\n");
  };
  print_groups("category", by_category);
  print_groups("source", by_source);
  if (flags.perturb) {
    std::printf("perturbed attacks (%lu), TPR after each obfuscation:\n", (unsigned long)attacks);
    std::printf("  %-14s %8s %8s\n", "perturbation", "TPR", "change");
    std::printf("  %-14s %8s %8s\n", "clean", Pct(perturb_flagged["clean"], attacks).c_str(), "");
    for (auto p : detectors::kAllPerturbations) {
      uint64_t n = perturb_flagged[std::string(detectors::PerturbationName(p))];
      double drop =
          attacks ? 100.0 * (double(n) - double(perturb_flagged["clean"])) / double(attacks) : 0;
      std::printf("  %-14s %8s %+7.1f\n", std::string(detectors::PerturbationName(p)).c_str(),
                  Pct(n, attacks).c_str(), drop);
    }
    std::printf("\n");
  }
  std::printf("rules firing on benign texts:\n");
  std::vector<std::pair<uint64_t, std::string>> benign_rules;
  for (const auto& [r, n] : rule_hits_benign) benign_rules.emplace_back(n, r);
  std::sort(benign_rules.rbegin(), benign_rules.rend());
  for (const auto& [n, r] : benign_rules) {
    std::printf("  %-40s %lu benign, %lu attack\n", r.c_str(), (unsigned long)n,
                (unsigned long)rule_hits_attack[r]);
  }
  auto print_misses = [&](const char* title, std::vector<Miss>& misses) {
    std::printf("\n%s (worst %zu of %zu; line, bytes, score, %s, findings%s):\n", title,
                std::min(misses.size(), flags.worst), misses.size(), flags.by.c_str(),
                flags.show_text ? ", text" : "");
    for (size_t k = 0; k < misses.size() && k < flags.worst; ++k) {
      const auto& m = misses[k];
      std::printf("  line %-6lu %6zu bytes  %.4f  %-28s %s\n", (unsigned long)m.line, m.bytes,
                  m.score, m.group.c_str(), m.rules.c_str());
      if (flags.show_text) {
        std::string t = m.text.substr(0, 300);
        std::replace(t.begin(), t.end(), '\n', ' ');
        std::printf("      %s\n", ForTerminal(t).c_str());
      }
    }
  };
  print_misses("false positives", false_pos);
  print_misses("false negatives", false_neg);
  if (flags.max_fpr >= 0 || flags.min_tpr >= 0 || flags.min_auc >= 0 ||
      (flags.perturb && flags.max_perturb_drop >= 0)) {
    std::string gates;
    if (flags.max_fpr >= 0) gates += StrCat("FPR <= ", flags.max_fpr, " ");
    if (flags.min_tpr >= 0) gates += StrCat("TPR >= ", flags.min_tpr, " ");
    if (flags.min_auc >= 0) gates += StrCat("AUC >= ", flags.min_auc, " ");
    if (flags.perturb && flags.max_perturb_drop >= 0) {
      gates += StrCat("perturbed TPR drop <= ", flags.max_perturb_drop, " ");
    }
    std::printf("\ngate: %s: %s\n", gates.c_str(), gate_failed ? "FAILED" : "passed");
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
  i->add_option("--min-auc", inj->min_auc, "Exit 1 when the ROC AUC is below X");
  i->add_option("--model", inj->model, "Injection model file (default: the shipped model)");
  i->add_flag("--no-model", inj->no_model, "Evaluate the rules alone");
  i->add_flag("--model-only", inj->model_only,
              "Count only the model's findings (the rules still feed it features)");
  i->add_option("--operating-point", inj->operating_point,
                "Model threshold: strict, balanced or permissive")
      ->capture_default_str();
  i->add_flag("--perturb", inj->perturb,
              "Also re-score every attack after each obfuscation and report TPR under each");
  i->add_option("--max-perturb-drop", inj->max_perturb_drop,
                "With --perturb: exit 1 when an obfuscation lowers TPR by more than X");
  AddCommand(i, [inj] { return RunEvalInjection(*inj); });
}

}  // namespace rampart::cli
