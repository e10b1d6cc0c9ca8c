// Runs the real `rampart keygen|sign|verify|manifest` binary: exit codes 0 (ok), 1
// (verification failed, naming the file or check), 2 (usage or input error), key file modes
// and overwrite refusal.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "run_rampart.h"

namespace {

namespace fs = std::filesystem;
using rampart::testing::RunRampart;

class SignCli : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::string(::testing::TempDir()) + "/rampart_sign_cli_" + std::to_string(getpid()) +
           "_" + ::testing::UnitTest::GetInstance()->current_test_info()->name();
    fs::remove_all(dir_);
    fs::create_directories(dir_ + "/model/sub");
    Write("model/weights.bin", "weights");
    Write("model/sub/config.json", "{}");
  }
  void TearDown() override { fs::remove_all(dir_); }
  void Write(const std::string& rel, const std::string& data) {
    std::ofstream(dir_ + "/" + rel, std::ios::binary | std::ios::trunc) << data;
  }
  std::string P(const std::string& rel) const { return dir_ + "/" + rel; }
  void Keygen() {
    ASSERT_EQ(
        RunRampart("keygen --private-key " + P("k.pem") + " --public-key " + P("k.pub")).exit_code,
        0);
  }
  std::string dir_;
};

TEST_F(SignCli, KeygenWritesPrivateKey0600AndRefusesToOverwrite) {
  Keygen();
  struct stat st;
  ASSERT_EQ(stat(P("k.pem").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(
      RunRampart("keygen --private-key " + P("k.pem") + " --public-key " + P("k2.pub")).exit_code,
      2);
  EXPECT_FALSE(fs::exists(P("k2.pub")));
  EXPECT_EQ(RunRampart("keygen --force --private-key " + P("k.pem") + " --public-key " + P("k.pub"))
                .exit_code,
            0);
}

TEST_F(SignCli, SignThenVerifyAndTamper) {
  Keygen();
  ASSERT_EQ(RunRampart("sign " + P("model") + " --key " + P("k.pem")).exit_code, 0);
  EXPECT_TRUE(fs::exists(P("model/model.sig")));
  EXPECT_EQ(RunRampart("sign " + P("model") + " --key " + P("k.pem")).exit_code, 2)
      << "refuses to overwrite the bundle without --force";
  EXPECT_EQ(RunRampart("verify " + P("model") + " --key " + P("k.pub")).exit_code, 0);

  Write("model/sub/config.json", "{\"evil\": 1}");
  auto r = RunRampart("verify " + P("model") + " --key " + P("k.pub"), true);
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_NE(r.out.find("sub/config.json"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("model.changed"), std::string::npos) << r.out;
}

TEST_F(SignCli, UsageAndInputErrorsExitTwo) {
  Keygen();
  ASSERT_EQ(RunRampart("sign " + P("model") + " --key " + P("k.pem")).exit_code, 0);
  EXPECT_EQ(RunRampart("verify " + P("model")).exit_code, 2);  // no key or trust root
  EXPECT_EQ(RunRampart("verify " + P("model") + " --key " + P("missing.pub")).exit_code, 2);
  EXPECT_EQ(RunRampart("verify " + P("model") + " --method pgp --key " + P("k.pub")).exit_code, 2);
  EXPECT_EQ(
      RunRampart("sign " + P("model") + " --key " + P("k.pub") + " -o " + P("x.sig")).exit_code,
      2);  // a public key is not a signing key
  EXPECT_EQ(RunRampart("verify --help").exit_code, 0);
}

TEST_F(SignCli, SigstoreMethodOnAKeyBundleFailsOnMaterial) {
  Keygen();
  ASSERT_EQ(RunRampart("sign " + P("model") + " --key " + P("k.pem")).exit_code, 0);
  EXPECT_EQ(RunRampart("verify " + P("model") + " --method sigstore").exit_code, 2)
      << "needs --trusted-root, --identity and --issuer";
  Write("root.json", "{}");
  auto r = RunRampart("verify " + P("model") + " --method sigstore --trusted-root " +
                          P("root.json") + " --identity a@b --issuer https://x",
                      true);
  EXPECT_EQ(r.exit_code, 1) << r.out;  // key material: the method does not match
  EXPECT_NE(r.out.find("bundle.material"), std::string::npos) << r.out;
}

// The conformance vectors beside the checkout (see docs/signing.md), when present.
TEST(SignCliVectors, SigstoreAndCertificateBundlesFromTheConformanceData) {
  const std::string d = std::string(RAMPART_SOURCE_DIR) + "/../shared/data/oms-conformance";
  if (!fs::exists(d + "/cases.json")) GTEST_SKIP() << "no conformance data at " << d;
  const std::string sigstore =
      "verify " + d + "/historical/v1.1.0-sigstore --method sigstore" + " --trusted-root " + d +
      "/trust/sigstore-public-good/trusted_root.json" +
      " --issuer https://sigstore.verify.ibm.com/oauth2" + " --ignore-paths ignore-me --identity ";
  EXPECT_EQ(RunRampart(sigstore + "stefanb@us.ibm.com").exit_code, 0);
  auto r = RunRampart(sigstore + "someone@example.com", true);
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_NE(r.out.find("sigstore.identity"), std::string::npos) << r.out;
  EXPECT_EQ(RunRampart("verify " + d + "/historical/v0.2.0-certificate --trust-root " + d +
                       "/keys/certificate/ca-cert.pem")
                .exit_code,
            0);
}

TEST_F(SignCli, ManifestCreateVerifyAndDetectChanges) {
  ASSERT_EQ(RunRampart("manifest create " + P("model")).exit_code, 0);
  EXPECT_EQ(RunRampart("manifest create " + P("model")).exit_code, 2);  // exists
  EXPECT_EQ(RunRampart("manifest verify " + P("model")).exit_code, 0);
  Write("model/extra.pkl", "x");
  fs::remove(P("model/weights.bin"));
  auto r = RunRampart("manifest verify " + P("model"));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.out.find("missing: weights.bin"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("extra:   extra.pkl"), std::string::npos) << r.out;
  EXPECT_EQ(RunRampart("manifest verify " + P("nope")).exit_code, 2);
}

}  // namespace
