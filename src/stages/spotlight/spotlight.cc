#include "stages/spotlight/spotlight.h"

#include <algorithm>
#include <boost/json.hpp>
#include <optional>

#include "common/strings.h"
#include "config/field_reader.h"
#include "detectors/spotlight.h"
#include "stages/common/message_texts.h"
#include "stages/common/scan_support.h"

namespace rampart::stages {
namespace {

namespace json = boost::json;

struct SpotlightOptions {
  std::vector<std::string> roles;
  std::vector<std::string> pointers;
  detectors::SpotlightMode mode = detectors::SpotlightMode::kDelimit;
  std::string marker = "\xcb\x86";
  bool scan = true;
  ScanStageOptions scan_opts;
};

class SpotlightFactory : public pipeline::StageFactory {
 public:
  SpotlightFactory(SpotlightOptions opts, std::shared_ptr<const detectors::Scanner> scanner,
                   pipeline::Metrics* metrics)
      : opts_(std::move(opts)), metrics_(metrics) {
    if (scanner) pool_.emplace(std::move(scanner));
  }
  std::unique_ptr<pipeline::Stage> Create() const override;

  SpotlightOptions opts_;
  mutable std::optional<ContextPool> pool_;
  pipeline::Metrics* metrics_;
};

// Appends `instruction` to the first system/developer message, or inserts a system message.
void AddInstruction(json::value& request, const std::string& instruction) {
  auto* msgs = request.get_object().if_contains("messages");
  if (msgs == nullptr || !msgs->is_array()) return;
  auto& arr = msgs->get_array();
  for (auto& m : arr) {
    auto* mo = m.if_object();
    if (mo == nullptr) continue;
    auto* role = mo->if_contains("role");
    if (role == nullptr || !role->is_string()) continue;
    if (role->get_string() != "system" && role->get_string() != "developer") continue;
    json::value& content = (*mo)["content"];
    if (content.is_string()) {
      std::string joined(content.get_string());
      if (!joined.empty()) joined += "\n\n";
      joined += instruction;
      content = json::string(joined);
      return;
    }
    if (content.is_array()) {
      content.get_array().push_back(json::object{{"type", "text"}, {"text", instruction}});
      return;
    }
    if (content.is_null()) {
      content = json::string(instruction);
      return;
    }
    break;  // an operator message of an unknown shape: add our own below, never rewrite it
  }
  arr.insert(arr.begin(), json::object{{"role", "system"}, {"content", instruction}});
}

class Spotlight : public pipeline::Stage {
 public:
  explicit Spotlight(const SpotlightFactory& f) : f_(f) {}

  absl::StatusOr<pipeline::Decision> OnRequest(pipeline::Exchange& ex) override {
    const SpotlightOptions& o = f_.opts_;
    std::vector<pipeline::TextRef> texts;
    if (!o.roles.empty()) {
      for (auto& t : MessageTexts(ex)) {
        if (std::find(o.roles.begin(), o.roles.end(), t.role) != o.roles.end()) {
          texts.push_back(std::move(t.ref));
        }
      }
    }
    if (!o.pointers.empty()) {
      for (auto& t : PointerTexts(ex, o.pointers)) {
        // A pointer may name a text a role already selected: spotlight it once.
        bool seen = std::any_of(texts.begin(), texts.end(),
                                [&](const pipeline::TextRef& r) { return r.text == t.text; });
        if (!seen) texts.push_back(std::move(t));
      }
    }
    pipeline::Decision out;
    if (texts.empty()) return out;
    if (f_.pool_) {
      auto d = ScanTexts(texts, /*response=*/false, *f_.pool_, o.scan_opts, ex, f_.metrics_);
      if (!d.ok() || d->blocked()) return d;
      out = *d;
    }
    std::vector<std::string> instructions;
    for (auto& t : texts) {
      std::string_view s(t.text->data(), t.text->size());
      auto lit = detectors::Spotlight(s, o.mode, o.marker);
      if (!lit.ok()) return lit.status();
      *t.text = lit->text;
      if (std::find(instructions.begin(), instructions.end(), lit->instruction) ==
          instructions.end()) {
        instructions.push_back(std::move(lit->instruction));
      }
    }
    if (ex.route != nullptr && ex.route->kind == config::RouteKind::kOpenAi) {
      AddInstruction(ex.request, StrJoin(instructions, " "));
    }
    if (f_.metrics_ != nullptr && ex.route != nullptr) {
      f_.metrics_->Add("rampart_spotlight_texts_total",
                       StrCat("route=\"", pipeline::LabelValue(ex.route->name), "\""), texts.size(),
                       "Untrusted texts spotlighted before forwarding");
    }
    if (out.reason.empty()) out.reason = "spotlight.applied";
    return out;
  }

 private:
  const SpotlightFactory& f_;
};

std::unique_ptr<pipeline::Stage> SpotlightFactory::Create() const {
  return pipeline::MakeStage<Spotlight>(*this);
}

}  // namespace

absl::StatusOr<std::unique_ptr<pipeline::StageFactory>> BuildSpotlight(
    const pipeline::StageBuildContext& ctx, const config::StageConfig& stage) {
  auto r = config::FieldReader::Open(stage.config, config::JoinPath(stage.path, "config"));
  if (!r.ok()) return r.status();
  SpotlightOptions opts;
  std::vector<std::string> untrusted;
  std::string method = "delimit";
  uint64_t status = 400;
  if (r->Get("untrusted") == nullptr) {
    return config::FieldError(r->Path("untrusted"),
                              "is required: the roles and/or JSON Pointers of untrusted content");
  }
  if (auto st = r->StringList("untrusted", &untrusted); !st.ok()) return st;
  if (auto st = r->Enum("method", {"delimit", "datamark", "encode"}, &method); !st.ok()) return st;
  if (auto st = r->String("marker", &opts.marker); !st.ok()) return st;
  if (auto st = r->Bool("scan", &opts.scan); !st.ok()) return st;
  if (auto st = r->String("policy", &opts.scan_opts.policy); !st.ok()) return st;
  if (auto st = r->Uint("block_status", &status, 400, 599); !st.ok()) return st;
  if (auto st = r->Finish(); !st.ok()) return st;
  opts.scan_opts.block_status = static_cast<int>(status);
  if (untrusted.empty()) return config::FieldError(r->Path("untrusted"), "must not be empty");
  for (size_t i = 0; i < untrusted.size(); ++i) {
    const std::string& u = untrusted[i];
    std::string path = StrCat(r->Path("untrusted"), "[", i, "]");
    if (u.starts_with("/")) {
      opts.pointers.push_back(u);
    } else if (u == "system" || u == "developer") {
      return config::FieldError(path, StrCat("'", u, "' is the operator's prompt, not untrusted"));
    } else if (u.empty()) {
      return config::FieldError(path, "must be a role or a JSON Pointer starting with '/'");
    } else {
      if (ctx.route != nullptr && ctx.route->kind != config::RouteKind::kOpenAi) {
        return config::FieldError(path, "roles need an openai route; use JSON Pointers");
      }
      opts.roles.push_back(u);
    }
  }
  if (opts.marker.empty() || opts.marker.size() > 8 ||
      opts.marker.find_first_of(" \t\r\n") != std::string::npos) {
    return config::FieldError(r->Path("marker"), "must be 1-8 bytes without whitespace");
  }
  auto mode = detectors::ParseSpotlightMode(method);
  if (!mode.ok())
    return config::FieldError(r->Path("method"), std::string(mode.status().message()));
  opts.mode = *mode;
  std::shared_ptr<const detectors::Scanner> scanner;
  if (opts.scan) {
    auto s = ctx.scanner(opts.scan_opts.policy);
    if (!s.ok()) return config::FieldError(r->Path("policy"), std::string(s.status().message()));
    scanner = std::move(*s);
  }
  return std::make_unique<SpotlightFactory>(std::move(opts), std::move(scanner), ctx.metrics);
}

}  // namespace rampart::stages
