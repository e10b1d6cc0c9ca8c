#include "supply/manifest.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "supply/oms_test_pki.h"
#include "supply/test_pickles.h"

namespace rampart::supply {
namespace {

using testing::TempDir;
using testing::WriteFile;

class ManifestTest : public ::testing::Test {
 protected:
  void SetUp() override {
    WriteFile(tmp_.path() + "/weights.bin", std::string(1000, '\0'));
    WriteFile(tmp_.path() + "/nested/config.json", "{}");
  }
  TempDir tmp_;
};

TEST_F(ManifestTest, CreateListsEveryFileWithFormatAndVerdict) {
  absl::StatusOr<Manifest> m = CreateManifest(tmp_.path(), {});
  ASSERT_TRUE(m.ok()) << m.status();
  ASSERT_EQ(m->files.size(), 2u);
  EXPECT_EQ(m->files[0].path, "nested/config.json");
  EXPECT_EQ(m->files[0].size, 2u);
  EXPECT_EQ(m->files[0].sha256, ToHex(Sha256("{}")));
  EXPECT_EQ(m->files[1].path, "weights.bin");
  // Bytes no scanner recognizes: format unknown, the scanner's low "file.unrecognized".
  EXPECT_EQ(m->files[1].format, "unknown");
  EXPECT_EQ(m->files[1].verdict, "low");
}

TEST_F(ManifestTest, RoundTripsThroughJsonAndVerifiesClean) {
  absl::StatusOr<Manifest> m = CreateManifest(tmp_.path(), {});
  ASSERT_TRUE(m.ok());
  absl::StatusOr<Manifest> back = ManifestFromJson(ManifestToJson(*m));
  ASSERT_TRUE(back.ok()) << back.status();
  absl::StatusOr<ManifestDiff> diff = VerifyManifest(tmp_.path(), *back, {});
  ASSERT_TRUE(diff.ok());
  EXPECT_TRUE(diff->clean());
}

TEST_F(ManifestTest, ReportsChangedMissingAndExtra) {
  absl::StatusOr<Manifest> m = CreateManifest(tmp_.path(), {});
  ASSERT_TRUE(m.ok());
  WriteFile(tmp_.path() + "/weights.bin", std::string(1000, '\1'));
  std::filesystem::remove(tmp_.path() + "/nested/config.json");
  WriteFile(tmp_.path() + "/extra.pkl", "x");
  absl::StatusOr<ManifestDiff> diff = VerifyManifest(tmp_.path(), *m, {});
  ASSERT_TRUE(diff.ok());
  EXPECT_EQ(diff->changed, std::vector<std::string>{"weights.bin"});
  EXPECT_EQ(diff->missing, std::vector<std::string>{"nested/config.json"});
  EXPECT_EQ(diff->extra, std::vector<std::string>{"extra.pkl"});
}

TEST_F(ManifestTest, MaliciousPickleGetsItsScanVerdict) {
  WriteFile(tmp_.path() + "/model.bin", testing::OsSystemPickle());
  absl::StatusOr<Manifest> m = CreateManifest(tmp_.path(), {});
  ASSERT_TRUE(m.ok());
  ASSERT_EQ(m->files[0].path, "model.bin");
  EXPECT_EQ(m->files[0].format, "pickle");
  EXPECT_EQ(m->files[0].verdict, "critical");
}

TEST(ManifestJson, RejectsMalformed) {
  EXPECT_FALSE(ManifestFromJson("").ok());
  EXPECT_FALSE(ManifestFromJson("{\"kind\":\"x\",\"version\":1,\"files\":[]}").ok());
  EXPECT_FALSE(ManifestFromJson("{\"kind\":\"rampart.model-manifest\",\"version\":1,"
                                "\"files\":[{\"path\":\"a\",\"size\":1,\"sha256\":\"00\"}]}")
                   .ok());
}

}  // namespace
}  // namespace rampart::supply
