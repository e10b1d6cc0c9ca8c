#include "server/generation.h"

#include <map>

#include "common/strings.h"
#include "detectors/scanner.h"
#include "stages/registry.h"

namespace rampart::server {

absl::StatusOr<std::shared_ptr<const Generation>> Generation::Build(
    std::shared_ptr<const config::Config> config, const std::string& rules_dir,
    pipeline::Metrics* metrics, state::Store* state, uint64_t number,
    approvals::ApprovalStore* approvals) {
  auto g = std::shared_ptr<Generation>(new Generation());
  g->config_ = config;
  g->id_ = StrCat(number);
  auto tls = TlsContexts::Build(*config);
  if (!tls.ok())
    return absl::InvalidArgumentError(StrCat(config->source, ": ", tls.status().message()));
  g->tls_ = std::move(*tls);
  std::string rules = config->server.rules_dir.empty() ? rules_dir : config->server.rules_dir;
  std::map<std::string, std::shared_ptr<const detectors::Scanner>> by_policy;
  auto scanner =
      [&](const std::string& policy) -> absl::StatusOr<std::shared_ptr<const detectors::Scanner>> {
    auto it = by_policy.find(policy);
    if (it != by_policy.end()) return it->second;
    auto s = detectors::Scanner::FromFiles(rules, policy);
    if (!s.ok()) return s.status();
    std::shared_ptr<const detectors::Scanner> shared(std::move(*s));
    by_policy[policy] = shared;
    g->scanners_.push_back(shared);
    return shared;
  };
  for (const auto& rc : config->routes) {
    Route r;
    r.config = &rc;
    r.upstream = config->FindUpstream(rc.upstream);
    pipeline::StageBuildContext ctx;
    ctx.config = config.get();
    ctx.route = &rc;
    ctx.metrics = metrics;
    ctx.state = state;
    ctx.approvals = approvals;
    ctx.scanner = scanner;
    auto p = pipeline::Pipeline::Build(stages::Registry(), ctx);
    if (!p.ok())
      return absl::InvalidArgumentError(StrCat(config->source, ": ", p.status().message()));
    r.pipeline = std::move(*p);
    if (metrics != nullptr) {
      r.added_latency = metrics->Hist(
          "rampart_added_latency_seconds", StrCat("route=\"", pipeline::LabelValue(rc.name), "\""),
          "Time the gateway itself spent on a forwarded, non-streamed exchange: from the request "
          "read to the response written, less the wait for the upstream's answer");
    }
    g->routes_.push_back(std::move(r));
  }
  return std::shared_ptr<const Generation>(std::move(g));
}

const Route* Generation::Match(std::string_view path) const {
  const Route* best = nullptr;
  size_t best_len = 0;
  for (const auto& r : routes_) {
    const std::string& p = r.config->path_prefix;
    if (path.substr(0, p.size()) != p) continue;
    bool boundary = path.size() == p.size() || p.back() == '/' || path[p.size()] == '/';
    if (!boundary) continue;
    if (best == nullptr || p.size() > best_len) {
      best = &r;
      best_len = p.size();
    }
  }
  return best;
}

}  // namespace rampart::server
