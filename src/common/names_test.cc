#include <gtest/gtest.h>

#include "rampart/finding.h"
#include "rampart/verdict.h"

namespace rampart {
namespace {

TEST(Names, SeverityRoundTripsAndRejectsUnknown) {
  for (auto s :
       {Severity::kInfo, Severity::kLow, Severity::kMedium, Severity::kHigh, Severity::kCritical}) {
    EXPECT_EQ(ParseSeverity(SeverityName(s)), s);
  }
  EXPECT_EQ(ParseSeverity("hgh"), std::nullopt);
  EXPECT_EQ(ParseSeverity("HIGH"), std::nullopt);
}

TEST(Names, CategoryRoundTrips) {
  for (int i = 0; i <= static_cast<int>(Category::kSecret); ++i) {
    auto c = static_cast<Category>(i);
    EXPECT_EQ(ParseCategory(CategoryName(c)), c);
  }
  EXPECT_EQ(ParseCategory("pii "), std::nullopt);
}

TEST(Names, ActionsAreOrderedByStrength) {
  EXPECT_LT(Action::kAllow, Action::kRedact);
  EXPECT_LT(Action::kRedact, Action::kReview);
  EXPECT_LT(Action::kReview, Action::kBlock);
  EXPECT_EQ(ParseAction("block"), Action::kBlock);
  EXPECT_EQ(ActionName(Action::kRedact), "redact");
}

}  // namespace
}  // namespace rampart
