#include "detectors/redactor.h"

#include <gtest/gtest.h>

namespace rampart::detectors {
namespace {

Finding Labelled(uint32_t b, uint32_t e, std::string label, Category c = Category::kPii) {
  Finding f;
  f.category = c;
  f.severity = Severity::kMedium;
  f.span = {b, e};
  f.label = std::move(label);
  return f;
}

TEST(Redact, ReplacesSpansWithLabels) {
  std::string text = "mail bob@example.org or call 555-0100 now";
  size_t n = 0;
  std::string out =
      Redact(text, {Labelled(5, 20, "EMAIL"), Labelled(29, 37, "PHONE")}, Policy::Default(), &n);
  EXPECT_EQ(out, "mail [EMAIL] or call [PHONE] now");
  EXPECT_EQ(n, 2u);
}

TEST(Redact, MergesOverlapsAndIgnoresOutOfRangeSpans) {
  std::string text = "0123456789";
  size_t n = 0;
  std::string out = Redact(text, {Labelled(2, 6, "A"), Labelled(4, 8, "B"), Labelled(8, 99, "C")},
                           Policy::Default(), &n);
  EXPECT_EQ(out, "01[A]89");
  EXPECT_EQ(n, 1u);
}

TEST(Redact, SkipsFindingsThePolicyDoesNotRedact) {
  Policy p;  // everything allowed
  size_t n = 7;
  EXPECT_EQ(Redact("secret", {Labelled(0, 6, "S")}, p, &n), "");
  EXPECT_EQ(n, 0u);
}

TEST(Redact, PseudonymsAreStablePerValueAndKey) {
  Policy p = Policy::Default();
  p.redaction_mode = RedactionMode::kPseudonym;
  p.pseudonym_key = "k1-0123456789abcdef";
  std::string text = "a@b.io and a@b.io and c@d.io";
  size_t n = 0;
  std::string out = Redact(
      text, {Labelled(0, 6, "EMAIL"), Labelled(11, 17, "EMAIL"), Labelled(22, 28, "EMAIL")}, p, &n);
  ASSERT_EQ(n, 3u);
  // "[EMAIL_" + 12 hex + "]" three times.
  std::string first = out.substr(0, 20);
  EXPECT_EQ(first.substr(0, 7), "[EMAIL_");
  EXPECT_EQ(out.substr(25, 20), first);
  EXPECT_NE(out.substr(50, 20), first);
  Policy q = p;
  q.pseudonym_key = "k2-0123456789abcdef";
  EXPECT_NE(Redact(text, {Labelled(0, 6, "EMAIL")}, q, &n).substr(0, 20), first);
  EXPECT_EQ(out.find("a@b.io"), std::string::npos);
}

}  // namespace
}  // namespace rampart::detectors
