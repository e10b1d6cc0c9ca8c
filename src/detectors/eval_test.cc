#include "detectors/eval.h"

#include <gtest/gtest.h>

namespace rampart::detectors {
namespace {

TEST(MatchSpans, ExactRequiresSameBoundsOverlapDoesNot) {
  std::vector<TypedSpan> gold = {{"EMAIL", 10, 20}};
  std::vector<TypedSpan> pred = {{"EMAIL", 10, 19}};
  std::map<std::string, PrfCounts> exact, overlap;
  MatchSpans(gold, pred, SpanMatch::kExact, exact);
  MatchSpans(gold, pred, SpanMatch::kOverlap, overlap);
  EXPECT_EQ(exact["EMAIL"].tp, 0u);
  EXPECT_EQ(exact["EMAIL"].fp, 1u);
  EXPECT_EQ(exact["EMAIL"].fn, 1u);
  EXPECT_EQ(overlap["EMAIL"].tp, 1u);
  EXPECT_EQ(overlap["EMAIL"].fp, 0u);
}

TEST(MatchSpans, TypeMismatchIsBothFalsePositiveAndFalseNegative) {
  std::map<std::string, PrfCounts> out;
  MatchSpans({{"PHONE", 0, 10}}, {{"CARD", 0, 10}}, SpanMatch::kOverlap, out);
  EXPECT_EQ(out["PHONE"].fn, 1u);
  EXPECT_EQ(out["CARD"].fp, 1u);
}

TEST(MatchSpans, OnePredictionMatchesOneGold) {
  std::map<std::string, PrfCounts> out;
  MatchSpans({{"SSN", 0, 5}, {"SSN", 3, 8}}, {{"SSN", 0, 8}}, SpanMatch::kOverlap, out);
  EXPECT_EQ(out["SSN"].tp, 1u);
  EXPECT_EQ(out["SSN"].fn, 1u);
}

TEST(MatchSpans, SpanlessGoldMatchesAnyPredictionOfType) {
  std::map<std::string, PrfCounts> out;
  TypedSpan g{"SECRET", 0, 0, false};
  MatchSpans({g}, {{"SECRET", 4, 9}, {"SECRET", 12, 15}}, SpanMatch::kExact, out);
  EXPECT_EQ(out["SECRET"].tp, 1u);
  EXPECT_EQ(out["SECRET"].fp, 0u);
  EXPECT_EQ(out["SECRET"].fn, 0u);
}

TEST(PrfCounts, F1) {
  PrfCounts c{8, 2, 2};
  EXPECT_DOUBLE_EQ(c.precision(), 0.8);
  EXPECT_DOUBLE_EQ(c.recall(), 0.8);
  EXPECT_NEAR(c.f1(), 0.8, 1e-12);
  EXPECT_EQ(PrfCounts{}.f1(), 0.0);
}

TEST(RocAuc, PerfectRandomAndInverted) {
  EXPECT_DOUBLE_EQ(RocAuc({{0.9, 1}, {0.8, 1}, {0.2, 0}, {0.1, 0}}), 1.0);
  EXPECT_DOUBLE_EQ(RocAuc({{0.1, 1}, {0.2, 1}, {0.8, 0}, {0.9, 0}}), 0.0);
  EXPECT_DOUBLE_EQ(RocAuc({{0.5, 1}, {0.5, 0}}), 0.5);
  EXPECT_DOUBLE_EQ(RocAuc({{0.5, 1}}), 0.5);
}

TEST(TprAtFpr, PicksBestThresholdWithinBudget) {
  // 4 positives, 4 negatives; one negative scores above two positives.
  std::vector<std::pair<double, int>> s = {{0.9, 1}, {0.8, 1}, {0.7, 0}, {0.6, 1},
                                           {0.5, 1}, {0.3, 0}, {0.2, 0}, {0.1, 0}};
  auto [tpr0, th0] = TprAtFpr(s, 0.0);
  EXPECT_DOUBLE_EQ(tpr0, 0.5);
  EXPECT_DOUBLE_EQ(th0, 0.8);
  auto [tpr25, th25] = TprAtFpr(s, 0.25);
  EXPECT_DOUBLE_EQ(tpr25, 1.0);
  EXPECT_DOUBLE_EQ(th25, 0.5);
}

TEST(CodePointOffset, CountsLeadBytesOnly) {
  std::string t = "a\xC3\xA9z";  // a é z
  EXPECT_EQ(CodePointOffset(t, 0), 0u);
  EXPECT_EQ(CodePointOffset(t, 1), 1u);
  EXPECT_EQ(CodePointOffset(t, 3), 2u);
  EXPECT_EQ(CodePointOffset(t, 4), 3u);
}

}  // namespace
}  // namespace rampart::detectors
