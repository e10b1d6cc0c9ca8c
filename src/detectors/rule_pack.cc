#include "detectors/rule_pack.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <filesystem>
#include <set>

#include "absl/status/status.h"
#include "common/file.h"
#include "common/strings.h"
#include "detectors/validators.h"

namespace rampart::detectors {
namespace {

// Error builder that carries the field path ("rules[3].severity").
class Ctx {
 public:
  explicit Ctx(std::string_view source) : source_(source) {}
  absl::Status Error(std::string_view path, std::string_view msg) const {
    return absl::InvalidArgumentError(StrCat(source_, ": ", path, ": ", msg));
  }

 private:
  std::string_view source_;
};

bool IsIdChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
}

bool ValidId(std::string_view id) {
  if (id.empty() || id.size() > 128 || id.front() == '.' || id.back() == '.') return false;
  return std::all_of(id.begin(), id.end(), IsIdChar);
}

absl::Status CheckKeys(const YAML::Node& node, const std::set<std::string>& allowed, const Ctx& ctx,
                       const std::string& path) {
  for (const auto& kv : node) {
    std::string key = kv.first.as<std::string>();
    if (!allowed.count(key)) {
      return ctx.Error(path.empty() ? key : StrCat(path, ".", key),
                       StrCat("unknown key (allowed: ", StrJoin(allowed, ", "), ")"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> ScalarString(const YAML::Node& n, const Ctx& ctx,
                                         const std::string& path) {
  if (!n.IsScalar()) return ctx.Error(path, "must be a string");
  return n.as<std::string>();
}

absl::StatusOr<std::vector<std::string>> StringList(const YAML::Node& n, const Ctx& ctx,
                                                    const std::string& path) {
  if (!n.IsSequence()) return ctx.Error(path, "must be a list of strings");
  std::vector<std::string> out;
  for (size_t i = 0; i < n.size(); ++i) {
    auto s = ScalarString(n[i], ctx, StrCat(path, "[", i, "]"));
    if (!s.ok()) return s.status();
    out.push_back(std::move(*s));
  }
  return out;
}

absl::StatusOr<Rule> ParseRule(const YAML::Node& n, const Ctx& ctx, const std::string& path) {
  if (!n.IsMap()) return ctx.Error(path, "must be a mapping");
  static const std::set<std::string> kKeys = {
      "id",          "category",   "severity",  "score",       "label",
      "pattern",     "caseless",   "validator", "min_entropy", "priority",
      "description", "references", "examples",  "own_database"};
  if (auto st = CheckKeys(n, kKeys, ctx, path); !st.ok()) return st;
  Rule r;
  auto field = [&](const char* key) { return StrCat(path, ".", key); };

  if (!n["id"]) return ctx.Error(field("id"), "required");
  auto id = ScalarString(n["id"], ctx, field("id"));
  if (!id.ok()) return id.status();
  if (!ValidId(*id)) {
    return ctx.Error(field("id"), "must be dotted lower-case [a-z0-9_.-], at most 128 chars");
  }
  r.id = *id;

  if (!n["category"]) return ctx.Error(field("category"), "required");
  auto cat = ScalarString(n["category"], ctx, field("category"));
  if (!cat.ok()) return cat.status();
  auto parsed_cat = ParseCategory(*cat);
  if (!parsed_cat) return ctx.Error(field("category"), StrCat("unknown category '", *cat, "'"));
  r.category = *parsed_cat;

  if (!n["severity"]) return ctx.Error(field("severity"), "required");
  auto sev = ScalarString(n["severity"], ctx, field("severity"));
  if (!sev.ok()) return sev.status();
  auto parsed_sev = ParseSeverity(*sev);
  if (!parsed_sev) return ctx.Error(field("severity"), StrCat("unknown severity '", *sev, "'"));
  r.severity = *parsed_sev;

  if (!n["pattern"]) return ctx.Error(field("pattern"), "required");
  auto pat = ScalarString(n["pattern"], ctx, field("pattern"));
  if (!pat.ok()) return pat.status();
  if (pat->empty()) return ctx.Error(field("pattern"), "must not be empty");
  if (pat->size() > kMaxPatternBytes) {
    return ctx.Error(field("pattern"), StrCat("longer than ", kMaxPatternBytes, " bytes"));
  }
  if (RepeatWeight(*pat) > kMaxRepeatWeight) {
    return ctx.Error(field("pattern"),
                     StrCat("counted repeats add up to more than ", kMaxRepeatWeight,
                            " (Hyperscan compile time and memory grow with them)"));
  }
  r.pattern = *pat;

  if (n["score"]) {
    double score = 0;
    if (!n["score"].IsScalar() || !YAML::convert<double>::decode(n["score"], score) ||
        !(score >= 0.0 && score <= 1.0)) {
      return ctx.Error(field("score"), "must be a number in [0,1]");
    }
    r.score = static_cast<float>(score);
  }
  if (n["label"]) {
    auto label = ScalarString(n["label"], ctx, field("label"));
    if (!label.ok()) return label.status();
    for (char c : *label) {
      if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_')) {
        return ctx.Error(field("label"), "must be upper-case [A-Z0-9_]");
      }
    }
    r.label = *label;
  }
  if (n["caseless"]) {
    bool b = false;
    if (!n["caseless"].IsScalar() || !YAML::convert<bool>::decode(n["caseless"], b)) {
      return ctx.Error(field("caseless"), "must be true or false");
    }
    r.caseless = b;
  }
  if (n["own_database"]) {
    bool b = false;
    if (!n["own_database"].IsScalar() || !YAML::convert<bool>::decode(n["own_database"], b)) {
      return ctx.Error(field("own_database"), "must be true or false");
    }
    r.own_database = b;
  }
  if (n["validator"]) {
    auto v = ScalarString(n["validator"], ctx, field("validator"));
    if (!v.ok()) return v.status();
    if (FindValidator(*v) == nullptr) {
      return ctx.Error(
          field("validator"),
          StrCat("unknown validator '", *v, "' (known: ", StrJoin(ValidatorNames(), ", "), ")"));
    }
    r.validator = *v;
  }
  if (n["min_entropy"]) {
    double e = 0;
    if (!n["min_entropy"].IsScalar() || !YAML::convert<double>::decode(n["min_entropy"], e) ||
        !(e >= 0.0 && e <= 8.0)) {
      return ctx.Error(field("min_entropy"), "must be a number in [0,8]");
    }
    r.min_entropy = e;
  }
  if (n["priority"]) {
    int p = 0;
    if (!n["priority"].IsScalar() || !YAML::convert<int>::decode(n["priority"], p) || p < -1000 ||
        p > 1000) {
      return ctx.Error(field("priority"), "must be an integer in [-1000,1000]");
    }
    r.priority = p;
  }
  if (n["description"]) {
    auto d = ScalarString(n["description"], ctx, field("description"));
    if (!d.ok()) return d.status();
    r.description = *d;
  }
  if (n["references"]) {
    auto refs = StringList(n["references"], ctx, field("references"));
    if (!refs.ok()) return refs.status();
    r.references = std::move(*refs);
  }
  if (const YAML::Node ex = n["examples"]) {
    if (!ex.IsMap()) return ctx.Error(field("examples"), "must be a mapping");
    if (auto st = CheckKeys(ex, {"match", "no_match"}, ctx, field("examples")); !st.ok()) {
      return st;
    }
    if (ex["match"]) {
      auto m = StringList(ex["match"], ctx, field("examples.match"));
      if (!m.ok()) return m.status();
      r.match_examples = std::move(*m);
    }
    if (ex["no_match"]) {
      auto m = StringList(ex["no_match"], ctx, field("examples.no_match"));
      if (!m.ok()) return m.status();
      r.no_match_examples = std::move(*m);
    }
  }
  return r;
}

absl::StatusOr<RulePack> ParsePackNode(const YAML::Node& root, const Ctx& ctx,
                                       std::string_view source) {
  if (!root.IsMap()) return ctx.Error("(top level)", "must be a mapping with pack and rules");
  if (auto st = CheckKeys(root, {"pack", "description", "rules"}, ctx, ""); !st.ok()) return st;
  RulePack pack;
  pack.source = std::string(source);
  if (!root["pack"]) return ctx.Error("pack", "required");
  auto name = ScalarString(root["pack"], ctx, "pack");
  if (!name.ok()) return name.status();
  if (!ValidId(*name)) return ctx.Error("pack", "must be dotted lower-case [a-z0-9_.-]");
  pack.name = *name;
  if (root["description"]) {
    auto d = ScalarString(root["description"], ctx, "description");
    if (!d.ok()) return d.status();
    pack.description = *d;
  }
  const YAML::Node rules = root["rules"];
  if (!rules || !rules.IsSequence()) return ctx.Error("rules", "required, a list of rules");
  if (rules.size() > kMaxRulesPerPack) {
    return ctx.Error("rules", StrCat("more than ", kMaxRulesPerPack, " rules"));
  }
  std::set<std::string> ids;
  for (size_t i = 0; i < rules.size(); ++i) {
    std::string path = StrCat("rules[", i, "]");
    auto rule = ParseRule(rules[i], ctx, path);
    if (!rule.ok()) return rule.status();
    if (!ids.insert(rule->id).second) {
      return ctx.Error(StrCat(path, ".id"), StrCat("duplicate id '", rule->id, "'"));
    }
    pack.rules.push_back(std::move(*rule));
  }
  return pack;
}

}  // namespace

uint64_t RepeatWeight(std::string_view p) {
  constexpr uint64_t kCap = uint64_t{1} << 40;  // saturate: only "too large" matters
  auto add = [&](uint64_t x, uint64_t y) { return x + y > kCap ? kCap : x + y; };
  auto mul = [&](uint64_t x, uint64_t y) { return x != 0 && y > kCap / x ? kCap : x * y; };
  std::vector<uint64_t> groups{0};  // weight so far of each open group
  uint64_t last_group = 0;          // weight of a group that just closed (0: last atom not one)
  bool in_class = false;
  for (size_t i = 0; i < p.size(); ++i) {
    char c = p[i];
    if (c == '\\') {
      ++i;
      // \x{41}, \p{L}, \o{7}, \N{U+41}, \g{1}, \k{name}: the braces belong to the escape.
      if (i + 1 < p.size() && p[i + 1] == '{' &&
          std::string_view("xpPoNgk").find(p[i]) != std::string_view::npos) {
        size_t close = p.find('}', i + 1);
        if (close != std::string_view::npos) i = close;
      }
      last_group = 0;
      continue;
    }
    if (in_class) {
      if (c == ']') in_class = false;
      continue;
    }
    if (c == '[') {
      in_class = true;
      if (i + 1 < p.size() && p[i + 1] == '^') ++i;
      if (i + 1 < p.size() && p[i + 1] == ']') ++i;  // a leading ] is literal
      last_group = 0;
      continue;
    }
    if (c == '(') {
      groups.push_back(0);
      last_group = 0;
      continue;
    }
    if (c == ')') {
      if (groups.size() > 1) {
        last_group = groups.back();
        groups.pop_back();
        groups.back() = add(groups.back(), last_group);
      }
      continue;
    }
    if (c != '{') {
      last_group = 0;
      continue;
    }
    // {digits}, {digits,} and {digits,digits} are counted repeats; other braces are literal.
    size_t j = i + 1;
    uint64_t bound = 0;
    bool ok = false;
    for (int part = 0; part < 2; ++part) {
      size_t start = j;
      uint64_t v = 0;
      while (j < p.size() && p[j] >= '0' && p[j] <= '9') {
        v = add(mul(v, 10), static_cast<uint64_t>(p[j] - '0'));
        ++j;
      }
      if (part == 0 && j == start) break;
      bound = v > bound ? v : bound;
      if (j < p.size() && p[j] == '}') {
        ok = true;
        break;
      }
      if (part == 1 || j >= p.size() || p[j] != ',') break;
      ++j;
    }
    if (!ok) {
      last_group = 0;
      continue;
    }
    // A repeated group costs its content times the count (its content was already added
    // once, hence count - 1 more); a repeated single atom costs the count.
    uint64_t cost = last_group != 0 ? mul(last_group, bound > 0 ? bound - 1 : 0) : bound;
    groups.back() = add(groups.back(), cost);
    last_group = 0;
    i = j;
  }
  uint64_t total = 0;
  for (uint64_t g : groups) total = add(total, g);
  return total;
}

absl::StatusOr<RulePack> ParseRulePack(std::string_view yaml, std::string_view source) {
  Ctx ctx(source);
  if (yaml.size() > kMaxRulePackBytes) {
    return absl::ResourceExhaustedError(
        StrCat(source, ": larger than ", kMaxRulePackBytes, " bytes"));
  }
  // yaml-cpp reports errors by throwing; nothing may escape this function.
  try {
    YAML::Node root = YAML::Load(std::string(yaml));
    return ParsePackNode(root, ctx, source);
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(StrCat(source, ": line ", e.mark.line + 1, ": ", e.msg));
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(StrCat(source, ": ", e.what()));
  }
}

absl::StatusOr<RulePack> LoadRulePackFile(const std::string& path) {
  auto text = ReadFileBounded(path, kMaxRulePackBytes);
  if (!text.ok()) return text.status();
  return ParseRulePack(*text, path);
}

absl::StatusOr<std::vector<RulePack>> LoadRulePackDir(const std::string& dir) {
  std::error_code ec;
  std::vector<std::string> files;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    if (entry.path().extension() == ".yaml" && entry.is_regular_file()) {
      files.push_back(entry.path().string());
    }
  }
  if (ec) return absl::NotFoundError(StrCat(dir, ": ", ec.message()));
  if (files.empty()) return absl::NotFoundError(StrCat(dir, ": no *.yaml rule packs"));
  std::sort(files.begin(), files.end());
  std::vector<RulePack> packs;
  std::set<std::string> ids;
  for (const auto& f : files) {
    auto pack = LoadRulePackFile(f);
    if (!pack.ok()) return pack.status();
    for (const auto& r : pack->rules) {
      if (!ids.insert(r.id).second) {
        return absl::InvalidArgumentError(
            StrCat(f, ": rule id '", r.id, "' is also defined in another pack"));
      }
    }
    packs.push_back(std::move(*pack));
  }
  return packs;
}

}  // namespace rampart::detectors
