#include "stages/data_exposure/data_exposure.h"

#include <algorithm>
#include <boost/json.hpp>
#include <cctype>

#include "common/strings.h"
#include "config/field_reader.h"
#include "stages/common/message_texts.h"
#include "stages/common/scan_support.h"

namespace rampart::stages {
namespace {

struct DataExposureOptions {
  bool allow_pii = false;
  bool allow_secret = false;
  std::vector<std::string> allow_rules;  // exact rule ids
  bool redact = false;
  int block_status = 403;
  std::string policy;
};

class DataExposureFactory : public pipeline::StageFactory {
 public:
  DataExposureFactory(DataExposureOptions opts, std::shared_ptr<const detectors::Scanner> scanner,
                      pipeline::Metrics* metrics)
      : opts_(std::move(opts)), pool_(std::move(scanner)), metrics_(metrics) {}
  std::unique_ptr<pipeline::Stage> Create() const override;

  DataExposureOptions opts_;
  mutable ContextPool pool_;
  pipeline::Metrics* metrics_;
};

bool Leaves(const DataExposureOptions& o, const Finding& f) {
  if (f.category == Category::kPii) {
    if (o.allow_pii) return false;
  } else if (f.category == Category::kSecret) {
    if (o.allow_secret) return false;
  } else {
    return false;  // injection and the like are not this stage's business
  }
  return std::find(o.allow_rules.begin(), o.allow_rules.end(), f.rule) == o.allow_rules.end();
}

// "[LABEL]" for a finding: its own label, else the rule id's last part in upper case.
std::string LabelOf(const Finding& f) {
  std::string label = f.label;
  if (label.empty()) {
    size_t dot = f.rule.rfind('.');
    label = f.rule.substr(dot == std::string::npos ? 0 : dot + 1);
    for (char& c : label) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  return StrCat("[", label, "]");
}

// Replaces each span (sorted by begin; overlaps merged, the first label kept).
std::string ReplaceSpans(std::string_view text, const std::vector<Finding>& findings) {
  std::string out;
  size_t pos = 0;
  for (const Finding& f : findings) {
    size_t b = std::min<size_t>(f.span.begin, text.size());
    size_t e = std::min<size_t>(f.span.end, text.size());
    if (e <= pos) continue;
    if (b < pos) {
      pos = e;  // overlaps the previous span: extend it
      continue;
    }
    out.append(text.substr(pos, b - pos));
    out += LabelOf(f);
    pos = e;
  }
  out.append(text.substr(pos));
  return out;
}

class DataExposure : public pipeline::Stage {
 public:
  explicit DataExposure(const DataExposureFactory& f) : f_(f) {}

  absl::StatusOr<pipeline::Decision> OnRequest(pipeline::Exchange& ex) override {
    pipeline::Decision out;
    auto texts = MessageTexts(ex);
    if (texts.empty()) return out;
    auto ctx = f_.pool_.Acquire();
    std::vector<Finding> all;
    for (auto& t : texts) {
      std::string_view s(t.ref.text->data(), t.ref.text->size());
      all.clear();
      if (auto st = f_.pool_.scanner().CollectFindings(s, *ctx, "", all); !st.ok()) return st;
      Verdict v;
      for (auto& fd : all) {
        if (Leaves(f_.opts_, fd)) v.findings.push_back(std::move(fd));
      }
      if (v.findings.empty()) continue;
      std::sort(v.findings.begin(), v.findings.end(),
                [](const Finding& a, const Finding& b) { return a.span.begin < b.span.begin; });
      RecordFindings(v, "request", t.ref.pointer, ex, f_.metrics_);
      if (!f_.opts_.redact) {
        return pipeline::Decision::Block(f_.opts_.block_status, "data_exposure.blocked",
                                         "the request holds data that may not be sent to this "
                                         "provider (data_exposure.blocked)");
      }
      *t.ref.text = ReplaceSpans(s, v.findings);
      out.action = Action::kRedact;
      out.reason = "data_exposure.redacted";
    }
    return out;
  }

 private:
  const DataExposureFactory& f_;
};

std::unique_ptr<pipeline::Stage> DataExposureFactory::Create() const {
  return pipeline::MakeStage<DataExposure>(*this);
}

}  // namespace

absl::StatusOr<std::unique_ptr<pipeline::StageFactory>> BuildDataExposure(
    const pipeline::StageBuildContext& ctx, const config::StageConfig& stage) {
  auto r = config::FieldReader::Open(stage.config, config::JoinPath(stage.path, "config"));
  if (!r.ok()) return r.status();
  DataExposureOptions opts;
  std::vector<std::string> allow;
  std::string action = "block";
  uint64_t status = 403;
  if (auto st = r->StringList("allow", &allow); !st.ok()) return st;
  if (auto st = r->Enum("action", {"block", "redact"}, &action); !st.ok()) return st;
  if (auto st = r->Uint("block_status", &status, 400, 599); !st.ok()) return st;
  if (auto st = r->String("policy", &opts.policy); !st.ok()) return st;
  if (auto st = r->Finish(); !st.ok()) return st;
  opts.redact = action == "redact";
  opts.block_status = static_cast<int>(status);

  const config::UpstreamConfig* up = nullptr;
  if (ctx.config != nullptr && ctx.route != nullptr)
    up = ctx.config->FindUpstream(ctx.route->upstream);
  if (up == nullptr || !up->external) {
    return config::FieldError(stage.path,
                              StrCat("data_exposure acts only on routes to an upstream marked "
                                     "`external: true`; upstream '",
                                     ctx.route != nullptr ? ctx.route->upstream : "", "' is not"));
  }
  auto scanner = ctx.scanner(opts.policy);
  if (!scanner.ok()) {
    return config::FieldError(r->Path("policy"), std::string(scanner.status().message()));
  }
  const detectors::RuleEngine& engine = (*scanner)->engine();
  for (size_t i = 0; i < allow.size(); ++i) {
    const std::string& a = allow[i];
    if (a == "pii") {
      opts.allow_pii = true;
      continue;
    }
    if (a == "secret") {
      opts.allow_secret = true;
      continue;
    }
    bool known = false;
    for (size_t k = 0; k < engine.rule_count() && !known; ++k) {
      const detectors::Rule& rule = engine.rule(k);
      known =
          rule.id == a && (rule.category == Category::kPii || rule.category == Category::kSecret);
    }
    if (!known) {
      return config::FieldError(StrCat(r->Path("allow"), "[", i, "]"),
                                StrCat("must be pii, secret or the id of a PII or secret rule "
                                       "(pii.email, secret.github_token ...), got '",
                                       a, "'"));
    }
    opts.allow_rules.push_back(a);
  }
  return std::make_unique<DataExposureFactory>(std::move(opts), std::move(*scanner), ctx.metrics);
}

}  // namespace rampart::stages
