// The OMS conformance vectors (../shared/data/oms-conformance, see its README.md): every
// network:false case of cases.json runs with its expected outcome, one test per case id, and
// the README's section C recipes run on temporary copies. Skipped when the data is absent.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <filesystem>
#include <string>
#include <vector>

#include "common/strings.h"
#include "supply/oms.h"
#include "supply/oms_test_pki.h"

namespace rampart::supply::oms {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;
using testing::ReadFile;
using testing::TempDir;
using testing::WriteFile;

const std::string kData = RAMPART_OMS_DATA_DIR;

bool HaveData() { return fs::exists(kData + "/cases.json"); }

std::string Str(const json::object& o, const char* key) {
  const json::value* v = o.if_contains(key);
  return v && v->is_string() ? std::string(v->get_string().c_str()) : std::string();
}

struct Case {
  std::string id;
  std::string name;  // gtest-safe
  json::object spec;
};

std::vector<Case> LoadCases() {
  std::vector<Case> out;
  if (!HaveData()) return out;
  boost::system::error_code ec;
  json::value doc = json::parse(ReadFile(kData + "/cases.json"), ec);
  if (ec || !doc.is_object()) return out;
  for (const json::value& c : doc.at("cases").get_array()) {
    const json::object& o = c.get_object();
    const json::value* network = o.if_contains("network");
    if (network && network->is_bool() && network->get_bool()) continue;
    Case k;
    k.id = Str(o, "id");
    for (char ch : k.id) k.name.push_back(std::isalnum(static_cast<unsigned char>(ch)) ? ch : '_');
    k.spec = o;
    out.push_back(std::move(k));
  }
  return out;
}

// Copies the model into `tmp` and applies the case's modifications; returns the copy.
std::string PrepareModel(const std::string& model, const json::object* mods,
                         const std::string& tmp) {
  const std::string copy = tmp + "/model";
  fs::copy(model, copy, fs::copy_options::recursive);
  if (mods == nullptr) return copy;
  if (const json::value* t = mods->if_contains("tamper")) {
    for (const auto& kv : t->get_object()) {
      WriteFile(copy + "/" + std::string(kv.key()), std::string(kv.value().get_string().c_str()));
    }
  }
  if (const json::value* d = mods->if_contains("delete")) {
    for (const json::value& p : d->get_array()) fs::remove(copy + "/" + p.get_string().c_str());
  }
  if (const json::value* i = mods->if_contains("inject")) {
    for (const auto& kv : i->get_object()) {
      WriteFile(copy + "/" + std::string(kv.key()), std::string(kv.value().get_string().c_str()));
    }
  }
  return copy;
}

struct Outcome {
  bool ran = false;  // false: an input error (Status) stopped verification
  VerifyResult result;
  std::string error;
};

// Runs a case spec; `bundle_override` replaces the bundle bytes when set.
Outcome RunSpec(const json::object& spec, const std::string* bundle_override = nullptr,
                const std::string* key_override = nullptr,
                const std::string* root_override = nullptr) {
  Outcome out;
  std::string method_name = Str(spec, "method");
  std::optional<Method> method = ParseMethod(method_name.empty() ? "key" : method_name);
  VerifyOptions opt;
  opt.method = *method;
  const json::object* verify = nullptr;
  if (const json::value* v = spec.if_contains("verify")) verify = v->if_object();
  if (verify != nullptr) {
    if (!Str(*verify, "public_key").empty()) {
      opt.public_key_pem = ReadFile(kData + "/" + Str(*verify, "public_key"));
    }
    if (const json::value* roots = verify->if_contains("trust_roots")) {
      for (const json::value& r : roots->get_array()) {
        opt.trust_roots_pem.push_back(ReadFile(kData + "/" + r.get_string().c_str()));
      }
    }
    if (const json::value* ign = verify->if_contains("ignore_paths")) {
      for (const json::value& p : ign->get_array()) opt.ignore_paths.emplace_back(p.get_string());
    }
    if (!Str(*verify, "trusted_root").empty()) {
      const std::string root = Str(*verify, "trusted_root");
      opt.trusted_root_json = ReadFile(root[0] == '/' ? root : kData + "/" + root);
    }
    opt.identity = Str(*verify, "identity");
    opt.issuer = Str(*verify, "issuer");
    if (const json::value* u = verify->if_contains("ignore_unsigned_files")) {
      opt.ignore_unsigned_files = u->as_bool();
    }
  }
  if (key_override) opt.public_key_pem = *key_override;
  if (root_override) opt.trust_roots_pem = {*root_override};
  // Cases without verifier inputs (malformed bundles) still get usable ones, so that what
  // fails is the bundle, not the inputs.
  if (opt.method == Method::kKey && opt.public_key_pem.empty()) {
    opt.public_key_pem = ReadFile(kData + "/keys/certificate/signing-key-pub.pem");
  }
  if (opt.method == Method::kSigstore && opt.trusted_root_json.empty()) {
    opt.trusted_root_json = ReadFile(kData + "/trust/sigstore-public-good/trusted_root.json");
    opt.identity = "stefanb@us.ibm.com";
    opt.issuer = "https://sigstore.verify.ibm.com/oauth2";
  }
  const std::string bundle_path = kData + "/" + Str(spec, "bundle");
  const std::string bundle = bundle_override ? *bundle_override : ReadFile(bundle_path);
  std::string model =
      Str(spec, "model").empty() ? kData + "/models/simple" : kData + "/" + Str(spec, "model");
  TempDir tmp;
  const json::value* mods = spec.if_contains("model_modifications");
  if (mods != nullptr) {
    model = PrepareModel(model, mods->if_object(), tmp.path());
    if (!Str(spec, "exclude_from_model").empty()) {
      opt.bundle_path = model + "/" + Str(spec, "exclude_from_model");
    }
  } else {
    opt.bundle_path = bundle_path;
  }
  absl::StatusOr<VerifyResult> r = Verify(bundle, model, opt);
  if (!r.ok()) {
    out.error = std::string(r.status().message());
    return out;
  }
  out.ran = true;
  out.result = *std::move(r);
  return out;
}

std::string Describe(const Outcome& o) {
  if (!o.ran) return StrCat("error: ", o.error);
  if (o.result.verified) return "pass";
  return StrCat("fail [", o.result.check, "] ", o.result.message);
}

class OmsConformance : public ::testing::TestWithParam<Case> {};

TEST_P(OmsConformance, MatchesExpectedOutcome) {
  const Case& c = GetParam();
  const Outcome o = RunSpec(c.spec);
  const std::string expect = Str(c.spec, "expect");
  std::printf("[oms-case] %s expect=%s got=%s\n", c.id.c_str(), expect.c_str(),
              Describe(o).c_str());
  // Every case comes with valid verifier inputs: the outcome is a verdict, never an error.
  ASSERT_TRUE(o.ran) << c.id << ": " << o.error;
  if (expect == "pass") {
    EXPECT_TRUE(o.result.verified) << c.id << ": " << Describe(o);
  } else {
    EXPECT_FALSE(o.result.verified) << c.id << ": " << Describe(o);
    EXPECT_FALSE(o.result.check.empty());
  }
}

std::vector<Case> AllCases() {
  static const std::vector<Case> cases = LoadCases();
  return cases;
}

INSTANTIATE_TEST_SUITE_P(Cases, OmsConformance, ::testing::ValuesIn(AllCases()),
                         [](const ::testing::TestParamInfo<Case>& p) { return p.param.name; });
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(OmsConformance);

TEST(OmsConformanceData, CasesArePresent) {
  if (!HaveData()) GTEST_SKIP() << "no conformance data at " << kData;
  EXPECT_GE(AllCases().size(), 30u);
}

// ----- Section C recipes: edits of valid/key.bundle.json on models/simple. -------------

json::object KeySpec() {
  return json::object{
      {"id", "recipe"},
      {"method", "key"},
      {"bundle", "test-vectors/v1.0/valid/key.bundle.json"},
      {"model", "models/simple"},
      {"verify", json::object{{"public_key", "keys/certificate/signing-key-pub.pem"}}}};
}

json::object KeyBundle() {
  return json::parse(ReadFile(kData + "/test-vectors/v1.0/valid/key.bundle.json")).as_object();
}

// Verifies `bundle` as the key case and expects failure at `check`.
void ExpectKeyFailure(const std::string& bundle, const std::string& check) {
  const Outcome o = RunSpec(KeySpec(), &bundle);
  std::printf("[oms-recipe] %s got=%s\n",
              ::testing::UnitTest::GetInstance()->current_test_info()->name(), Describe(o).c_str());
  ASSERT_TRUE(o.ran) << o.error;
  EXPECT_FALSE(o.result.verified);
  EXPECT_EQ(o.result.check, check) << o.result.message;
}

std::string EditPayload(const std::function<void(json::object&)>& edit) {
  json::object b = KeyBundle();
  json::object& env = b["dsseEnvelope"].as_object();
  std::string payload = *Base64Decode(env["payload"].as_string().c_str());
  json::object st = json::parse(payload).as_object();
  edit(st);
  env["payload"] = Base64Encode(json::serialize(st));
  return json::serialize(b);
}

#define REQUIRE_DATA() \
  if (!HaveData()) GTEST_SKIP() << "no conformance data at " << kData

TEST(OmsRecipes, ValidKeyBundleStillPassesAfterReserialization) {
  REQUIRE_DATA();
  const std::string bundle = json::serialize(KeyBundle());
  const Outcome o = RunSpec(KeySpec(), &bundle);
  ASSERT_TRUE(o.ran) << o.error;
  EXPECT_TRUE(o.result.verified) << Describe(o);
  EXPECT_EQ(o.result.files, (std::vector<std::string>{"signme-1", "signme-2"}));
}

TEST(OmsRecipes, WrongMediaTypeFails) {
  REQUIRE_DATA();
  json::object b = KeyBundle();
  b["mediaType"] = "application/json";
  ExpectKeyFailure(json::serialize(b), "bundle.media_type");
}

TEST(OmsRecipes, NoSignaturesFails) {
  REQUIRE_DATA();
  json::object b = KeyBundle();
  b["dsseEnvelope"].as_object()["signatures"] = json::array();
  ExpectKeyFailure(json::serialize(b), "bundle.schema");
}

TEST(OmsRecipes, WrongPayloadTypeFailsSignature) {
  REQUIRE_DATA();
  json::object b = KeyBundle();
  b["dsseEnvelope"].as_object()["payloadType"] = "application/json";
  ExpectKeyFailure(json::serialize(b), "dsse.signature");
}

TEST(OmsRecipes, EditedStatementTypeFails) {
  REQUIRE_DATA();
  ExpectKeyFailure(
      EditPayload([](json::object& st) { st["_type"] = "https://in-toto.io/Statement/v0.1"; }),
      "dsse.signature");
}

TEST(OmsRecipes, RemovedPredicateFails) {
  REQUIRE_DATA();
  ExpectKeyFailure(EditPayload([](json::object& st) { st.erase("predicate"); }), "dsse.signature");
}

TEST(OmsRecipes, EmptySubjectFails) {
  REQUIRE_DATA();
  ExpectKeyFailure(EditPayload([](json::object& st) { st["subject"] = json::array(); }),
                   "dsse.signature");
}

TEST(OmsRecipes, EmptyResourcesFails) {
  REQUIRE_DATA();
  ExpectKeyFailure(EditPayload([](json::object& st) {
                     st["predicate"].as_object()["resources"] = json::array();
                   }),
                   "dsse.signature");
}

TEST(OmsRecipes, CorruptedJsonFails) {
  REQUIRE_DATA();
  ExpectKeyFailure("{\"not\": \"valid json", "bundle.json");
}

TEST(OmsRecipes, TruncatedBundleFails) {
  REQUIRE_DATA();
  ExpectKeyFailure(ReadFile(kData + "/test-vectors/v1.0/valid/key.bundle.json").substr(0, 100),
                   "bundle.json");
}

TEST(OmsRecipes, WrongKeyFails) {
  REQUIRE_DATA();
  absl::StatusOr<KeyPair> other = GenerateKeyPair("P-384");
  ASSERT_TRUE(other.ok());
  const Outcome o = RunSpec(KeySpec(), nullptr, &other->public_key_pem);
  ASSERT_TRUE(o.ran) << o.error;
  EXPECT_FALSE(o.result.verified);
  EXPECT_EQ(o.result.check, "key.hint");
}

TEST(OmsRecipes, WrongKeyWithoutHintFailsSignature) {
  REQUIRE_DATA();
  json::object b = KeyBundle();
  b["verificationMaterial"].as_object()["publicKey"].as_object().erase("hint");
  const std::string bundle = json::serialize(b);
  absl::StatusOr<KeyPair> other = GenerateKeyPair("P-256");
  ASSERT_TRUE(other.ok());
  const Outcome o = RunSpec(KeySpec(), &bundle, &other->public_key_pem);
  ASSERT_TRUE(o.ran) << o.error;
  EXPECT_FALSE(o.result.verified);
  EXPECT_EQ(o.result.check, "dsse.signature");
}

TEST(OmsRecipes, CertificateWithWrongCaFails) {
  REQUIRE_DATA();
  testing::TestCert ca;
  testing::MintCert(&ca, "unrelated-ca", nullptr, /*ca=*/true);
  const std::string root = ca.CertPem();
  json::object spec{
      {"id", "recipe"},
      {"method", "certificate"},
      {"bundle", "test-vectors/v1.0/valid/certificate.bundle.json"},
      {"model", "models/simple"},
      {"verify", json::object{{"trust_roots", json::array{"keys/certificate/ca-cert.pem"}}}}};
  const Outcome good = RunSpec(spec);
  ASSERT_TRUE(good.ran) << good.error;
  EXPECT_TRUE(good.result.verified) << Describe(good);
  const Outcome o = RunSpec(spec, nullptr, nullptr, &root);
  ASSERT_TRUE(o.ran) << o.error;
  EXPECT_FALSE(o.result.verified);
  EXPECT_EQ(o.result.check, "certificate.chain");
}

TEST(OmsRecipes, IntermediateAsTrustAnchorAloneIsNotEnough) {
  REQUIRE_DATA();
  // Only the root is a trust anchor; trusting nothing but an unrelated leaf must fail.
  const std::string leaf = ReadFile(kData + "/keys/certificate/signing-key-cert.pem");
  json::object spec{{"id", "recipe"},
                    {"method", "certificate"},
                    {"bundle", "test-vectors/v1.0/valid/certificate.bundle.json"},
                    {"model", "models/simple"}};
  const Outcome o = RunSpec(spec, nullptr, nullptr, &leaf);
  ASSERT_TRUE(o.ran) << o.error;
  EXPECT_FALSE(o.result.verified);
}

TEST(OmsRecipes, LegacyV020NeedsItsFallbackEncoding) {
  REQUIRE_DATA();
  // The v0.2.0 bundle verifies only through LegacyPae; its payload must not verify under the
  // standard PAE (else the fallback would be untested).
  const std::string bundle = ReadFile(kData + "/historical/v0.2.0-certificate/model.sig");
  json::object b = json::parse(bundle).as_object();
  const std::string payload =
      *Base64Decode(b["dsseEnvelope"].as_object()["payload"].as_string().c_str());
  EXPECT_NE(Pae(kInTotoPayloadType, payload), LegacyPae(kInTotoPayloadType, payload));
  EXPECT_EQ(LegacyPae("t", "a'b\n\x01"), "DSSEV1 1 t 5 b\"a'b\\n\\x01\"");
  EXPECT_EQ(LegacyPae("t", "x\\y"), "DSSEV1 1 t 3 b'x\\\\y'");
}

TEST(OmsRecipes, KeyHintIsHashOfCanonicalPem) {
  REQUIRE_DATA();
  absl::StatusOr<std::string> hint =
      KeyHint(ReadFile(kData + "/keys/certificate/signing-key-pub.pem"));
  ASSERT_TRUE(hint.ok()) << hint.status();
  EXPECT_EQ(*hint, "e8450dec4eb99dae995da9af1bc2cc9f76ed669ee2e744f57abba763df3e3f8e");
}

TEST(OmsRecipes, SingleFileModelAcceptsBasenameAndDot) {
  REQUIRE_DATA();
  json::object spec{
      {"id", "recipe"},
      {"method", "key"},
      {"bundle", "historical/v1.0.0-elliptic-key/model.sig"},
      {"model", "historical/v1.0.0-elliptic-key/signme-1"},
      {"verify", json::object{{"public_key", "keys/certificate/signing-key-pub.pem"}}}};
  const Outcome dot = RunSpec(spec);
  ASSERT_TRUE(dot.ran) << dot.error;
  EXPECT_TRUE(dot.result.verified) << Describe(dot);
  // The same bundle against a different single file fails on the digest.
  spec["model"] = "models/simple/signme-2";
  const Outcome other = RunSpec(spec);
  ASSERT_TRUE(other.ran) << other.error;
  EXPECT_FALSE(other.result.verified);
  EXPECT_EQ(other.result.check, "model.changed");
}

// ----- Sigstore: edits of historical/v1.1.0-sigstore/model.sig or of the trust root. -----

json::object SigstoreSpec() {
  return json::object{
      {"id", "recipe"},
      {"method", "sigstore"},
      {"bundle", "historical/v1.1.0-sigstore/model.sig"},
      {"model", "historical/v1.1.0-sigstore"},
      {"exclude_from_model", "model.sig"},
      {"verify", json::object{{"trusted_root", "trust/sigstore-public-good/trusted_root.json"},
                              {"identity", "stefanb@us.ibm.com"},
                              {"issuer", "https://sigstore.verify.ibm.com/oauth2"},
                              {"ignore_paths", json::array{"ignore-me"}}}}};
}

json::object SigstoreBundle() {
  return json::parse(ReadFile(kData + "/historical/v1.1.0-sigstore/model.sig")).as_object();
}

json::object& Entry(json::object& b) {
  return b["verificationMaterial"].as_object()["tlogEntries"].as_array()[0].as_object();
}

// Flips one bit in the middle of a base64 field.
void FlipBase64(json::value& v) {
  std::string raw = *Base64Decode(v.as_string().c_str());
  raw[raw.size() / 2] ^= 1;
  v = Base64Encode(raw);
}

void ExpectSigstoreFailure(const json::object& bundle, const std::string& check) {
  const std::string text = json::serialize(bundle);
  const Outcome o = RunSpec(SigstoreSpec(), &text);
  std::printf("[oms-recipe] %s got=%s\n",
              ::testing::UnitTest::GetInstance()->current_test_info()->name(), Describe(o).c_str());
  ASSERT_TRUE(o.ran) << o.error;
  EXPECT_FALSE(o.result.verified);
  EXPECT_EQ(o.result.check, check) << o.result.message;
}

TEST(OmsSigstore, UnmodifiedBundlePasses) {
  REQUIRE_DATA();
  const std::string text = json::serialize(SigstoreBundle());
  const Outcome o = RunSpec(SigstoreSpec(), &text);
  ASSERT_TRUE(o.ran) << o.error;
  EXPECT_TRUE(o.result.verified) << Describe(o);
}

TEST(OmsSigstore, TamperedSignedEntryTimestampFails) {
  REQUIRE_DATA();
  json::object b = SigstoreBundle();
  FlipBase64(Entry(b)["inclusionPromise"].as_object()["signedEntryTimestamp"]);
  ExpectSigstoreFailure(b, "sigstore.tlog");
}

TEST(OmsSigstore, ChangedIntegratedTimeFailsTheSet) {
  REQUIRE_DATA();
  json::object b = SigstoreBundle();
  Entry(b)["integratedTime"] = "1760062341";
  ExpectSigstoreFailure(b, "sigstore.tlog");
}

TEST(OmsSigstore, TamperedInclusionProofHashFails) {
  REQUIRE_DATA();
  json::object b = SigstoreBundle();
  FlipBase64(Entry(b)["inclusionProof"].as_object()["hashes"].as_array()[0]);
  ExpectSigstoreFailure(b, "sigstore.tlog");
}

TEST(OmsSigstore, TamperedCheckpointSignatureFails) {
  REQUIRE_DATA();
  json::object b = SigstoreBundle();
  json::object& cp = Entry(b)["inclusionProof"].as_object()["checkpoint"].as_object();
  std::string note(cp["envelope"].as_string().c_str());
  const size_t sp = note.rfind(' ');
  note[sp + 10] = note[sp + 10] == 'A' ? 'B' : 'A';
  cp["envelope"] = note;
  ExpectSigstoreFailure(b, "sigstore.tlog");
}

TEST(OmsSigstore, SignatureNotRecordedInTheLogFails) {
  REQUIRE_DATA();
  // A different (valid-looking) DSSE signature: the log entry no longer binds the bundle.
  json::object b = SigstoreBundle();
  FlipBase64(b["dsseEnvelope"].as_object()["signatures"].as_array()[0].as_object()["sig"]);
  ExpectSigstoreFailure(b, "sigstore.binding");
}

TEST(OmsSigstore, TrustRootWithoutFulcioCaFails) {
  REQUIRE_DATA();
  json::object root =
      json::parse(ReadFile(kData + "/trust/sigstore-public-good/trusted_root.json")).as_object();
  root["certificateAuthorities"] = json::array();
  TempDir tmp;
  WriteFile(tmp.path() + "/root.json", json::serialize(root));
  json::object spec = SigstoreSpec();
  spec["verify"].as_object()["trusted_root"] = tmp.path() + "/root.json";
  const Outcome o = RunSpec(spec);
  ASSERT_TRUE(o.ran) << o.error;
  EXPECT_FALSE(o.result.verified);
  EXPECT_EQ(o.result.check, "certificate.chain") << o.result.message;
}

TEST(OmsSigstore, TrustRootWithoutRekorKeyFails) {
  REQUIRE_DATA();
  json::object root =
      json::parse(ReadFile(kData + "/trust/sigstore-public-good/trusted_root.json")).as_object();
  root["tlogs"] = json::array();
  TempDir tmp;
  WriteFile(tmp.path() + "/root.json", json::serialize(root));
  json::object spec = SigstoreSpec();
  spec["verify"].as_object()["trusted_root"] = tmp.path() + "/root.json";
  const Outcome o = RunSpec(spec);
  ASSERT_TRUE(o.ran) << o.error;
  EXPECT_FALSE(o.result.verified);
  EXPECT_EQ(o.result.check, "sigstore.tlog") << o.result.message;
}

TEST(OmsSigstore, TamperedRfc3161TimestampFails) {
  REQUIRE_DATA();
  json::object b = SigstoreBundle();
  json::object& tvd =
      b["verificationMaterial"].as_object()["timestampVerificationData"].as_object();
  json::value& stamp = tvd["rfc3161Timestamps"].as_array()[0].as_object()["signedTimestamp"];
  // The last bytes are the TSA's signature.
  std::string raw = *Base64Decode(stamp.as_string().c_str());
  raw[raw.size() - 8] ^= 1;
  stamp = Base64Encode(raw);
  ExpectSigstoreFailure(b, "sigstore.timestamp");
}

TEST(OmsSigstore, TrustRootWithoutTimestampAuthorityFailsTheTimestamp) {
  REQUIRE_DATA();
  json::object root =
      json::parse(ReadFile(kData + "/trust/sigstore-public-good/trusted_root.json")).as_object();
  root["timestampAuthorities"] = json::array();
  TempDir tmp;
  WriteFile(tmp.path() + "/root.json", json::serialize(root));
  json::object spec = SigstoreSpec();
  spec["verify"].as_object()["trusted_root"] = tmp.path() + "/root.json";
  const Outcome o = RunSpec(spec);
  ASSERT_TRUE(o.ran) << o.error;
  EXPECT_FALSE(o.result.verified);
  EXPECT_EQ(o.result.check, "sigstore.timestamp") << o.result.message;
}

TEST(OmsSigstore, MissingIdentityIsAnInputError) {
  REQUIRE_DATA();
  json::object spec = SigstoreSpec();
  spec["verify"].as_object()["identity"] = "";
  const Outcome o = RunSpec(spec);
  EXPECT_FALSE(o.ran);
}

}  // namespace
}  // namespace rampart::supply::oms
