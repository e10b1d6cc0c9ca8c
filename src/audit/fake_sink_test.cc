#include "audit/fake_sink.h"

#include <gtest/gtest.h>

namespace rampart::audit {
namespace {

TEST(FakeSink, AcknowledgesRefusesAndFailsOnCue) {
  FakeSink sink;
  absl::StatusOr<uint64_t> got;
  auto keep = [&](absl::StatusOr<uint64_t> seq) { got = seq; };
  Record r;
  r.principal = "alice";
  ASSERT_TRUE(sink.Submit(r, keep).ok());
  EXPECT_EQ(*got, 1u);
  sink.set_full(true);
  EXPECT_EQ(sink.Submit(r, keep).code(), absl::StatusCode::kResourceExhausted);
  sink.set_full(false);
  sink.set_write_error(absl::UnavailableError("disk"));
  ASSERT_TRUE(sink.Submit(r, keep).ok());
  EXPECT_EQ(got.status().code(), absl::StatusCode::kUnavailable);
  SinkStats s = sink.Stats();
  EXPECT_EQ(s.queued, 2u);
  EXPECT_EQ(s.written, 1u);
  EXPECT_EQ(s.refused, 1u);
  EXPECT_EQ(s.failed, 1u);
  ASSERT_EQ(sink.records().size(), 1u);
  EXPECT_EQ(sink.records()[0].principal, "alice");
  sink.Close();
  EXPECT_EQ(sink.Submit(r, keep).code(), absl::StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace rampart::audit
