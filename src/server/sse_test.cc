#include "server/sse.h"

#include <gtest/gtest.h>

namespace rampart::server {
namespace {

std::vector<SseEvent> FeedAll(const std::vector<std::string>& pieces, size_t max = 1 << 20) {
  SseParser p(max);
  std::vector<SseEvent> out;
  for (const auto& piece : pieces) EXPECT_TRUE(p.Feed(piece, out));
  return out;
}

TEST(SseParserTest, ParsesEventsAndSkipsComments) {
  auto ev = FeedAll({": keep-alive\n\ndata: {\"a\":1}\n\nevent: done\ndata: [DONE]\n\n"});
  ASSERT_EQ(ev.size(), 2u);
  EXPECT_EQ(ev[0].data, "{\"a\":1}");
  EXPECT_EQ(ev[1].event, "done");
  EXPECT_EQ(ev[1].data, "[DONE]");
}

TEST(SseParserTest, EventSplitAtEveryByteGivesSameResult) {
  std::string stream = "data: one\r\n\r\ndata: two\ndata: lines\n\ndata:no-space\r\r";
  std::vector<std::string> bytes;
  for (char c : stream) bytes.emplace_back(1, c);
  auto ev = FeedAll(bytes);
  ASSERT_EQ(ev.size(), 3u);
  EXPECT_EQ(ev[0].data, "one");
  EXPECT_EQ(ev[1].data, "two\nlines");
  EXPECT_EQ(ev[2].data, "no-space");
}

TEST(SseParserTest, CrLfSplitAcrossReadsIsOneLineBreak) {
  auto ev = FeedAll({"data: a\r", "\n", "\r", "\ndata: b\n\n"});
  ASSERT_EQ(ev.size(), 2u);
  EXPECT_EQ(ev[0].data, "a");
  EXPECT_EQ(ev[1].data, "b");
}

TEST(SseParserTest, PartialEventIsReported) {
  SseParser p(1024);
  std::vector<SseEvent> out;
  p.Feed("data: {\"trunc", out);
  EXPECT_TRUE(out.empty());
  EXPECT_TRUE(p.has_partial());
}

TEST(SseParserTest, OversizedEventFails) {
  SseParser p(16);
  std::vector<SseEvent> out;
  EXPECT_FALSE(p.Feed("data: " + std::string(100, 'x'), out));
  EXPECT_TRUE(p.failed());
  EXPECT_FALSE(p.Feed("\n\n", out));
}

TEST(SseParserTest, ManyDataLinesAreBounded) {
  SseParser p(64);
  std::vector<SseEvent> out;
  std::string many;
  for (int i = 0; i < 100; ++i) many += "data: abc\n";
  p.Feed(many, out);
  EXPECT_TRUE(p.failed());
}

TEST(FormatSseDataTest, SplitsLines) {
  EXPECT_EQ(FormatSseData("a\nb"), "data: a\ndata: b\n\n");
  EXPECT_EQ(FormatSseData("[DONE]"), "data: [DONE]\n\n");
}

}  // namespace
}  // namespace rampart::server
