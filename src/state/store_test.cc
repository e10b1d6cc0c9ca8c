#include "state/store.h"

#include <gtest/gtest.h>

namespace rampart::state {
namespace {

struct FakeClock {
  InProcessStore::Clock::time_point t{};
  void Advance(double s) {
    t += std::chrono::duration_cast<InProcessStore::Clock::duration>(
        std::chrono::duration<double>(s));
  }
};

TEST(TokenBucketTest, StartsFullThenRefusesWithRetryAfter) {
  FakeClock clock;
  InProcessStore store([&] { return clock.t; });
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(store.Take("k", 3, 1.0 / 20, 1)->allowed);
  auto r = store.Take("k", 3, 1.0 / 20, 1);
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->allowed);
  EXPECT_EQ(r->retry_after_s, 20u);
}

TEST(TokenBucketTest, RefillsOverTime) {
  FakeClock clock;
  InProcessStore store([&] { return clock.t; });
  EXPECT_TRUE(store.Take("k", 2, 1, 2)->allowed);
  EXPECT_FALSE(store.Take("k", 2, 1, 1)->allowed);
  clock.Advance(1.0);
  EXPECT_TRUE(store.Take("k", 2, 1, 1)->allowed);
  clock.Advance(100);
  EXPECT_TRUE(store.Take("k", 2, 1, 2)->allowed);  // capped at capacity, not 100
  EXPECT_FALSE(store.Take("k", 2, 1, 1)->allowed);
}

TEST(TokenBucketTest, KeysAreIndependent) {
  FakeClock clock;
  InProcessStore store([&] { return clock.t; });
  EXPECT_TRUE(store.Take("a", 1, 1, 1)->allowed);
  EXPECT_FALSE(store.Take("a", 1, 1, 1)->allowed);
  EXPECT_TRUE(store.Take("b", 1, 1, 1)->allowed);
}

TEST(TokenBucketTest, CostAboveCapacityIsRefused) {
  FakeClock clock;
  InProcessStore store([&] { return clock.t; });
  auto r = store.Take("k", 10, 1, 11);
  EXPECT_FALSE(r->allowed);
  EXPECT_GE(r->retry_after_s, 1u);
}

TEST(TokenBucketTest, BadParametersAreErrors) {
  InProcessStore store;
  EXPECT_FALSE(store.Take("k", 0, 1, 1).ok());
}

}  // namespace
}  // namespace rampart::state
