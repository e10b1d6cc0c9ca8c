#include "stages/auth/auth.h"

#include <algorithm>
#include <unordered_map>

#include "common/crypto.h"
#include "config/field_reader.h"

namespace rampart::stages {
namespace {

class AuthFactory : public pipeline::StageFactory {
 public:
  std::unique_ptr<pipeline::Stage> Create() const override;
  std::unordered_map<std::string, const config::Principal*> by_hash;
  std::string route;
};

class Auth : public pipeline::Stage {
 public:
  explicit Auth(const AuthFactory& f) : f_(f) {}
  absl::StatusOr<pipeline::Decision> OnRequest(pipeline::Exchange& ex) override {
    constexpr std::string_view kBearer = "Bearer ";
    std::string_view h = ex.authorization;
    if (h.size() <= kBearer.size() || h.substr(0, kBearer.size()) != kBearer) {
      return pipeline::Decision::Block(401, "auth.missing_key",
                                       "an API key is required (Authorization: Bearer <key>)");
    }
    std::string_view key = h.substr(kBearer.size());
    auto it = f_.by_hash.find(ToHex(Sha256(key)));
    if (it == f_.by_hash.end()) {
      return pipeline::Decision::Block(401, "auth.invalid_key", "the API key is not valid");
    }
    const config::Principal& p = *it->second;
    ex.principal = &p;
    ex.record.principal = p.name;
    if (!p.routes.empty() &&
        std::find(p.routes.begin(), p.routes.end(), f_.route) == p.routes.end()) {
      return pipeline::Decision::Block(403, "auth.route_forbidden",
                                       "this API key may not use this route");
    }
    // A model scope applies to every request with a body (one without "model" is refused);
    // body-less calls such as GET /v1/models carry no model.
    bool names_model = !ex.model.empty() || !ex.request.is_null();
    if (!p.models.empty() && names_model &&
        std::find(p.models.begin(), p.models.end(), ex.model) == p.models.end()) {
      return pipeline::Decision::Block(403, "auth.model_forbidden",
                                       "this API key may not use this model");
    }
    return pipeline::Decision::Continue();
  }

 private:
  const AuthFactory& f_;
};

std::unique_ptr<pipeline::Stage> AuthFactory::Create() const {
  return pipeline::MakeStage<Auth>(*this);
}

}  // namespace

absl::StatusOr<std::unique_ptr<pipeline::StageFactory>> BuildAuth(
    const pipeline::StageBuildContext& ctx, const config::StageConfig& stage) {
  auto r = config::FieldReader::Open(stage.config, config::JoinPath(stage.path, "config"));
  if (!r.ok()) return r.status();
  if (auto st = r->Finish(); !st.ok()) return st;
  auto f = std::make_unique<AuthFactory>();
  f->route = ctx.route->name;
  for (const auto& p : ctx.config->principals) {
    for (const auto& h : p.key_sha256) f->by_hash[h] = &p;
  }
  if (f->by_hash.empty()) {
    return config::FieldError(stage.path, "auth needs at least one principal with a key");
  }
  return f;
}

}  // namespace rampart::stages
