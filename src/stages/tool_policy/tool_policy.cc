#include "stages/tool_policy/tool_policy.h"

#include <boost/json.hpp>
#include <chrono>
#include <map>
#include <set>
#include <valijson/adapters/boost_json_adapter.hpp>
#include <valijson/schema.hpp>
#include <valijson/schema_parser.hpp>
#include <valijson/validation_results.hpp>
#include <valijson/validator.hpp>

#include "approvals/approval_store.h"
#include "common/strings.h"
#include "config/field_reader.h"
#include "detectors/tool_args.h"
#include "stages/common/scan_support.h"

namespace rampart::stages {
namespace {

namespace json = boost::json;

constexpr size_t kMaxCallsPerMessage = 64;
constexpr const char* kAnyPrincipal = "*";

struct ToolSpec {
  bool high_risk = false;
  bool scan = true;        // scan the arguments for secrets and PII (when the stage scans at all)
  json::value schema_doc;  // keeps the schema's strings alive for valijson
  std::unique_ptr<valijson::Schema> schema;
};

class ToolPolicyFactory : public pipeline::StageFactory {
 public:
  std::unique_ptr<pipeline::Stage> Create() const override;

  std::map<std::string, ToolSpec, std::less<>> tools;
  // Principal -> tools it may use; "*" for principals without an entry. Empty map: every
  // listed tool is allowed to everyone.
  std::map<std::string, std::set<std::string, std::less<>>, std::less<>> principals;
  bool refuse_request_tools = false;
  int block_status = 502;
  uint64_t approval_ttl_s = 3600;
  std::unique_ptr<detectors::ToolArgChecker> checker;
  std::unique_ptr<ContextPool> pool;  // null: arguments are not scanned for secrets and PII
  approvals::ApprovalStore* store = nullptr;
  pipeline::Metrics* metrics = nullptr;

  bool Allowed(const pipeline::Exchange& ex, std::string_view tool) const {
    if (tools.find(tool) == tools.end()) return false;
    if (principals.empty()) return true;
    auto it = ex.principal != nullptr ? principals.find(ex.principal->name) : principals.end();
    if (it == principals.end()) it = principals.find(kAnyPrincipal);
    return it != principals.end() && it->second.count(tool) > 0;
  }
};

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string ToolsList(const std::vector<std::string>& tools) { return StrJoin(tools, ", "); }

void RecordToolFinding(pipeline::Exchange& ex, pipeline::Metrics* metrics,
                       const detectors::ToolArgFinding& f, size_t call) {
  if (metrics != nullptr) {
    metrics->Add("rampart_findings_total",
                 StrCat("detector=\"tool_policy\",category=\"",
                        CategoryName(Category::kPromptInjection), "\",where=\"response\""),
                 1, "Findings by detector, category and direction");
  }
  if (ex.record.findings.size() >= 1024) return;
  Finding out;
  out.detector = "tool_policy";
  out.rule = f.id;
  out.category = Category::kPromptInjection;  // tool abuse is what injected content steers
  out.severity = f.severity;
  out.score = 1.0f;
  out.field = StrCat("response/tool_calls/", call, "/function/arguments", f.pointer);
  ex.record.findings.push_back(std::move(out));
}

// Appends every object key and string value of `v`, one per line (the arguments were bounded
// in size and depth by the checker before).
void CollectStrings(const json::value& v, std::string* out) {
  if (v.is_string()) {
    out->append(v.get_string().data(), v.get_string().size());
    out->push_back('\n');
  } else if (v.is_array()) {
    for (const auto& e : v.get_array()) CollectStrings(e, out);
  } else if (v.is_object()) {
    for (const auto& [k, e] : v.get_object()) {
      out->append(k.data(), k.size());
      out->push_back('\n');
      CollectStrings(e, out);
    }
  }
}

class ToolPolicy : public pipeline::Stage {
 public:
  explicit ToolPolicy(const ToolPolicyFactory& f) : f_(f) {}

  absl::StatusOr<pipeline::Decision> OnRequest(pipeline::Exchange& ex) override {
    if (!ex.approval_ref.empty()) return Redeem(ex);
    auto* obj = ex.request.if_object();
    if (obj == nullptr) return pipeline::Decision::Continue();
    auto* tools = obj->if_contains("tools");
    if (tools == nullptr) return pipeline::Decision::Continue();
    if (!tools->is_array()) {
      return pipeline::Decision::Block(400, "tool_policy.malformed_call",
                                       "\"tools\" must be an array");
    }
    json::array kept;
    std::set<std::string> removed;
    for (auto& t : tools->get_array()) {
      const json::value* name = nullptr;
      if (auto* to = t.if_object()) {
        if (auto* fn = to->if_contains("function"); fn != nullptr && fn->is_object()) {
          name = fn->get_object().if_contains("name");
        }
      }
      if (name == nullptr || !name->is_string()) {
        return pipeline::Decision::Block(400, "tool_policy.malformed_call",
                                         "every tool needs a function name");
      }
      std::string_view n(name->get_string().data(), name->get_string().size());
      if (f_.Allowed(ex, n)) {
        kept.push_back(t);
      } else {
        removed.emplace(n);
      }
    }
    if (removed.empty()) return pipeline::Decision::Continue();
    if (f_.refuse_request_tools) {
      return pipeline::Decision::Block(403, "tool_policy.tool_not_allowed",
                                       "the request offers a tool this client may not use");
    }
    if (kept.empty()) {
      obj->erase("tools");
      obj->erase("tool_choice");
      obj->erase("parallel_tool_calls");
    } else {
      *tools = std::move(kept);
      if (auto* tc = obj->if_contains("tool_choice"); tc != nullptr && tc->is_object()) {
        const json::value* n = nullptr;
        if (auto* fn = tc->get_object().if_contains("function"); fn != nullptr && fn->is_object())
          n = fn->get_object().if_contains("name");
        if (n != nullptr && n->is_string() && removed.count(std::string(n->get_string())) > 0)
          obj->erase("tool_choice");
      }
    }
    pipeline::Decision d;
    d.action = Action::kRedact;
    d.reason = "tool_policy.tools_filtered";
    return d;
  }

  absl::StatusOr<pipeline::Decision> OnToolCalls(pipeline::Exchange& ex,
                                                 json::object& message) override {
    auto* calls = message.if_contains("tool_calls");
    if (calls == nullptr || !calls->is_array()) return pipeline::Decision::Continue();
    auto& arr = calls->get_array();
    auto refuse = [&](std::string reason, std::string message_text) {
      return pipeline::Decision::Block(f_.block_status, std::move(reason), std::move(message_text));
    };
    if (arr.size() > kMaxCallsPerMessage) {
      return refuse("tool_policy.malformed_call", "the model made too many tool calls at once");
    }
    std::vector<std::string> high_risk;
    for (size_t i = 0; i < arr.size(); ++i) {
      const json::object* fn = nullptr;
      if (auto* co = arr[i].if_object()) {
        if (auto* fv = co->if_contains("function"); fv != nullptr) fn = fv->if_object();
      }
      const json::value* name = fn != nullptr ? fn->if_contains("name") : nullptr;
      const json::value* args = fn != nullptr ? fn->if_contains("arguments") : nullptr;
      if (name == nullptr || !name->is_string() || args == nullptr || !args->is_string()) {
        return refuse("tool_policy.malformed_call", "the model made a malformed tool call");
      }
      std::string tool(name->get_string());
      std::string_view text(args->get_string().data(), args->get_string().size());
      if (!f_.Allowed(ex, tool)) {
        return refuse("tool_policy.tool_not_allowed",
                      "the model called a tool this client may not use");
      }
      auto found = f_.checker->Check(text);
      if (!found.ok()) {
        return refuse("tool_policy.invalid_arguments",
                      "the model's tool arguments are not a readable JSON object");
      }
      if (!found->empty()) {
        for (const auto& fd : *found) RecordToolFinding(ex, f_.metrics, fd, i);
        std::string kind = (*found)[0].id;  // "tool.url" -> "tool_policy.url"
        if (kind.rfind("tool.", 0) == 0) kind = kind.substr(5);
        return refuse(StrCat("tool_policy.", kind),
                      StrCat("a tool call was blocked by policy (tool_policy.", kind, ")"));
      }
      const ToolSpec& spec = f_.tools.find(tool)->second;
      // The checker read it (bounded size and depth): parsing it again cannot fail or blow up.
      boost::system::error_code ec;
      json::value parsed = json::parse(text, ec);
      if (ec) {
        return refuse("tool_policy.invalid_arguments",
                      "the model's tool arguments are not a readable JSON object");
      }
      if (spec.schema) {
        valijson::Validator validator;
        valijson::adapters::BoostJsonAdapter target(parsed);
        bool valid = false;
        try {
          valid = validator.validate(*spec.schema, target, nullptr);
        } catch (const std::exception&) {
          return absl::InternalError("tool argument validation failed");
        }
        if (!valid) {
          return refuse("tool_policy.invalid_arguments",
                        "the model's tool arguments do not match the tool's schema");
        }
      }
      if (f_.pool && spec.scan) {
        auto ctx = f_.pool->Acquire();
        // The decoded keys and string values, so JSON escapes (\u0067hp_...) hide nothing.
        std::string decoded;
        CollectStrings(parsed, &decoded);
        auto v = f_.pool->scanner().Scan(decoded, *ctx, "");
        if (!v.ok()) return v.status();
        RecordFindings(*v, "response", StrCat("/tool_calls/", i, "/function/arguments"), ex,
                       f_.metrics);
        if (v->action >= Action::kRedact) {
          return refuse("tool_policy.sensitive_arguments",
                        "a tool call would send secrets or personal data");
        }
      }
      if (spec.high_risk) high_risk.push_back(std::move(tool));
    }
    if (high_risk.empty()) return pipeline::Decision::Continue();
    pipeline::HeldMessage h;
    h.approval_id = approvals::NewApprovalId();
    h.tools = high_risk;
    h.message = message;
    h.ttl_s = f_.approval_ttl_s;
    message["content"] = ApprovalText(h.approval_id, "pending", high_risk);
    message.erase("tool_calls");
    ex.held.push_back(std::move(h));
    pipeline::Decision d;
    d.action = Action::kReview;
    d.reason = "tool_policy.approval_required";
    return d;
  }

 private:
  absl::StatusOr<pipeline::Decision> Redeem(pipeline::Exchange& ex) {
    auto not_found = [] {
      return pipeline::Decision::Block(404, "tool_policy.approval_not_found",
                                       "no such approval for this client");
    };
    if (f_.store == nullptr) return not_found();
    auto a = f_.store->Get(ex.approval_ref, NowMs());
    if (!a.ok()) {
      if (a.status().code() == absl::StatusCode::kNotFound) return not_found();
      return a.status();
    }
    std::string principal = ex.principal != nullptr ? ex.principal->name : "";
    if (a->principal != principal || ex.route == nullptr || a->route != ex.route->name) {
      return not_found();
    }
    if (a->request_sha256 != ex.record.request_sha256) {
      return pipeline::Decision::Block(409, "tool_policy.approval_mismatch",
                                       "the approval was given for a different request");
    }
    if (a->status == approvals::Status::kReleased) {
      return pipeline::Decision::Block(409, "tool_policy.approval_used",
                                       "the approved tool call was already released");
    }
    std::string status(approvals::StatusName(a->status));
    if (a->status != approvals::Status::kApproved) {
      ex.local_response = ApprovalNotice(a->id, status, a->tools, a->model);
      return pipeline::Decision::Continue();
    }
    boost::system::error_code ec;
    json::value msg = json::parse(a->message, ec);
    if (ec || !msg.is_object()) return absl::DataLossError("the held message is unreadable");
    // The policy may have changed since the call was held (a reload): it must still allow
    // every call of the message.
    if (auto* calls = msg.get_object().if_contains("tool_calls");
        calls != nullptr && calls->is_array()) {
      for (const auto& c : calls->get_array()) {
        boost::system::error_code pec;
        const json::value* name = c.find_pointer("/function/name", pec);
        if (name == nullptr || !name->is_string() ||
            !f_.Allowed(ex,
                        std::string_view(name->get_string().data(), name->get_string().size()))) {
          return pipeline::Decision::Block(
              403, "tool_policy.tool_not_allowed",
              "the approved call names a tool this client may no longer use");
        }
      }
    }
    json::object out = ApprovalNotice(a->id, "released", a->tools, a->model);
    auto& choice = out["choices"].as_array()[0].as_object();
    choice["message"] = std::move(msg);
    choice["finish_reason"] = "tool_calls";
    ex.local_response = std::move(out);
    return pipeline::Decision::Continue();
  }

  const ToolPolicyFactory& f_;
};

std::unique_ptr<pipeline::Stage> ToolPolicyFactory::Create() const {
  return pipeline::MakeStage<ToolPolicy>(*this);
}

}  // namespace

std::string ApprovalText(std::string_view approval_id, std::string_view status,
                         const std::vector<std::string>& tools) {
  std::string names = ToolsList(tools);
  if (status == "pending") {
    return StrCat("The call to ", names, " needs a human approval before it is made (approval ",
                  approval_id,
                  "). Re-send this request with the header X-Rampart-Approval: ", approval_id,
                  " once it is approved.");
  }
  if (status == "denied") {
    return StrCat("The call to ", names, " was denied by a reviewer (approval ", approval_id,
                  "); it was not made.");
  }
  if (status == "expired") {
    return StrCat("The approval ", approval_id, " for the call to ", names,
                  " expired before it was decided; the call was not made.");
  }
  return StrCat("The call to ", names, " was approved (approval ", approval_id, ").");
}

json::object ApprovalExtension(std::string_view approval_id, std::string_view status,
                               const std::vector<std::string>& tools) {
  json::array names;
  for (const auto& t : tools) names.emplace_back(t);
  return json::object{
      {"approval",
       json::object{{"id", approval_id}, {"status", status}, {"tools", std::move(names)}}}};
}

json::object ApprovalNotice(std::string_view approval_id, std::string_view status,
                            const std::vector<std::string>& tools, std::string_view model) {
  int64_t created = NowMs() / 1000;
  return json::object{
      {"id", StrCat("chatcmpl-", approval_id)},
      {"object", "chat.completion"},
      {"created", created},
      {"model", model},
      {"choices",
       json::array{json::object{
           {"index", 0},
           {"message", json::object{{"role", "assistant"},
                                    {"content", ApprovalText(approval_id, status, tools)}}},
           {"finish_reason", "stop"}}}},
      {"rampart", ApprovalExtension(approval_id, status, tools)}};
}

absl::StatusOr<std::unique_ptr<pipeline::StageFactory>> BuildToolPolicy(
    const pipeline::StageBuildContext& ctx, const config::StageConfig& stage) {
  auto r = config::FieldReader::Open(stage.config, config::JoinPath(stage.path, "config"));
  if (!r.ok()) return r.status();
  auto f = std::make_unique<ToolPolicyFactory>();
  detectors::ToolArgOptions targs;
  std::string request_tools = "filter", policy;
  bool scan = true;
  uint64_t status = 502;
  if (auto st = r->StringList("allowed_domains", &targs.allowed_domains); !st.ok()) return st;
  if (auto st = r->Enum("request_tools", {"filter", "refuse"}, &request_tools); !st.ok()) return st;
  if (auto st = r->Bool("scan_arguments", &scan); !st.ok()) return st;
  if (auto st = r->String("policy", &policy); !st.ok()) return st;
  if (auto st = r->Uint("block_status", &status, 400, 599); !st.ok()) return st;
  if (auto st = r->Uint("approval_ttl_s", &f->approval_ttl_s, 1, 30ull * 24 * 3600); !st.ok())
    return st;
  const json::value* tools = r->Get("tools");
  const json::value* principals = r->Get("principals");
  if (auto st = r->Finish(); !st.ok()) return st;
  f->refuse_request_tools = request_tools == "refuse";
  f->block_status = static_cast<int>(status);

  if (tools == nullptr || !tools->is_object() || tools->get_object().empty()) {
    return config::FieldError(r->Path("tools"),
                              "list the tools this route allows (a map of tool name to {})");
  }
  bool any_high_risk = false;
  const json::value empty_spec = json::object();
  for (const auto& [name, spec_v] : tools->get_object()) {
    std::string path = config::JoinPath(r->Path("tools"), name);
    // The reader keeps a pointer into the value it reads: never a temporary.
    const json::value& spec_value = spec_v.is_null() ? empty_spec : spec_v;
    auto tr = config::FieldReader::Open(spec_value, path);
    if (!tr.ok()) return tr.status();
    ToolSpec spec;
    if (auto st = tr->Bool("high_risk", &spec.high_risk); !st.ok()) return st;
    if (auto st = tr->Bool("scan_arguments", &spec.scan); !st.ok()) return st;
    const json::value* schema = tr->Get("schema");
    if (auto st = tr->Finish(); !st.ok()) return st;
    if (schema != nullptr) {
      if (!schema->is_object()) {
        return config::FieldError(tr->Path("schema"), "must be a JSON Schema object");
      }
      spec.schema_doc = *schema;
      spec.schema = std::make_unique<valijson::Schema>();
      try {
        valijson::SchemaParser parser;
        valijson::adapters::BoostJsonAdapter adapter(spec.schema_doc);
        parser.populateSchema(adapter, *spec.schema);
      } catch (const std::exception& e) {
        return config::FieldError(tr->Path("schema"), StrCat("invalid JSON Schema: ", e.what()));
      }
    }
    any_high_risk = any_high_risk || spec.high_risk;
    f->tools.emplace(std::string(name), std::move(spec));
  }
  if (principals != nullptr) {
    if (!principals->is_object()) {
      return config::FieldError(r->Path("principals"), "must map principal names to tool lists");
    }
    for (const auto& [who, list] : principals->get_object()) {
      std::string path = config::JoinPath(r->Path("principals"), who);
      if (who != kAnyPrincipal && ctx.config != nullptr) {
        bool known = false;
        for (const auto& p : ctx.config->principals) known = known || p.name == who;
        if (!known) return config::FieldError(path, "no such principal");
      }
      if (!list.is_array()) return config::FieldError(path, "must be a list of tool names");
      auto& set = f->principals[std::string(who)];
      for (const auto& t : list.get_array()) {
        if (!t.is_string() || f->tools.find(t.get_string()) == f->tools.end()) {
          return config::FieldError(path, "names a tool that is not under tools");
        }
        set.emplace(t.get_string());
      }
    }
  }
  if (any_high_risk && ctx.approvals == nullptr) {
    return config::FieldError(r->Path("tools"),
                              "a high_risk tool needs stores.approvals (where held calls wait)");
  }
  f->store = ctx.approvals;
  f->metrics = ctx.metrics;
  f->checker = std::make_unique<detectors::ToolArgChecker>(std::move(targs));
  if (scan) {
    auto scanner = ctx.scanner(policy);
    if (!scanner.ok()) {
      return config::FieldError(r->Path("policy"), std::string(scanner.status().message()));
    }
    f->pool = std::make_unique<ContextPool>(std::move(*scanner));
  }
  return f;
}

}  // namespace rampart::stages
