#include "detectors/policy.h"

#include <gtest/gtest.h>
#include <stdlib.h>

namespace rampart::detectors {
namespace {

Finding F(Category c, Severity s, std::string rule = "x.y", float score = 0.9f) {
  Finding f;
  f.category = c;
  f.severity = s;
  f.rule = std::move(rule);
  f.score = score;
  return f;
}

TEST(Policy, DefaultBlocksHighInjectionReviewsMediumRedactsPii) {
  Policy p = Policy::Default();
  EXPECT_EQ(p.Decide(F(Category::kPromptInjection, Severity::kHigh)), Action::kBlock);
  EXPECT_EQ(p.Decide(F(Category::kJailbreak, Severity::kCritical)), Action::kBlock);
  EXPECT_EQ(p.Decide(F(Category::kPromptInjection, Severity::kMedium)), Action::kReview);
  EXPECT_EQ(p.Decide(F(Category::kPromptInjection, Severity::kLow)), Action::kAllow);
  EXPECT_EQ(p.Decide(F(Category::kPii, Severity::kMedium)), Action::kRedact);
  EXPECT_EQ(p.Decide(F(Category::kSecret, Severity::kCritical)), Action::kRedact);
}

TEST(Policy, VerdictTakesStrongestActionAndNamesReason) {
  Policy p = Policy::Default();
  Verdict v;
  p.Apply({F(Category::kPii, Severity::kMedium), F(Category::kPromptExtraction, Severity::kHigh),
           F(Category::kObfuscation, Severity::kMedium)},
          v);
  EXPECT_EQ(v.action, Action::kBlock);
  EXPECT_EQ(v.reason, "prompt_extraction.blocked");
  Verdict clean;
  p.Apply({}, clean);
  EXPECT_EQ(clean.action, Action::kAllow);
  EXPECT_EQ(clean.reason, "");
}

TEST(Policy, FileRulesFirstMatchWinsWithPrefixAndScore) {
  auto p = ParsePolicy(R"(
default_action: review
fail_on: review
rules:
  - {rule: pii.email, action: allow}
  - {category: pii, action: block}
  - {category: prompt_injection, min_score: 0.8, action: block}
  - {category: prompt_injection, action: allow}
)",
                       "p.yaml");
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->fail_on, Action::kReview);
  EXPECT_EQ(p->Decide(F(Category::kPii, Severity::kLow, "pii.email")), Action::kAllow);
  EXPECT_EQ(p->Decide(F(Category::kPii, Severity::kLow, "pii.card")), Action::kBlock);
  EXPECT_EQ(p->Decide(F(Category::kPromptInjection, Severity::kLow, "i", 0.85f)), Action::kBlock);
  EXPECT_EQ(p->Decide(F(Category::kPromptInjection, Severity::kLow, "i", 0.5f)), Action::kAllow);
  EXPECT_EQ(p->Decide(F(Category::kSecret, Severity::kLow)), Action::kReview);
}

TEST(Policy, ErrorsNameTheField) {
  auto bad = ParsePolicy("rules:\n  - {category: pii, action: explode}\n", "p.yaml");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("rules[0].action"), absl::string_view::npos);
  auto unknown = ParsePolicy("default_action: allow\nthreshold: 3\n", "p.yaml");
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.status().message().find("threshold: unknown key"), absl::string_view::npos);
  EXPECT_FALSE(ParsePolicy("rules:\n  - {category: pii, min_score: 2, action: block}\n", "p").ok());
  EXPECT_FALSE(ParsePolicy("rules:\n  - {category: pii}\n", "p").ok());
}

TEST(Policy, PseudonymModeNeedsAKeyFromTheEnvironment) {
  unsetenv("RAMPART_TEST_KEY");
  const char* yaml = "redaction: {mode: pseudonym, key_env: RAMPART_TEST_KEY}\n";
  EXPECT_FALSE(ParsePolicy(yaml, "p").ok());
  setenv("RAMPART_TEST_KEY", "short", 1);
  EXPECT_FALSE(ParsePolicy(yaml, "p").ok());
  setenv("RAMPART_TEST_KEY", "0123456789abcdef0123", 1);
  auto p = ParsePolicy(yaml, "p");
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->redaction_mode, RedactionMode::kPseudonym);
  EXPECT_EQ(p->pseudonym_key, "0123456789abcdef0123");
  unsetenv("RAMPART_TEST_KEY");
}

TEST(Policy, ShippedExamplePolicyEqualsBuiltInDefault) {
  auto p = LoadPolicyFile(std::string(RAMPART_SOURCE_DIR) + "/examples/policy.yaml");
  ASSERT_TRUE(p.ok()) << p.status();
  Policy d = Policy::Default();
  ASSERT_EQ(p->rules.size(), d.rules.size());
  for (size_t i = 0; i < d.rules.size(); ++i) {
    EXPECT_EQ(p->rules[i].category, d.rules[i].category) << i;
    EXPECT_EQ(p->rules[i].min_severity, d.rules[i].min_severity) << i;
    EXPECT_EQ(p->rules[i].action, d.rules[i].action) << i;
  }
  EXPECT_EQ(p->default_action, d.default_action);
  EXPECT_EQ(p->fail_on, d.fail_on);
}

}  // namespace
}  // namespace rampart::detectors
