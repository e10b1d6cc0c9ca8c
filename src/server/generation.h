// Generation: everything built from one validated config — routes with their pipelines and
// the scanners they share. Immutable once built and shared by every exchange that started
// under it; reload builds a whole new one and swaps it in, so a bad config changes nothing.
//
// Thread safety: immutable; share through std::shared_ptr<const Generation>.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "config/config.h"
#include "pipeline/metrics.h"
#include "pipeline/runner.h"
#include "server/tls.h"

namespace rampart::detectors {
class Scanner;
}
namespace rampart::state {
class Store;
}
namespace rampart::approvals {
class ApprovalStore;
}

namespace rampart::server {

struct Route {
  const config::RouteConfig* config = nullptr;
  const config::UpstreamConfig* upstream = nullptr;
  std::unique_ptr<pipeline::Pipeline> pipeline;
  // rampart_added_latency_seconds{route}: the gateway's own time on each forwarded,
  // non-streamed exchange (see server.cc). Null without a metrics registry.
  pipeline::Histogram* added_latency = nullptr;
};

class Generation {
 public:
  // Builds every route's pipeline. `rules_dir` is used when the config has no rules_dir.
  // `approvals` (may be null) is where tool_policy's held calls wait; it outlives the generation.
  static absl::StatusOr<std::shared_ptr<const Generation>> Build(
      std::shared_ptr<const config::Config> config, const std::string& rules_dir,
      pipeline::Metrics* metrics, state::Store* state, uint64_t number,
      approvals::ApprovalStore* approvals = nullptr);

  // The route whose path prefix is the longest match of `path` (at a '/' boundary or the
  // whole path), or nullptr.
  const Route* Match(std::string_view path) const;

  const config::Config& config() const { return *config_; }
  const std::string& id() const { return id_; }
  // The TLS contexts of this config (listener, https:// upstreams).
  const TlsContexts& tls() const { return *tls_; }

 private:
  std::shared_ptr<const config::Config> config_;
  std::vector<std::shared_ptr<const detectors::Scanner>> scanners_;
  std::vector<Route> routes_;
  std::shared_ptr<const TlsContexts> tls_;
  std::string id_;
};

}  // namespace rampart::server
