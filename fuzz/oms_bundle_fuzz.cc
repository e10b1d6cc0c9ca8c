// Fuzzes OMS bundle verification (supply/oms.h): JSON parsing, base64, DER certificates in
// x509CertificateChain, chain building, DSSE signature checks, statement parsing and the
// model comparison. The first byte picks the mode:
//   0: the rest is a bundle, verified with the key method
//   1: the rest is a bundle, verified with the certificate method against a minted root
//   2: the rest is a statement payload, signed here with the key so that verification gets
//      past the signature into the statement and model checks
//   3: the rest is base64 text; a successful decode must re-encode to the same text
//   4: the rest is a bundle, verified with the sigstore method against a trust root holding
//      a minted CA and the fixture key as the log key (tlog entries, SET, inclusion proofs,
//      checkpoints, Fulcio extensions)
// Invariant: nothing verifies except mode 2 payloads that describe the fuzz model exactly.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "supply/oms.h"
#include "supply/oms_test_pki.h"

namespace {

using namespace rampart::supply;

struct Fixture {
  oms::KeyPair keys;
  testing::TestCert root;
  testing::TempDir dir;
  std::string model;
  std::string trusted_root;
  Fixture() {
    keys = *oms::GenerateKeyPair("P-256");
    testing::MintCert(&root, "fuzz-root", nullptr, true);
    model = dir.path() + "/m";
    testing::WriteFile(model + "/a", "a");
    unsigned char* der = nullptr;
    int n = i2d_X509(root.cert, &der);
    const std::string root_der(reinterpret_cast<char*>(der), static_cast<size_t>(n));
    OPENSSL_free(der);
    der = nullptr;
    n = i2d_PUBKEY(root.key, &der);
    const std::string key_der(reinterpret_cast<char*>(der), static_cast<size_t>(n));
    OPENSSL_free(der);
    trusted_root = "{\"tlogs\":[{\"logId\":{\"keyId\":\"" +
                   oms::Base64Encode(std::string(32, 'k')) + "\"},\"publicKey\":{\"rawBytes\":\"" +
                   oms::Base64Encode(key_der) +
                   "\"}}],\"certificateAuthorities\":[{\"certChain\":{\"certificates\":[{"
                   "\"rawBytes\":\"" +
                   oms::Base64Encode(root_der) + "\"}]}}]}";
  }
};

Fixture& F() {
  static Fixture* f = new Fixture();
  return *f;
}

void Check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "oms_bundle_fuzz: invariant violated: %s\n", what);
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* bytes, size_t size) {
  if (size == 0) return 0;
  const int mode = bytes[0] % 5;
  std::string_view data(reinterpret_cast<const char*>(bytes + 1), size - 1);
  Fixture& f = F();
  oms::VerifyOptions opt;
  opt.threads = 1;
  if (mode == 3) {
    std::optional<std::string> d = oms::Base64Decode(data);
    if (d) Check(oms::Base64Encode(*d) == data, "base64 round trip");
    return 0;
  }
  std::string bundle(data);
  if (mode == 2) {
    // Sign the fuzzed payload with the fixture key so verification reaches the statement.
    const std::string pae = oms::Pae(oms::kInTotoPayloadType, data);
    BIO* bio = BIO_new_mem_buf(f.keys.private_key_pem.data(),
                               static_cast<int>(f.keys.private_key_pem.size()));
    EVP_PKEY* key = PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr);
    BIO_free(bio);
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    size_t len = 0;
    std::string sig(256, '\0');
    len = sig.size();
    EVP_DigestSignInit(ctx, nullptr, EVP_sha256(), nullptr, key);
    EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(sig.data()), &len,
                   reinterpret_cast<const unsigned char*>(pae.data()), pae.size());
    sig.resize(len);
    EVP_MD_CTX_free(ctx);
    EVP_PKEY_free(key);
    bundle = std::string("{\"mediaType\":\"application/vnd.dev.sigstore.bundle.v0.3+json\",") +
             "\"verificationMaterial\":{\"publicKey\":{}},\"dsseEnvelope\":{\"payload\":\"" +
             oms::Base64Encode(data) + "\",\"payloadType\":\"application/vnd.in-toto+json\"," +
             "\"signatures\":[{\"sig\":\"" + oms::Base64Encode(sig) + "\"}]}}";
  }
  if (mode == 4) {
    opt.method = oms::Method::kSigstore;
    opt.trusted_root_json = f.trusted_root;
    opt.identity = "fuzz@example.com";
    opt.issuer = "https://issuer.example.com";
  } else if (mode == 1) {
    opt.method = oms::Method::kCertificate;
    opt.trust_roots_pem = {f.root.CertPem()};
  } else {
    opt.method = oms::Method::kKey;
    opt.public_key_pem = f.keys.public_key_pem;
  }
  absl::StatusOr<oms::VerifyResult> r = oms::Verify(bundle, f.model, opt);
  Check(r.ok(), "inputs are valid, so the result is a verdict");
  if (mode != 2) Check(!r->verified, "a bundle not signed by the fixture key verified");
  if (r->verified) Check(r->files == std::vector<std::string>{"a"}, "verified the wrong files");
  Check(r->verified == r->check.empty(), "a failure names its check, a pass none");
  return 0;
}
