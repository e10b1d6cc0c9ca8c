#include "detectors/rule_pack.h"

#include <gtest/gtest.h>

#include <string>

namespace rampart::detectors {
namespace {

constexpr char kGood[] = R"(
pack: demo
description: Demo pack.
rules:
  - id: demo.hello
    category: prompt_injection
    severity: high
    score: 0.9
    pattern: 'hello\s+world'
    caseless: true
    description: Greets.
    references: [https://example.org/a]
    examples:
      match: ["hello  world"]
      no_match: ["hello there"]
  - id: demo.card
    category: pii
    severity: medium
    label: CARD
    pattern: '\d{13,19}'
    validator: luhn
    priority: 5
    own_database: true
)";

TEST(RulePack, ParsesEveryField) {
  auto pack = ParseRulePack(kGood, "demo.yaml");
  ASSERT_TRUE(pack.ok()) << pack.status();
  EXPECT_EQ(pack->name, "demo");
  ASSERT_EQ(pack->rules.size(), 2u);
  const Rule& r = pack->rules[0];
  EXPECT_EQ(r.id, "demo.hello");
  EXPECT_EQ(r.category, Category::kPromptInjection);
  EXPECT_EQ(r.severity, Severity::kHigh);
  EXPECT_FLOAT_EQ(r.score, 0.9f);
  EXPECT_TRUE(r.caseless);
  EXPECT_FALSE(r.own_database);  // default
  EXPECT_EQ(r.match_examples, std::vector<std::string>{"hello  world"});
  EXPECT_EQ(r.no_match_examples, std::vector<std::string>{"hello there"});
  EXPECT_EQ(pack->rules[1].label, "CARD");
  EXPECT_EQ(pack->rules[1].validator, "luhn");
  EXPECT_EQ(pack->rules[1].priority, 5);
  EXPECT_TRUE(pack->rules[1].own_database);
  EXPECT_FLOAT_EQ(pack->rules[1].score, 0.8f);  // default
}

struct BadCase {
  const char* yaml;
  const char* expected_fragment;
};

class RulePackErrors : public ::testing::TestWithParam<BadCase> {};

TEST_P(RulePackErrors, NamesTheFieldPath) {
  auto pack = ParseRulePack(GetParam().yaml, "bad.yaml");
  ASSERT_FALSE(pack.ok());
  EXPECT_EQ(pack.status().code(), absl::StatusCode::kInvalidArgument);
  std::string msg(pack.status().message());
  EXPECT_NE(msg.find("bad.yaml"), std::string::npos) << msg;
  EXPECT_NE(msg.find(GetParam().expected_fragment), std::string::npos) << msg;
}

INSTANTIATE_TEST_SUITE_P(
    Cases, RulePackErrors,
    ::testing::Values(
        BadCase{"pack: x\nrules:\n  - {id: x.a, category: pii, severity: hgh, pattern: a}",
                "rules[0].severity: unknown severity 'hgh'"},
        BadCase{"pack: x\nrules:\n  - {id: x.a, category: nope, severity: low, pattern: a}",
                "rules[0].category"},
        BadCase{"pack: x\nrules:\n  - {id: x.a, category: pii, severity: low}",
                "rules[0].pattern: required"},
        BadCase{"pack: x\nrules:\n  - {id: X.A, category: pii, severity: low, pattern: a}",
                "rules[0].id"},
        BadCase{"pack: x\nrules:\n  - {id: x.a, category: pii, severity: low, pattern: a, "
                "colour: red}",
                "rules[0].colour: unknown key"},
        BadCase{"pack: x\nrules:\n  - {id: x.a, category: pii, severity: low, pattern: a, "
                "score: 1.5}",
                "rules[0].score: must be a number in [0,1]"},
        BadCase{"pack: x\nrules:\n  - {id: x.a, category: pii, severity: low, pattern: a, "
                "validator: crc64}",
                "unknown validator 'crc64'"},
        BadCase{"pack: x\nrules:\n  - {id: x.a, category: pii, severity: low, pattern: a}\n"
                "  - {id: x.a, category: pii, severity: low, pattern: b}",
                "rules[1].id: duplicate id 'x.a'"},
        BadCase{"pack: x\nrules:\n  - {id: x.a, category: pii, severity: low, pattern: a, "
                "label: email}",
                "rules[0].label"},
        BadCase{"pack: x\nrules:\n  - {id: x.a, category: pii, severity: low, "
                "pattern: '\\d{13,19999}'}",
                "rules[0].pattern: counted repeats add up to more than 2000"},
        BadCase{"pack: x\nrules:\n  - {id: x.a, category: pii, severity: low, "
                "pattern: 'a(b{1001}){2}'}",
                "rules[0].pattern: counted repeats add up to more than 2000"},
        BadCase{"pack: x\nrules:\n  - {id: x.a, category: pii, severity: low, "
                "pattern: 'x{99999999999999999999999,}'}",
                "rules[0].pattern: counted repeats add up to more than 2000"},
        BadCase{"pack: x\nrules:\n  - {id: x.a, category: pii, severity: low, pattern: a, "
                "own_database: sometimes}",
                "rules[0].own_database: must be true or false"},
        BadCase{"pack: x\nrules: {a: 1}", "rules: required, a list"}, BadCase{"[1, 2", "line"},
        BadCase{"just a string", "(top level)"}),
    [](const ::testing::TestParamInfo<BadCase>& param_info) {
      return "Case" + std::to_string(param_info.index);
    });

// Braces that are not counted repeats (escapes, classes, literal braces) are not limited,
// and counts up to the limit are accepted.
TEST(RulePack, RepeatLimitOnlyCountsQuantifiers) {
  for (const char* pattern : {"'\\x{10FFFF}a{1000}'", "'[{99999}]b{2,1000}'", "'c{99999'",
                              "'d{,99999}'", "'\\p{L}{0,1000}'", "'e\\{99999}'", "'[]{99999}]'"}) {
    std::string yaml =
        std::string("pack: x\nrules:\n  - {id: x.a, category: pii, severity: low, pattern: ") +
        pattern + "}";
    auto pack = ParseRulePack(yaml, "ok.yaml");
    EXPECT_TRUE(pack.ok()) << pattern << ": " << pack.status();
  }
}

TEST(RulePack, RepeatWeight) {
  EXPECT_EQ(RepeatWeight("abc"), 0u);
  EXPECT_EQ(RepeatWeight("a{10}(b{5}){3}"), 25u);
  EXPECT_EQ(RepeatWeight("(ab){999}"), 999u);
  EXPECT_EQ(RepeatWeight("\\d{13,19}"), 19u);
  EXPECT_EQ(RepeatWeight("x{7,}"), 7u);
  EXPECT_EQ(RepeatWeight("[a{9}]\\x{41}\\{9}"), 0u);
  EXPECT_EQ(RepeatWeight("((a{2}){3}){4}"), 2u * 3u * 4u);
  EXPECT_EQ(RepeatWeight("a{99999999999999999999999999}"), uint64_t{1} << 40);
  EXPECT_EQ(RepeatWeight("((((a{10000}){10000}){10000}){10000})"), uint64_t{1} << 40);
}

TEST(RulePack, RefusesOversizedInput) {
  std::string huge(kMaxRulePackBytes + 1, '#');
  EXPECT_EQ(ParseRulePack(huge, "big.yaml").status().code(), absl::StatusCode::kResourceExhausted);
}

TEST(RulePack, DeepNestingIsAnErrorNotACrash) {
  std::string deep(100000, '[');
  EXPECT_FALSE(ParseRulePack(deep, "deep.yaml").ok());
}

TEST(RulePack, ShippedDirectoryLoadsWithUniqueIds) {
  auto packs = LoadRulePackDir(RAMPART_RULES_DIR);
  ASSERT_TRUE(packs.ok()) << packs.status();
  std::vector<std::string> names;
  for (const auto& p : *packs) names.push_back(p.name);
  EXPECT_NE(std::find(names.begin(), names.end(), "injection"), names.end());
  EXPECT_NE(std::find(names.begin(), names.end(), "pii"), names.end());
  EXPECT_NE(std::find(names.begin(), names.end(), "secrets"), names.end());
}

TEST(RulePack, MissingDirectoryIsNotFound) {
  EXPECT_EQ(LoadRulePackDir("/nonexistent/rules").status().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace rampart::detectors
