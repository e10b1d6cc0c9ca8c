#include "common/file.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>

namespace rampart {
namespace {

std::string TempPath(const char* name) {
  return std::string(::testing::TempDir()) + "/" + name + std::to_string(::getpid());
}

TEST(ReadFileBounded, ReadsWholeFile) {
  std::string path = TempPath("read_ok");
  std::string content(200000, 'x');
  content[12345] = '\0';
  std::ofstream(path, std::ios::binary) << content;
  auto got = ReadFileBounded(path, 1 << 20);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(*got, content);
  std::remove(path.c_str());
}

TEST(ReadFileBounded, RefusesFileOverLimit) {
  std::string path = TempPath("read_big");
  std::ofstream(path, std::ios::binary) << std::string(1001, 'y');
  auto got = ReadFileBounded(path, 1000);
  EXPECT_EQ(got.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_TRUE(ReadFileBounded(path, 1001).ok());
  std::remove(path.c_str());
}

TEST(ReadFileBounded, MissingFileIsNotFoundAndNamesPath) {
  auto got = ReadFileBounded("/nonexistent/rampart/file.yaml", 10);
  EXPECT_EQ(got.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(got.status().message().find("/nonexistent/rampart/file.yaml"), std::string::npos);
}

TEST(ReadFileBounded, DirectoryIsAnError) {
  auto got = ReadFileBounded(::testing::TempDir(), 10);
  EXPECT_FALSE(got.ok());
}

}  // namespace
}  // namespace rampart
