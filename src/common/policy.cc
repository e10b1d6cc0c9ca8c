#include "rampart/policy.h"

#include "common/strings.h"

namespace rampart {

bool PolicyRule::Matches(const Finding& f) const {
  if (category && *category != f.category) return false;
  if (!rule_prefix.empty() && f.rule.compare(0, rule_prefix.size(), rule_prefix) != 0) return false;
  if (f.severity < min_severity) return false;
  if (f.score < min_score) return false;
  return true;
}

Policy Policy::Default() {
  Policy p;
  auto add = [&](std::optional<Category> c, Severity s, Action a) {
    PolicyRule r;
    r.category = c;
    r.min_severity = s;
    r.action = a;
    p.rules.push_back(r);
  };
  for (Category c : {Category::kPromptInjection, Category::kJailbreak, Category::kPromptExtraction,
                     Category::kRoleInjection}) {
    add(c, Severity::kHigh, Action::kBlock);
    add(c, Severity::kMedium, Action::kReview);
  }
  add(Category::kSecret, Severity::kInfo, Action::kRedact);
  add(Category::kPii, Severity::kInfo, Action::kRedact);
  add(Category::kObfuscation, Severity::kHigh, Action::kBlock);
  add(Category::kObfuscation, Severity::kMedium, Action::kReview);
  return p;
}

Action Policy::Decide(const Finding& f) const {
  for (const auto& r : rules) {
    if (r.Matches(f)) return r.action;
  }
  return default_action;
}

std::string_view OutcomeName(Action a) {
  switch (a) {
    case Action::kAllow:
      return "allowed";
    case Action::kRedact:
      return "redacted";
    case Action::kReview:
      return "review";
    case Action::kBlock:
      return "blocked";
  }
  return "allowed";
}

void Policy::Apply(const std::vector<Finding>& findings, Verdict& verdict) const {
  verdict.action = Action::kAllow;
  verdict.reason.clear();
  const Finding* decider = nullptr;
  for (const auto& f : findings) {
    Action a = Decide(f);
    if (a > verdict.action || (decider != nullptr && a == verdict.action && a != Action::kAllow &&
                               f.severity > decider->severity)) {
      verdict.action = a;
      decider = &f;
    }
  }
  if (decider != nullptr && verdict.action != Action::kAllow) {
    verdict.reason = StrCat(CategoryName(decider->category), ".", OutcomeName(verdict.action));
  }
}

}  // namespace rampart
