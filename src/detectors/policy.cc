#include "detectors/policy.h"

#include <yaml-cpp/yaml.h>

#include <cstdlib>
#include <set>

#include "absl/status/status.h"
#include "common/file.h"
#include "common/strings.h"

namespace rampart::detectors {

namespace {

absl::Status FieldError(std::string_view source, std::string_view path, std::string_view msg) {
  return absl::InvalidArgumentError(StrCat(source, ": ", path, ": ", msg));
}

absl::Status CheckKeys(const YAML::Node& n, const std::set<std::string>& allowed,
                       std::string_view source, const std::string& path) {
  for (const auto& kv : n) {
    std::string key = kv.first.as<std::string>();
    if (!allowed.count(key)) {
      return FieldError(source, path.empty() ? key : StrCat(path, ".", key),
                        StrCat("unknown key (allowed: ", StrJoin(allowed, ", "), ")"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<Action> ParseActionField(const YAML::Node& n, std::string_view source,
                                        const std::string& path) {
  if (!n.IsScalar()) return FieldError(source, path, "must be allow|redact|review|block");
  auto a = ParseAction(n.as<std::string>());
  if (!a) {
    return FieldError(
        source, path,
        StrCat("unknown action '", n.as<std::string>(), "' (allow|redact|review|block)"));
  }
  return *a;
}

absl::StatusOr<Policy> ParseNode(const YAML::Node& root, std::string_view source) {
  Policy p;
  if (!root.IsMap()) return FieldError(source, "(top level)", "must be a mapping");
  if (auto st = CheckKeys(root, {"default_action", "fail_on", "redaction", "rules"}, source, "");
      !st.ok()) {
    return st;
  }
  if (root["default_action"]) {
    auto a = ParseActionField(root["default_action"], source, "default_action");
    if (!a.ok()) return a.status();
    p.default_action = *a;
  }
  if (root["fail_on"]) {
    auto a = ParseActionField(root["fail_on"], source, "fail_on");
    if (!a.ok()) return a.status();
    p.fail_on = *a;
  }
  if (const YAML::Node red = root["redaction"]) {
    if (!red.IsMap()) return FieldError(source, "redaction", "must be a mapping");
    if (auto st = CheckKeys(red, {"mode", "key_env"}, source, "redaction"); !st.ok()) return st;
    std::string mode = red["mode"] ? red["mode"].as<std::string>() : "label";
    if (mode == "label") {
      p.redaction_mode = RedactionMode::kLabel;
    } else if (mode == "pseudonym") {
      p.redaction_mode = RedactionMode::kPseudonym;
      if (!red["key_env"]) {
        return FieldError(source, "redaction.key_env", "required in pseudonym mode");
      }
      std::string env = red["key_env"].as<std::string>();
      const char* key = std::getenv(env.c_str());
      if (key == nullptr || std::string_view(key).size() < 16) {
        return FieldError(
            source, "redaction.key_env",
            StrCat("environment variable ", env, " must hold a key of at least 16 bytes"));
      }
      p.pseudonym_key = key;
    } else {
      return FieldError(source, "redaction.mode",
                        StrCat("unknown mode '", mode, "' (label|pseudonym)"));
    }
  }
  if (const YAML::Node rules = root["rules"]) {
    if (!rules.IsSequence()) return FieldError(source, "rules", "must be a list");
    for (size_t i = 0; i < rules.size(); ++i) {
      const YAML::Node r = rules[i];
      std::string path = StrCat("rules[", i, "]");
      if (!r.IsMap()) return FieldError(source, path, "must be a mapping");
      if (auto st = CheckKeys(r, {"category", "rule", "min_severity", "min_score", "action"},
                              source, path);
          !st.ok()) {
        return st;
      }
      PolicyRule pr;
      if (r["category"]) {
        auto c = ParseCategory(r["category"].as<std::string>());
        if (!c) {
          return FieldError(source, path + ".category",
                            StrCat("unknown category '", r["category"].as<std::string>(), "'"));
        }
        pr.category = *c;
      }
      if (r["rule"]) pr.rule_prefix = r["rule"].as<std::string>();
      if (r["min_severity"]) {
        auto s = ParseSeverity(r["min_severity"].as<std::string>());
        if (!s) {
          return FieldError(source, path + ".min_severity",
                            StrCat("unknown severity '", r["min_severity"].as<std::string>(), "'"));
        }
        pr.min_severity = *s;
      }
      if (r["min_score"]) {
        double v = -1;
        if (!YAML::convert<double>::decode(r["min_score"], v) || !(v >= 0 && v <= 1)) {
          return FieldError(source, path + ".min_score", "must be a number in [0,1]");
        }
        pr.min_score = static_cast<float>(v);
      }
      if (!r["action"]) return FieldError(source, path + ".action", "required");
      auto a = ParseActionField(r["action"], source, path + ".action");
      if (!a.ok()) return a.status();
      pr.action = *a;
      p.rules.push_back(std::move(pr));
    }
  }
  return p;
}

}  // namespace

absl::StatusOr<Policy> ParsePolicy(std::string_view yaml, std::string_view source) {
  try {
    return ParseNode(YAML::Load(std::string(yaml)), source);
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(StrCat(source, ": line ", e.mark.line + 1, ": ", e.msg));
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(StrCat(source, ": ", e.what()));
  }
}

absl::StatusOr<Policy> LoadPolicyFile(const std::string& path) {
  auto text = ReadFileBounded(path, 1 << 20);
  if (!text.ok()) return text.status();
  return ParsePolicy(*text, path);
}

}  // namespace rampart::detectors
