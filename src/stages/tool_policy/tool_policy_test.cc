// Unit tests of tool_policy through the runner: config errors name the field, redemption of
// approvals from the store, shadow mode discards holds.
#include "stages/tool_policy/tool_policy.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <filesystem>

#include "approvals/approval_store.h"
#include "common/crypto.h"
#include "config/config.h"
#include "detectors/scanner.h"
#include "pipeline/runner.h"
#include "stages/registry.h"
#include "state/store.h"

namespace rampart::stages {
namespace {

namespace json = boost::json;

constexpr const char* kTools =
    "        config:\n"
    "          tools: {get_weather: {}, transfer_funds: {high_risk: true}}\n";

std::shared_ptr<const detectors::Scanner> SharedScanner() {
  static std::shared_ptr<const detectors::Scanner> s = [] {
    auto sc = detectors::Scanner::FromFiles(RAMPART_RULES_DIR, "");
    EXPECT_TRUE(sc.ok()) << sc.status();
    return std::shared_ptr<const detectors::Scanner>(std::move(*sc));
  }();
  return s;
}

class ToolPolicyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("rampart-tp-unit-" + std::to_string(getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
    auto s = approvals::ApprovalStore::Open({(dir_ / "a.db").string()});
    ASSERT_TRUE(s.ok()) << s.status();
    store_ = std::move(*s);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  absl::Status Build(const std::string& stage_yaml, bool with_store = true) {
    auto c = config::ParseConfig(
        "upstreams: [{name: u, url: 'http://127.0.0.1:1'}]\n"
        "principals:\n  - {name: alice, key_sha256: [" +
            ToHex(Sha256("key-alice")) + "]}\n  - {name: bob, key_sha256: [" +
            ToHex(Sha256("key-bob")) +
            "]}\n"
            "routes:\n  - name: chat\n    path: /v1\n    upstream: u\n    stages:\n"
            "      - {type: auth}\n" +
            stage_yaml,
        "t");
    if (!c.ok()) return c.status();
    config_ = *c;
    pipeline::StageBuildContext ctx;
    ctx.config = config_.get();
    ctx.route = &config_->routes[0];
    ctx.metrics = &metrics_;
    ctx.state = &state_;
    ctx.approvals = with_store ? store_.get() : nullptr;
    ctx.scanner =
        [](const std::string&) -> absl::StatusOr<std::shared_ptr<const detectors::Scanner>> {
      return SharedScanner();
    };
    auto p = pipeline::Pipeline::Build(Registry(), ctx);
    if (!p.ok()) return p.status();
    pipeline_ = std::move(*p);
    return absl::OkStatus();
  }
  pipeline::Exchange Exchange(const std::string& key, const std::string& approval = "") {
    pipeline::Exchange ex;
    ex.config = config_.get();
    ex.route = &config_->routes[0];
    ex.authorization = "Bearer " + key;
    ex.request = json::parse(R"({"model":"m","messages":[{"role":"user","content":"pay"}]})");
    ex.model = "m";
    ex.record.request_sha256 = "abc";
    ex.approval_ref = approval;
    return ex;
  }
  static json::value FundsResponse() {
    return json::parse(R"({"choices":[{"index":0,"finish_reason":"tool_calls","message":{
      "role":"assistant","content":null,"tool_calls":[{"id":"c1","type":"function",
      "function":{"name":"transfer_funds","arguments":"{\"amount\":5}"}}]}}]})");
  }
  std::string Held(const std::string& principal) {
    approvals::Approval a;
    a.id = approvals::NewApprovalId();
    a.created_unix_ms = 1;
    a.expires_unix_ms = INT64_MAX / 2;
    a.principal = principal;
    a.route = "chat";
    a.model = "m";
    a.request_sha256 = "abc";
    a.tools = {"transfer_funds"};
    a.message = json::serialize(FundsResponse().at_pointer("/choices/0/message"));
    EXPECT_TRUE(store_->Create(a).ok());
    return a.id;
  }

  std::filesystem::path dir_;
  std::unique_ptr<approvals::ApprovalStore> store_;
  std::shared_ptr<const config::Config> config_;
  pipeline::Metrics metrics_;
  state::InProcessStore state_;
  std::unique_ptr<pipeline::Pipeline> pipeline_;
};

TEST_F(ToolPolicyTest, ConfigErrorsNameTheField) {
  auto st = Build(std::string("      - type: tool_policy\n") + kTools, /*with_store=*/false);
  EXPECT_NE(st.message().find("routes[0].stages[1].config.tools: a high_risk tool needs "
                              "stores.approvals"),
            std::string::npos)
      << st;
  st = Build("      - {type: tool_policy, config: {}}\n");
  EXPECT_NE(st.message().find("config.tools"), std::string::npos) << st;
  st = Build("      - {type: tool_policy, config: {tools: {a: {}}, principals: {mallory: [a]}}}\n");
  EXPECT_NE(st.message().find("config.principals.mallory: no such principal"), std::string::npos)
      << st;
  st = Build("      - {type: tool_policy, config: {tools: {a: {}}, principals: {alice: [b]}}}\n");
  EXPECT_NE(st.message().find("names a tool that is not under tools"), std::string::npos) << st;
  st = Build("      - {type: tool_policy, config: {tools: {a: {risky: true}}}}\n");
  EXPECT_NE(st.message().find("config.tools.a"), std::string::npos) << st;
  st = Build("      - {type: tool_policy, config: {tools: {a: {schema: 3}}}}\n");
  EXPECT_NE(st.message().find("config.tools.a.schema"), std::string::npos) << st;
}

TEST_F(ToolPolicyTest, ShadowModeHoldsNothing) {
  ASSERT_TRUE(
      Build(std::string("      - type: tool_policy\n        mode: shadow\n") + kTools).ok());
  auto ex = Exchange("key-alice");
  ex.response = FundsResponse();
  auto run = pipeline_->Start();
  ASSERT_FALSE(run->OnRequest(ex).blocked());
  ASSERT_FALSE(run->OnResponseToolCalls(ex).blocked());
  EXPECT_TRUE(ex.held.empty());
  EXPECT_EQ(ex.response.at_pointer("/choices/0/finish_reason"), "tool_calls");
  EXPECT_EQ(ex.response.at_pointer("/choices/0/message/tool_calls/0/function/name"),
            "transfer_funds");
}

TEST_F(ToolPolicyTest, EnforceModeHoldsTheMessage) {
  ASSERT_TRUE(Build(std::string("      - type: tool_policy\n") + kTools).ok());
  auto ex = Exchange("key-alice");
  ex.response = FundsResponse();
  auto run = pipeline_->Start();
  ASSERT_FALSE(run->OnRequest(ex).blocked());
  ASSERT_FALSE(run->OnResponseToolCalls(ex).blocked());
  ASSERT_EQ(ex.held.size(), 1u);
  EXPECT_EQ(ex.held[0].tools, std::vector<std::string>{"transfer_funds"});
  EXPECT_EQ(ex.record.reason, "tool_policy.approval_required");
  EXPECT_EQ(ex.response.at_pointer("/choices/0/finish_reason"), "stop");
  std::string content(ex.response.at_pointer("/choices/0/message/content").as_string());
  EXPECT_NE(content.find(ex.held[0].approval_id), std::string::npos);
  // The held message keeps the calls; the client's copy has none.
  EXPECT_TRUE(ex.held[0].message.contains("tool_calls"));
  EXPECT_FALSE(ex.response.at_pointer("/choices/0/message").as_object().contains("tool_calls"));
}

TEST_F(ToolPolicyTest, RedeemAnswersFromTheStore) {
  ASSERT_TRUE(Build(std::string("      - type: tool_policy\n") + kTools).ok());
  std::string id = Held("alice");

  auto ex = Exchange("key-alice", id);  // pending
  auto d = pipeline_->Start()->OnRequest(ex);
  ASSERT_FALSE(d.blocked()) << d.reason;
  EXPECT_EQ(ex.local_response.at_pointer("/rampart/approval/status"), "pending");

  ex = Exchange("key-bob", id);  // not bob's
  d = pipeline_->Start()->OnRequest(ex);
  EXPECT_EQ(d.http_status, 404);
  EXPECT_EQ(d.reason, "tool_policy.approval_not_found");

  ex = Exchange("key-alice", approvals::NewApprovalId());  // unknown
  EXPECT_EQ(pipeline_->Start()->OnRequest(ex).http_status, 404);

  ASSERT_TRUE(store_->Decide(id, true, "ops", "", 2).ok());
  ex = Exchange("key-alice", id);
  ex.record.request_sha256 = "other";
  d = pipeline_->Start()->OnRequest(ex);
  EXPECT_EQ(d.reason, "tool_policy.approval_mismatch");

  ex = Exchange("key-alice", id);
  d = pipeline_->Start()->OnRequest(ex);
  ASSERT_FALSE(d.blocked()) << d.reason;
  EXPECT_EQ(ex.local_response.at_pointer("/rampart/approval/status"), "released");
  EXPECT_EQ(ex.local_response.at_pointer("/choices/0/finish_reason"), "tool_calls");
  EXPECT_EQ(ex.local_response.at_pointer("/choices/0/message/tool_calls/0/function/arguments"),
            R"({"amount":5})");
}

TEST_F(ToolPolicyTest, ApprovedCallIsReCheckedAgainstTheCurrentPolicy) {
  // Held and approved while alice could use transfer_funds; a reload took it away.
  ASSERT_TRUE(Build("      - type: tool_policy\n        config:\n          tools: "
                    "{get_weather: {}, transfer_funds: {high_risk: true}}\n"
                    "          principals: {alice: [get_weather]}\n")
                  .ok());
  std::string id = Held("alice");
  ASSERT_TRUE(store_->Decide(id, true, "ops", "", 2).ok());
  auto ex = Exchange("key-alice", id);
  auto d = pipeline_->Start()->OnRequest(ex);
  EXPECT_EQ(d.http_status, 403);
  EXPECT_EQ(d.reason, "tool_policy.tool_not_allowed");
  EXPECT_TRUE(ex.local_response.is_null());
}

TEST_F(ToolPolicyTest, RequestToolsRefusedWhenConfigured) {
  ASSERT_TRUE(Build("      - {type: tool_policy, config: {request_tools: refuse, tools: "
                    "{get_weather: {}}, principals: {'*': [get_weather]}}}\n")
                  .ok());
  auto ex = Exchange("key-alice");
  ex.request.as_object()["tools"] = json::parse(
      R"([{"type":"function","function":{"name":"get_weather"}},
          {"type":"function","function":{"name":"run_shell"}}])");
  auto d = pipeline_->Start()->OnRequest(ex);
  EXPECT_EQ(d.http_status, 403);
  EXPECT_EQ(d.reason, "tool_policy.tool_not_allowed");
}

}  // namespace
}  // namespace rampart::stages
