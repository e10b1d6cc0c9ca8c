#include "stages/schema/schema.h"

#include <boost/json.hpp>
#include <valijson/adapters/boost_json_adapter.hpp>
#include <valijson/schema.hpp>
#include <valijson/schema_parser.hpp>
#include <valijson/validation_results.hpp>
#include <valijson/validator.hpp>

#include "common/file.h"
#include "common/strings.h"
#include "config/field_reader.h"

namespace rampart::stages {
namespace {

constexpr size_t kMaxSchemaBytes = 4u << 20;

bool PlainIdentifier(const std::string& s) {
  if (s.empty() || s.size() > 64) return false;
  for (char c : s) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '[' || c == ']' ||
          c == '$' || c == '-')) {
      return false;
    }
  }
  return true;
}

class SchemaFactory : public pipeline::StageFactory {
 public:
  std::unique_ptr<pipeline::Stage> Create() const override;
  boost::json::value doc;  // keeps the schema's strings alive for valijson
  valijson::Schema schema;
};

class SchemaStage : public pipeline::Stage {
 public:
  explicit SchemaStage(const SchemaFactory& f) : f_(f) {}
  absl::StatusOr<pipeline::Decision> OnRequest(pipeline::Exchange& ex) override {
    valijson::Validator validator;
    valijson::ValidationResults results;
    valijson::adapters::BoostJsonAdapter target(ex.request);
    bool ok = false;
    try {
      ok = validator.validate(f_.schema, target, &results);
    } catch (const std::exception&) {
      return absl::InternalError("schema validation failed");
    }
    if (ok) return pipeline::Decision::Continue();
    std::string where;
    valijson::ValidationResults::Error err;
    if (results.popError(err)) {
      std::vector<std::string> parts;
      for (const auto& c : err.context) {
        if (!PlainIdentifier(c)) {
          parts.clear();
          break;
        }
        parts.push_back(c);
      }
      if (!parts.empty()) where = StrCat(" at ", StrJoin(parts, ""));
    }
    return pipeline::Decision::Block(400, "schema.invalid",
                                     StrCat("the request body does not match the schema", where));
  }

 private:
  const SchemaFactory& f_;
};

std::unique_ptr<pipeline::Stage> SchemaFactory::Create() const {
  return pipeline::MakeStage<SchemaStage>(*this);
}

}  // namespace

absl::StatusOr<std::unique_ptr<pipeline::StageFactory>> BuildSchema(
    const pipeline::StageBuildContext& ctx, const config::StageConfig& stage) {
  (void)ctx;
  auto r = config::FieldReader::Open(stage.config, config::JoinPath(stage.path, "config"));
  if (!r.ok()) return r.status();
  std::string file;
  if (auto st = r->String("schema_file", &file); !st.ok()) return st;
  const boost::json::value* inline_schema = r->Get("schema");
  if (auto st = r->Finish(); !st.ok()) return st;
  auto f = std::make_unique<SchemaFactory>();
  if (file.empty() == (inline_schema == nullptr)) {
    return config::FieldError(r->path(), "set exactly one of schema_file and schema");
  }
  if (inline_schema != nullptr) {
    f->doc = *inline_schema;
  } else {
    auto text = ReadFileBounded(file, kMaxSchemaBytes);
    if (!text.ok())
      return config::FieldError(r->Path("schema_file"), std::string(text.status().message()));
    boost::system::error_code ec;
    f->doc = boost::json::parse(*text, ec);
    if (ec)
      return config::FieldError(r->Path("schema_file"), StrCat("invalid JSON: ", ec.message()));
  }
  if (!f->doc.is_object()) return config::FieldError(r->path(), "the schema must be a JSON object");
  try {
    valijson::SchemaParser parser;
    valijson::adapters::BoostJsonAdapter adapter(f->doc);
    parser.populateSchema(adapter, f->schema);
  } catch (const std::exception& e) {
    return config::FieldError(r->path(), StrCat("invalid JSON Schema: ", e.what()));
  }
  return f;
}

}  // namespace rampart::stages
