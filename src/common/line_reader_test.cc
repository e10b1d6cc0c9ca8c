#include "common/line_reader.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>

namespace rampart {
namespace {

std::string WriteTemp(const std::string& name, const std::string& content) {
  std::string path = std::string(::testing::TempDir()) + "/" + name + std::to_string(getpid());
  std::ofstream(path, std::ios::binary) << content;
  return path;
}

TEST(LineReader, SplitsLinesAndStripsCrLf) {
  std::string path = WriteTemp("lines", "a\r\nbb\n\nccc");
  auto r = LineReader::Open(path, 100);
  ASSERT_TRUE(r.ok());
  std::string line;
  std::vector<std::string> got;
  while (true) {
    auto more = (*r)->Next(line);
    ASSERT_TRUE(more.ok());
    if (!*more) break;
    got.push_back(line);
  }
  EXPECT_EQ(got, (std::vector<std::string>{"a", "bb", "", "ccc"}));
  EXPECT_EQ((*r)->line_number(), 4u);
  EXPECT_EQ((*r)->bytes_read(), 10u);
  EXPECT_EQ((*r)->total_bytes(), 10u);
  std::remove(path.c_str());
}

TEST(LineReader, LinesSpanningBufferRefillsAreWhole) {
  std::string big(3 << 20, 'x');
  std::string path = WriteTemp("big", big + "\nend\n");
  auto r = LineReader::Open(path, 4 << 20);
  ASSERT_TRUE(r.ok());
  std::string line;
  ASSERT_TRUE(*(*r)->Next(line));
  EXPECT_EQ(line.size(), big.size());
  ASSERT_TRUE(*(*r)->Next(line));
  EXPECT_EQ(line, "end");
  EXPECT_FALSE(*(*r)->Next(line));
  std::remove(path.c_str());
}

TEST(LineReader, OverlongLineIsAnErrorNamingTheLine) {
  std::string path = WriteTemp("long", "ok\n" + std::string(50, 'y') + "\n");
  auto r = LineReader::Open(path, 10);
  ASSERT_TRUE(r.ok());
  std::string line;
  ASSERT_TRUE(*(*r)->Next(line));
  auto st = (*r)->Next(line);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_NE(st.status().message().find("line 2"), std::string::npos);
  std::remove(path.c_str());
}

TEST(LineReader, MissingFileAndDirectoryAreErrors) {
  EXPECT_EQ(LineReader::Open("/nonexistent/x.jsonl", 10).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_FALSE(LineReader::Open(::testing::TempDir(), 10).ok());
}

}  // namespace
}  // namespace rampart
