// The spec's JSON Schemas (draft 2020-12) applied with valijson to every conformance case that
// has an `expect_schema`: the bundle schema on the file, then the statement schema on the
// decoded payload (skipped for the deprecated Digests/v0.1 predicate, as the spec's tool
// does). This checks how far valijson gets with these schemas; the verifier itself enforces
// the same structure in code (docs/signing.md). Skipped without the conformance data.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <filesystem>
#include <map>
#include <string>
#include <valijson/adapters/boost_json_adapter.hpp>
#include <valijson/schema.hpp>
#include <valijson/schema_parser.hpp>
#include <valijson/validator.hpp>

#include "supply/oms.h"
#include "supply/oms_test_pki.h"

namespace rampart::supply::oms {
namespace {

namespace json = boost::json;
using testing::ReadFile;

const std::string kData = RAMPART_OMS_DATA_DIR;

class Schemas {
 public:
  Schemas() {
    for (const char* name : {"bundle", "envelope", "statement", "predicate"}) {
      docs_[std::string("https://model_signing/") + name + "/v1.0/schema"] =
          json::parse(ReadFile(kData + "/schemas/v1.0/" + name + ".schema.json"));
    }
    Load("https://model_signing/bundle/v1.0/schema", &bundle_);
    Load("https://model_signing/statement/v1.0/schema", &statement_);
  }
  bool ValidBundle(const json::value& v) const { return Validate(bundle_, v); }
  bool ValidStatement(const json::value& v) const { return Validate(statement_, v); }

 private:
  void Load(const std::string& id, valijson::Schema* schema) {
    valijson::SchemaParser parser(valijson::SchemaParser::kDraft7);
    valijson::adapters::BoostJsonAdapter adapter(docs_.at(id));
    auto fetch = [this](const std::string& uri) -> const json::value* {
      auto it = docs_.find(uri);
      return it == docs_.end() ? nullptr : new json::value(it->second);
    };
    auto free_doc = [](const json::value* d) { delete d; };
    parser.populateSchema(adapter, *schema, fetch, free_doc);
  }
  static bool Validate(const valijson::Schema& schema, const json::value& v) {
    valijson::Validator validator;
    valijson::adapters::BoostJsonAdapter adapter(v);
    return validator.validate(schema, adapter, nullptr);
  }
  std::map<std::string, json::value> docs_;
  valijson::Schema bundle_;
  valijson::Schema statement_;
};

TEST(OmsSchema, ValijsonAgreesWithEveryExpectSchema) {
  if (!std::filesystem::exists(kData + "/cases.json")) GTEST_SKIP() << "no conformance data";
  const Schemas schemas;
  const json::value cases = json::parse(ReadFile(kData + "/cases.json"));
  int checked = 0;
  for (const json::value& c : cases.at("cases").as_array()) {
    const json::object& o = c.as_object();
    const json::value* expect = o.if_contains("expect_schema");
    if (expect == nullptr) continue;
    const std::string id(o.at("id").as_string().c_str());
    const bool want_pass = std::string(expect->as_string().c_str()).rfind("pass", 0) == 0;
    const std::string text = ReadFile(kData + "/" + o.at("bundle").as_string().c_str());
    boost::system::error_code ec;
    const json::value bundle = json::parse(text, ec);
    bool pass = !ec && schemas.ValidBundle(bundle);
    if (pass) {
      const std::string payload =
          *Base64Decode(bundle.at("dsseEnvelope").at("payload").as_string().c_str());
      const json::value statement = json::parse(payload);
      if (statement.at("predicateType").as_string() != kLegacyPredicateType) {
        pass = schemas.ValidStatement(statement);
      }
    }
    std::printf("[oms-schema] %s expect=%s got=%s\n", id.c_str(), want_pass ? "pass" : "reject",
                pass ? "pass" : "reject");
    EXPECT_EQ(pass, want_pass) << id;
    ++checked;
  }
  EXPECT_EQ(checked, 21);
}

}  // namespace
}  // namespace rampart::supply::oms
