// Sign-then-verify round trips with keys and certificates minted here (no shared data).
#include "supply/oms.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <filesystem>

#include "supply/oms_test_pki.h"

namespace rampart::supply::oms {
namespace {

namespace fs = std::filesystem;
using testing::ReadFile;
using testing::TempDir;
using testing::WriteFile;

class OmsRoundTrip : public ::testing::TestWithParam<const char*> {
 protected:
  void SetUp() override {
    model_ = tmp_.path() + "/model";
    WriteFile(model_ + "/config.json", "{\"layers\": 2}\n");
    WriteFile(model_ + "/weights/part-1.bin", std::string(100000, 'w'));
    WriteFile(model_ + "/weights/part-2.bin", "second");
    WriteFile(model_ + "/.git/HEAD", "ref: refs/heads/main\n");
    absl::StatusOr<KeyPair> kp = GenerateKeyPair(GetParam());
    ASSERT_TRUE(kp.ok()) << kp.status();
    keys_ = *kp;
    bundle_path_ = model_ + "/model.sig";
  }

  std::string SignModel() {
    SignOptions opt;
    opt.private_key_pem = keys_.private_key_pem;
    opt.bundle_path = bundle_path_;
    absl::StatusOr<std::string> bundle = Sign(model_, opt);
    EXPECT_TRUE(bundle.ok()) << bundle.status();
    WriteFile(bundle_path_, bundle.ok() ? *bundle : "");
    return bundle.ok() ? *bundle : "";
  }

  VerifyResult VerifyModel(const std::string& bundle) {
    VerifyOptions opt;
    opt.method = Method::kKey;
    opt.public_key_pem = keys_.public_key_pem;
    opt.bundle_path = bundle_path_;
    absl::StatusOr<VerifyResult> r = Verify(bundle, model_, opt);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : VerifyResult{};
  }

  TempDir tmp_;
  std::string model_;
  std::string bundle_path_;
  KeyPair keys_;
};

TEST_P(OmsRoundTrip, SignedModelVerifies) {
  const std::string bundle = SignModel();
  const VerifyResult r = VerifyModel(bundle);
  EXPECT_TRUE(r.verified) << r.check << ": " << r.message;
  EXPECT_EQ(r.files,
            (std::vector<std::string>{"config.json", "weights/part-1.bin", "weights/part-2.bin"}));
}

TEST_P(OmsRoundTrip, TamperedFileFailsNamingIt) {
  const std::string bundle = SignModel();
  WriteFile(model_ + "/weights/part-2.bin", "secone");
  const VerifyResult r = VerifyModel(bundle);
  EXPECT_FALSE(r.verified);
  EXPECT_EQ(r.check, "model.changed");
  EXPECT_NE(r.message.find("weights/part-2.bin"), std::string::npos) << r.message;
}

TEST_P(OmsRoundTrip, AddedFileFailsNamingIt) {
  const std::string bundle = SignModel();
  WriteFile(model_ + "/weights/backdoor.pkl", "x");
  const VerifyResult r = VerifyModel(bundle);
  EXPECT_FALSE(r.verified);
  EXPECT_EQ(r.check, "model.unsigned");
  EXPECT_NE(r.message.find("weights/backdoor.pkl"), std::string::npos) << r.message;
}

TEST_P(OmsRoundTrip, RemovedFileFailsNamingIt) {
  const std::string bundle = SignModel();
  fs::remove(model_ + "/config.json");
  const VerifyResult r = VerifyModel(bundle);
  EXPECT_FALSE(r.verified);
  EXPECT_EQ(r.check, "model.missing");
  EXPECT_NE(r.message.find("config.json"), std::string::npos) << r.message;
}

TEST_P(OmsRoundTrip, GitFilesAreIgnored) {
  const std::string bundle = SignModel();
  WriteFile(model_ + "/.git/ORIG_HEAD", "abc\n");
  EXPECT_TRUE(VerifyModel(bundle).verified);
}

TEST_P(OmsRoundTrip, FlippedSignatureBitFails) {
  std::string bundle = SignModel();
  boost::json::object b = boost::json::parse(bundle).as_object();
  auto& sig = b["dsseEnvelope"].as_object()["signatures"].as_array()[0].as_object()["sig"];
  std::string raw = *Base64Decode(sig.as_string().c_str());
  raw[raw.size() / 2] ^= 1;
  sig = Base64Encode(raw);
  const VerifyResult r = VerifyModel(boost::json::serialize(b));
  EXPECT_FALSE(r.verified);
  EXPECT_EQ(r.check, "dsse.signature");
}

INSTANTIATE_TEST_SUITE_P(Curves, OmsRoundTrip, ::testing::Values("P-256", "P-384", "P-521"),
                         [](const auto& p) { return std::string(p.param).substr(2); });

TEST(OmsCertificate, SignedWithMintedChainVerifies) {
  TempDir tmp;
  const std::string model = tmp.path() + "/m";
  WriteFile(model + "/a.bin", "aaaa");
  testing::TestCert root, inter, leaf;
  testing::MintCert(&root, "root", nullptr, true);
  testing::MintCert(&inter, "intermediate", &root, true);
  testing::MintCert(&leaf, "signer", &inter, false);
  SignOptions so;
  so.private_key_pem = leaf.KeyPem();
  so.certificate_chain_pem = leaf.CertPem() + inter.CertPem();
  absl::StatusOr<std::string> bundle = Sign(model, so);
  ASSERT_TRUE(bundle.ok()) << bundle.status();

  VerifyOptions vo;
  vo.method = Method::kCertificate;
  vo.trust_roots_pem = {root.CertPem()};
  absl::StatusOr<VerifyResult> r = Verify(*bundle, model, vo);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->verified) << r->check << ": " << r->message;

  // As a key bundle it is the wrong material.
  vo.method = Method::kKey;
  absl::StatusOr<KeyPair> kp = GenerateKeyPair();
  vo.public_key_pem = kp->public_key_pem;
  r = Verify(*bundle, model, vo);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->check, "bundle.material");
}

TEST(OmsCertificate, ExpiredLeafFails) {
  TempDir tmp;
  const std::string model = tmp.path() + "/m";
  WriteFile(model + "/a.bin", "aaaa");
  testing::TestCert root, leaf;
  testing::MintCert(&root, "root", nullptr, true);
  testing::MintCert(&leaf, "signer", &root, false, -86400 * 30, -86400);
  SignOptions so;
  so.private_key_pem = leaf.KeyPem();
  so.certificate_chain_pem = leaf.CertPem();
  absl::StatusOr<std::string> bundle = Sign(model, so);
  ASSERT_TRUE(bundle.ok()) << bundle.status();
  VerifyOptions vo;
  vo.method = Method::kCertificate;
  vo.trust_roots_pem = {root.CertPem()};
  absl::StatusOr<VerifyResult> r = Verify(*bundle, model, vo);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_FALSE(r->verified);
  EXPECT_EQ(r->check, "certificate.chain");
}

TEST(OmsCertificate, ChainNotMatchingKeyIsRejectedAtSigning) {
  testing::TestCert root;
  testing::MintCert(&root, "root", nullptr, true);
  absl::StatusOr<KeyPair> kp = GenerateKeyPair();
  SignOptions so;
  so.private_key_pem = kp->private_key_pem;
  so.certificate_chain_pem = root.CertPem();
  EXPECT_EQ(Sign("/", so).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(OmsSingleFile, SignAndVerifyOneFile) {
  TempDir tmp;
  const std::string file = tmp.path() + "/model.safetensors";
  WriteFile(file, "weights");
  absl::StatusOr<KeyPair> kp = GenerateKeyPair();
  SignOptions so;
  so.private_key_pem = kp->private_key_pem;
  absl::StatusOr<std::string> bundle = Sign(file, so);
  ASSERT_TRUE(bundle.ok()) << bundle.status();
  VerifyOptions vo;
  vo.public_key_pem = kp->public_key_pem;
  absl::StatusOr<VerifyResult> r = Verify(*bundle, file, vo);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->verified) << r->message;
  WriteFile(file, "weightz");
  r = Verify(*bundle, file, vo);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->check, "model.changed");
}

TEST(OmsInputs, BadPublicKeyIsAnInputError) {
  VerifyOptions vo;
  vo.public_key_pem = "not a key";
  EXPECT_EQ(Verify("{}", "/", vo).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(OmsInputs, RsaKeysAreRejected) {
  EVP_PKEY* rsa = EVP_RSA_gen(2048);
  BIO* b = BIO_new(BIO_s_mem());
  PEM_write_bio_PUBKEY(b, rsa);
  char* p = nullptr;
  long n = BIO_get_mem_data(b, &p);
  VerifyOptions vo;
  vo.public_key_pem = std::string(p, static_cast<size_t>(n));
  BIO_free(b);
  EVP_PKEY_free(rsa);
  EXPECT_EQ(Verify("{}", "/", vo).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(OmsBase64, StrictDecoding) {
  EXPECT_EQ(*Base64Decode(""), "");
  EXPECT_EQ(*Base64Decode("YQ=="), "a");
  EXPECT_EQ(*Base64Decode("YWI="), "ab");
  EXPECT_EQ(*Base64Decode("YWJj"), "abc");
  EXPECT_FALSE(Base64Decode("YQ").has_value());
  EXPECT_FALSE(Base64Decode("Y===").has_value());
  EXPECT_FALSE(Base64Decode("YQ=a").has_value());
  EXPECT_FALSE(Base64Decode("Y Q=").has_value());
  // Non-canonical: bits dropped by the padding are not zero.
  EXPECT_FALSE(Base64Decode("ZA9=").has_value());
  EXPECT_FALSE(Base64Decode("YR==").has_value());
  EXPECT_EQ(Base64Encode("abc"), "YWJj");
}

TEST(OmsMethod, Names) {
  EXPECT_EQ(ParseMethod("key"), Method::kKey);
  EXPECT_EQ(ParseMethod("sigstore"), Method::kSigstore);
  EXPECT_FALSE(ParseMethod("pgp").has_value());
}

}  // namespace
}  // namespace rampart::supply::oms
