#include "stages/role_isolation/role_isolation.h"

#include <algorithm>
#include <boost/json.hpp>

#include "common/strings.h"
#include "config/field_reader.h"
#include "detectors/role_markers.h"
#include "stages/common/message_texts.h"
#include "stages/common/scan_support.h"

namespace rampart::stages {
namespace {

struct RoleIsolationOptions {
  bool block = false;
  std::vector<std::string> roles = {"user", "tool", "function"};
  int block_status = 400;
};

class RoleIsolationFactory : public pipeline::StageFactory {
 public:
  RoleIsolationFactory(RoleIsolationOptions opts, pipeline::Metrics* metrics)
      : opts_(std::move(opts)), metrics_(metrics) {}
  std::unique_ptr<pipeline::Stage> Create() const override;

  RoleIsolationOptions opts_;
  pipeline::Metrics* metrics_;
};

// A special token (not a line label such as "System:") that opens a system turn.
bool OpensSystemTurn(std::string_view text, const detectors::RoleMarker& m) {
  return m.system && m.end > m.begin && text[m.end - 1] != ':';
}

Finding MarkerFinding(const detectors::RoleMarker& m) {
  Finding f;
  f.detector = "role_markers";
  f.rule = StrCat("role.", m.family);
  f.category = Category::kRoleInjection;
  f.severity = m.system ? Severity::kHigh : Severity::kMedium;
  f.score = 1.0f;
  f.span = Span{static_cast<uint32_t>(m.begin), static_cast<uint32_t>(m.end)};
  return f;
}

class RoleIsolation : public pipeline::Stage {
 public:
  explicit RoleIsolation(const RoleIsolationFactory& f) : f_(f) {}

  absl::StatusOr<pipeline::Decision> OnRequest(pipeline::Exchange& ex) override {
    const auto& roles = f_.opts_.roles;
    pipeline::Decision out;
    for (auto& t : MessageTexts(ex)) {
      if (std::find(roles.begin(), roles.end(), t.role) == roles.end()) continue;
      std::string_view text(t.ref.text->data(), t.ref.text->size());
      std::vector<detectors::RoleMarker> markers = detectors::FindRoleMarkers(text);
      if (markers.empty()) continue;
      Verdict v;
      bool opens_system = false;
      for (const auto& m : markers) {
        v.findings.push_back(MarkerFinding(m));
        opens_system = opens_system || OpensSystemTurn(text, m);
      }
      RecordFindings(v, "request", t.ref.pointer, ex, f_.metrics_);
      if (f_.opts_.block && opens_system) {
        return pipeline::Decision::Block(f_.opts_.block_status, "role_isolation.blocked",
                                         BlockMessage("role_isolation.blocked", false));
      }
      *t.ref.text = detectors::NeutralizeRoleMarkers(text, nullptr);
      out.action = Action::kRedact;
      out.reason = "role_isolation.neutralized";
    }
    return out;
  }

 private:
  const RoleIsolationFactory& f_;
};

std::unique_ptr<pipeline::Stage> RoleIsolationFactory::Create() const {
  return pipeline::MakeStage<RoleIsolation>(*this);
}

}  // namespace

absl::StatusOr<std::unique_ptr<pipeline::StageFactory>> BuildRoleIsolation(
    const pipeline::StageBuildContext& ctx, const config::StageConfig& stage) {
  auto r = config::FieldReader::Open(stage.config, config::JoinPath(stage.path, "config"));
  if (!r.ok()) return r.status();
  RoleIsolationOptions opts;
  std::string action = "neutralize";
  uint64_t status = 400;
  if (auto st = r->Enum("action", {"neutralize", "block"}, &action); !st.ok()) return st;
  if (auto st = r->StringList("roles", &opts.roles); !st.ok()) return st;
  if (auto st = r->Uint("block_status", &status, 400, 599); !st.ok()) return st;
  if (auto st = r->Finish(); !st.ok()) return st;
  if (opts.roles.empty()) return config::FieldError(r->Path("roles"), "must not be empty");
  for (const auto& role : opts.roles) {
    if (role == "system" || role == "developer") {
      return config::FieldError(
          r->Path("roles"),
          StrCat("'", role, "' is the operator's prompt and is never rewritten; remove it"));
    }
  }
  opts.block = action == "block";
  opts.block_status = static_cast<int>(status);
  return std::make_unique<RoleIsolationFactory>(std::move(opts), ctx.metrics);
}

}  // namespace rampart::stages
