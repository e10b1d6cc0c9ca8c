// Every example in every shipped rule pack, through the whole scanner (normalization,
// decoding, validators): `match` examples must raise their rule, `no_match` ones must not.
#include <gtest/gtest.h>

#include <set>

#include "detectors/scanner.h"

namespace rampart::detectors {
namespace {

struct Example {
  std::string rule;
  std::string text;
  bool should_match;
};

std::vector<Example> AllExamples() {
  std::vector<Example> out;
  auto packs = LoadRulePackDir(RAMPART_RULES_DIR);
  if (!packs.ok()) return out;
  for (const auto& p : *packs) {
    for (const auto& r : p.rules) {
      for (const auto& t : r.match_examples) out.push_back({r.id, t, true});
      for (const auto& t : r.no_match_examples) out.push_back({r.id, t, false});
    }
  }
  return out;
}

TEST(ShippedRules, EveryRuleHasExamplesDescriptionAndMatchesThem) {
  auto packs = LoadRulePackDir(RAMPART_RULES_DIR);
  ASSERT_TRUE(packs.ok()) << packs.status();
  auto scanner = Scanner::Create(*packs, Policy::Default());
  ASSERT_TRUE(scanner.ok()) << scanner.status();
  auto ctx = (*scanner)->NewContext();
  size_t checked = 0;
  for (const auto& p : *packs) {
    for (const auto& r : p.rules) {
      EXPECT_FALSE(r.match_examples.empty()) << r.id << " has no match examples";
      EXPECT_FALSE(r.no_match_examples.empty()) << r.id << " has no no_match examples";
      EXPECT_FALSE(r.description.empty()) << r.id << " has no description";
    }
  }
  for (const auto& ex : AllExamples()) {
    std::vector<Finding> findings;
    ASSERT_TRUE((*scanner)->CollectFindings(ex.text, *ctx, "", findings).ok());
    bool hit = false;
    for (const auto& f : findings) hit |= f.rule == ex.rule;
    EXPECT_EQ(hit, ex.should_match)
        << ex.rule << (ex.should_match ? " should match: " : " should not match: ") << ex.text;
    ++checked;
  }
  EXPECT_GT(checked, 100u);
}

TEST(ShippedRules, PacksCoverTheCategoriesTheyClaim) {
  auto packs = LoadRulePackDir(RAMPART_RULES_DIR);
  ASSERT_TRUE(packs.ok()) << packs.status();
  std::set<Category> seen;
  std::set<std::string> ids;
  for (const auto& p : *packs) {
    for (const auto& r : p.rules) {
      seen.insert(r.category);
      ids.insert(r.id);
    }
  }
  for (Category c : {Category::kPromptInjection, Category::kJailbreak, Category::kPromptExtraction,
                     Category::kRoleInjection, Category::kPii, Category::kSecret}) {
    EXPECT_TRUE(seen.count(c)) << CategoryName(c);
  }
  for (const char* id :
       {"pii.email", "pii.phone", "pii.card", "pii.iban", "pii.ssn", "pii.ipv4", "pii.ipv6"}) {
    EXPECT_TRUE(ids.count(id)) << id;
  }
}

}  // namespace
}  // namespace rampart::detectors
