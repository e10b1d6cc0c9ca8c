#include "detectors/database_cache.h"

#include <gtest/gtest.h>
#include <hs/hs.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

namespace rampart::detectors {
namespace {

class DatabaseCacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::string(::testing::TempDir()) + "/rampart_cache_" + std::to_string(getpid());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directory(dir_);
    chmod(dir_.c_str(), 0700);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  CacheOutcome Compile(const char* pattern, bool* matched_abc = nullptr) {
    std::vector<const char*> patterns = {pattern};
    std::vector<unsigned int> flags = {HS_FLAG_SINGLEMATCH};
    std::vector<unsigned int> ids = {7};
    hs_database_t* db = nullptr;
    int bad = -1;
    CacheOutcome outcome;
    EXPECT_TRUE(CompileCached(patterns, flags, ids, dir_, &db, &bad, &outcome).ok());
    if (db != nullptr && matched_abc != nullptr) {
      hs_scratch_t* scratch = nullptr;
      hs_alloc_scratch(db, &scratch);
      *matched_abc = false;
      hs_scan(
          db, "xxabcxx", 7, 0, scratch,
          [](unsigned int id, unsigned long long, unsigned long long, unsigned int, void* ctx) {
            *static_cast<bool*>(ctx) = id == 7;
            return 0;
          },
          matched_abc);
      hs_free_scratch(scratch);
    }
    hs_free_database(db);
    return outcome;
  }

  size_t FileCount() {
    size_t n = 0;
    for (const auto& e : std::filesystem::directory_iterator(dir_)) n += e.is_regular_file();
    return n;
  }

  std::string dir_;
};

TEST_F(DatabaseCacheTest, SecondCompileIsACacheHitThatStillMatches) {
  bool matched = false;
  EXPECT_EQ(Compile("abc", &matched), CacheOutcome::kMissWritten);
  EXPECT_TRUE(matched);
  EXPECT_EQ(Compile("abc", &matched), CacheOutcome::kHit);
  EXPECT_TRUE(matched);
  EXPECT_EQ(FileCount(), 1u);
}

TEST_F(DatabaseCacheTest, ChangedPatternIsANewKey) {
  EXPECT_EQ(Compile("abc"), CacheOutcome::kMissWritten);
  EXPECT_EQ(Compile("abd"), CacheOutcome::kMissWritten);
  EXPECT_EQ(FileCount(), 2u);
}

TEST_F(DatabaseCacheTest, CorruptedFileIsRecompiledNotTrusted) {
  EXPECT_EQ(Compile("abc"), CacheOutcome::kMissWritten);
  for (const auto& e : std::filesystem::directory_iterator(dir_)) {
    std::fstream f(e.path(), std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(200);
    f.put('\x5a');
  }
  bool matched = false;
  EXPECT_EQ(Compile("abc", &matched), CacheOutcome::kMissWritten);
  EXPECT_TRUE(matched);
  EXPECT_EQ(Compile("abc"), CacheOutcome::kHit);
}

TEST_F(DatabaseCacheTest, TruncatedFileIsRecompiled) {
  EXPECT_EQ(Compile("abc"), CacheOutcome::kMissWritten);
  for (const auto& e : std::filesystem::directory_iterator(dir_)) {
    std::filesystem::resize_file(e.path(), 50);
  }
  EXPECT_EQ(Compile("abc"), CacheOutcome::kMissWritten);
}

TEST_F(DatabaseCacheTest, WorldWritableDirectoryIsIgnored) {
  chmod(dir_.c_str(), 0777);
  EXPECT_EQ(Compile("abc"), CacheOutcome::kUnsafeDirectory);
  EXPECT_EQ(FileCount(), 0u);
}

TEST_F(DatabaseCacheTest, CompileErrorNamesTheExpression) {
  std::vector<const char*> patterns = {"ok", "(bad"};
  std::vector<unsigned int> flags = {0, 0};
  std::vector<unsigned int> ids = {0, 1};
  hs_database_t* db = nullptr;
  int bad = -1;
  CacheOutcome outcome;
  EXPECT_FALSE(CompileCached(patterns, flags, ids, dir_, &db, &bad, &outcome).ok());
  EXPECT_EQ(bad, 1);
  EXPECT_EQ(FileCount(), 0u);
}

}  // namespace
}  // namespace rampart::detectors
