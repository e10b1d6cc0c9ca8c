#include "supply/file_hasher.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "supply/oms_test_pki.h"

namespace rampart::supply {
namespace {

using testing::TempDir;
using testing::WriteFile;

TEST(FileHasher, MatchesOneShotSha256AcrossReadBoundaries) {
  TempDir tmp;
  std::string data;
  for (size_t i = 0; i < kHashReadBytes + 12345; ++i) data.push_back(static_cast<char>(i * 7));
  WriteFile(tmp.path() + "/big", data);
  absl::StatusOr<FileDigest> d = HashFile(tmp.path() + "/big");
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->size, data.size());
  EXPECT_EQ(d->sha256, Sha256(data));
}

TEST(FileHasher, EmptyFile) {
  TempDir tmp;
  WriteFile(tmp.path() + "/e", "");
  absl::StatusOr<FileDigest> d = HashFile(tmp.path() + "/e");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(ToHex(d->sha256), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(FileHasher, MissingFileIsNotFound) {
  EXPECT_EQ(HashFile("/nonexistent/x").status().code(), absl::StatusCode::kNotFound);
}

TEST(FileHasher, ManyFilesInParallelKeepOrder) {
  TempDir tmp;
  std::vector<std::string> names;
  for (int i = 0; i < 50; ++i) {
    names.push_back("f" + std::to_string(i));
    WriteFile(tmp.path() + "/" + names.back(), std::string(static_cast<size_t>(i), 'x'));
  }
  absl::StatusOr<std::vector<FileDigest>> d = HashFiles(tmp.path(), names, 4);
  ASSERT_TRUE(d.ok()) << d.status();
  ASSERT_EQ(d->size(), names.size());
  for (size_t i = 0; i < names.size(); ++i) {
    EXPECT_EQ((*d)[i].path, names[i]);
    EXPECT_EQ((*d)[i].sha256, Sha256(std::string(i, 'x')));
  }
  names.push_back("missing");
  EXPECT_EQ(HashFiles(tmp.path(), names, 4).status().code(), absl::StatusCode::kNotFound);
}

TEST(ListModelFiles, SortsRelativePathsAndSkipsIgnored) {
  TempDir tmp;
  WriteFile(tmp.path() + "/b/z.bin", "1");
  WriteFile(tmp.path() + "/a.bin", "2");
  WriteFile(tmp.path() + "/.git/config", "3");
  WriteFile(tmp.path() + "/skip/me", "4");
  WriteFile(tmp.path() + "/sub/.git/keep", "5");  // only the top-level .git is ignored
  ListOptions opt;
  opt.ignore_paths = {"skip/"};
  absl::StatusOr<std::vector<std::string>> files = ListModelFiles(tmp.path(), opt);
  ASSERT_TRUE(files.ok()) << files.status();
  EXPECT_EQ(*files, (std::vector<std::string>{"a.bin", "b/z.bin", "sub/.git/keep"}));
}

TEST(ListModelFiles, SymlinksAreRejectedUnlessAllowed) {
  TempDir tmp;
  WriteFile(tmp.path() + "/a.bin", "2");
  std::filesystem::create_symlink("a.bin", tmp.path() + "/link");
  absl::StatusOr<std::vector<std::string>> files = ListModelFiles(tmp.path(), {});
  ASSERT_FALSE(files.ok());
  EXPECT_NE(files.status().message().find("link"), absl::string_view::npos);
  ListOptions opt;
  opt.allow_symlinks = true;
  files = ListModelFiles(tmp.path(), opt);
  ASSERT_TRUE(files.ok());
  EXPECT_EQ(files->size(), 2u);
}

TEST(ListModelFiles, NotADirectory) {
  EXPECT_EQ(ListModelFiles("/nonexistent", {}).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(IsIgnored, PrefixIsPathComponentAware) {
  EXPECT_TRUE(IsIgnored("a/b", {"a"}));
  EXPECT_TRUE(IsIgnored("a", {"./a/"}));
  EXPECT_FALSE(IsIgnored("ab", {"a"}));
}

}  // namespace
}  // namespace rampart::supply
