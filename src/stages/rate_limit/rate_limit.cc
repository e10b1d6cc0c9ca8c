#include "stages/rate_limit/rate_limit.h"

#include "common/strings.h"
#include "config/field_reader.h"
#include "state/store.h"

namespace rampart::stages {
namespace {

class RateLimitFactory : public pipeline::StageFactory {
 public:
  std::unique_ptr<pipeline::Stage> Create() const override;
  state::Store* store = nullptr;
  std::string route;
  uint64_t requests = 60;
  uint64_t tokens = 0;
  uint64_t window_s = 60;
  bool per_principal = true;
  bool per_ip = true;
};

class RateLimit : public pipeline::Stage {
 public:
  explicit RateLimit(const RateLimitFactory& f) : f_(f) {}
  absl::StatusOr<pipeline::Decision> OnRequest(pipeline::Exchange& ex) override {
    std::vector<std::string> keys;
    if (f_.per_principal && ex.principal != nullptr)
      keys.push_back(StrCat("p:", ex.principal->name));
    if (f_.per_ip) keys.push_back(StrCat("ip:", ex.client_ip));
    for (const auto& k : keys) {
      if (f_.requests > 0) {
        auto r = f_.store->Take(StrCat("rl:req:", f_.route, ":", k), f_.requests,
                                static_cast<double>(f_.requests) / f_.window_s, 1);
        if (!r.ok()) return r.status();
        if (!r->allowed) return Refuse("rate_limit.requests", "request", r->retry_after_s);
      }
      if (f_.tokens > 0) {
        auto r = f_.store->Take(StrCat("rl:tok:", f_.route, ":", k), f_.tokens,
                                static_cast<double>(f_.tokens) / f_.window_s,
                                static_cast<double>(ex.approx_tokens));
        if (!r.ok()) return r.status();
        if (!r->allowed) return Refuse("rate_limit.tokens", "token", r->retry_after_s);
      }
    }
    return pipeline::Decision::Continue();
  }

 private:
  static pipeline::Decision Refuse(const char* reason, const char* what, uint32_t retry) {
    auto d = pipeline::Decision::Block(
        429, reason, StrCat("the ", what, " rate limit is exceeded; retry later"));
    d.retry_after_s = retry;
    return d;
  }
  const RateLimitFactory& f_;
};

std::unique_ptr<pipeline::Stage> RateLimitFactory::Create() const {
  return pipeline::MakeStage<RateLimit>(*this);
}

}  // namespace

absl::StatusOr<std::unique_ptr<pipeline::StageFactory>> BuildRateLimit(
    const pipeline::StageBuildContext& ctx, const config::StageConfig& stage) {
  auto r = config::FieldReader::Open(stage.config, config::JoinPath(stage.path, "config"));
  if (!r.ok()) return r.status();
  auto f = std::make_unique<RateLimitFactory>();
  if (auto st = r->Uint("requests_per_window", &f->requests, 0, 1'000'000'000); !st.ok()) return st;
  if (auto st = r->Uint("tokens_per_window", &f->tokens, 0, 1'000'000'000'000); !st.ok()) return st;
  if (auto st = r->Uint("window_s", &f->window_s, 1, 86400 * 31); !st.ok()) return st;
  std::vector<std::string> per = {"principal", "ip"};
  if (auto st = r->StringList("per", &per); !st.ok()) return st;
  if (auto st = r->Finish(); !st.ok()) return st;
  f->per_principal = f->per_ip = false;
  for (size_t i = 0; i < per.size(); ++i) {
    if (per[i] == "principal") {
      f->per_principal = true;
    } else if (per[i] == "ip") {
      f->per_ip = true;
    } else {
      return config::FieldError(StrCat(r->Path("per"), "[", i, "]"), "must be principal or ip");
    }
  }
  if (f->requests == 0 && f->tokens == 0) {
    return config::FieldError(r->path(), "set requests_per_window or tokens_per_window");
  }
  f->store = ctx.state;
  f->route = ctx.route->name;
  if (f->store == nullptr) return absl::InternalError("rate_limit: no state store");
  return f;
}

}  // namespace rampart::stages
