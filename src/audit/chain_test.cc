#include "audit/chain.h"

#include <gtest/gtest.h>

#include "audit/test_util.h"

namespace rampart::audit {
namespace {

using testing::TempDir;
using testing::WriteFile;

TEST(Chain, HashCoversPreviousHashAndBody) {
  Sha256Digest a = RecordHash(GenesisHash(), "x");
  EXPECT_NE(a, RecordHash(GenesisHash(), "y"));
  EXPECT_NE(a, RecordHash(a, "x"));
  EXPECT_EQ(ToHex(a), ToHex(RecordHash(GenesisHash(), "x")));
}

TEST(Chain, SignaturesAreDomainSeparated) {
  Sha256Digest h = Sha256("r");
  EXPECT_NE(ToHex(HeadMac("k", 1, h)), ToHex(CheckpointMac("k", 1, h, 0)));
  EXPECT_NE(ToHex(HeadMac("k", 1, h)), ToHex(HeadMac("k", 2, h)));
  EXPECT_NE(ToHex(RecordMac("k", h)), ToHex(RecordMac("j", h)));
}

TEST(Chain, DigestFromHexRoundTripsAndRejectsJunk) {
  Sha256Digest d = Sha256("abc");
  auto back = DigestFromHex(ToHex(d));
  ASSERT_TRUE(back.ok());
  EXPECT_TRUE(DigestEqual(*back, d));
  EXPECT_FALSE(DigestFromHex("abc").ok());
  EXPECT_FALSE(DigestFromHex(std::string(64, 'g')).ok());
}

TEST(KeyFile, RefusesAWorldReadableFileWithAClearError) {
  TempDir dir;
  std::string path = dir.File("key");
  WriteFile(path, "a-perfectly-long-secret-key\n", 0644);
  auto key = LoadKeyFile(path);
  ASSERT_FALSE(key.ok());
  EXPECT_EQ(key.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_NE(key.status().message().find("chmod 600"), absl::string_view::npos);
  EXPECT_EQ(key.status().message().find("perfectly"), absl::string_view::npos);
}

TEST(KeyFile, ReadsAPrivateFileAndDecodesHex) {
  TempDir dir;
  std::string path = dir.File("key");
  WriteFile(path, "  a-perfectly-long-secret-key\n", 0600);
  auto key = LoadKeyFile(path);
  ASSERT_TRUE(key.ok()) << key.status();
  EXPECT_EQ(*key, "a-perfectly-long-secret-key");
  WriteFile(path, std::string(64, 'f') + "\n", 0400);
  key = LoadKeyFile(path);
  ASSERT_TRUE(key.ok()) << key.status();
  EXPECT_EQ(*key, std::string(32, '\xff'));
}

TEST(KeyFile, RefusesShortKeysAndMissingFiles) {
  TempDir dir;
  std::string path = dir.File("key");
  WriteFile(path, "short\n", 0600);
  EXPECT_EQ(LoadKeyFile(path).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(LoadKeyFile(dir.File("nope")).status().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace rampart::audit
