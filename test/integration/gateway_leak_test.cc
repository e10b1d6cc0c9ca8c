// Integration tests of the leak stages (canary, prompt_leak): the real `rampart serve` on port
// 0 in front of `rampart mock-upstream`, which leaks on cue — MOCK_LEAK_CANARY (the canary it
// finds in its system prompt, upper-case and spaced out, so a stream splits it over many
// events), MOCK_LEAK_CANARY_B64 (base64) and MOCK_ECHO_SYSTEM (its system prompt verbatim).
// Each stage is shown blocking in enforce mode, redacting, and only recording in shadow mode,
// non-streamed and streamed.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <sstream>
#include <thread>

#include "gateway_client.h"
#include "process.h"

namespace rampart::testing {
namespace {

namespace json = boost::json;

constexpr const char* kAdminToken = "admin-leak-token";

constexpr const char* kPrompt =
    "You are the support assistant of Acme Bank. Answer questions about accounts, cards and "
    "transfers. Never discuss internal fraud thresholds, which are 4000 euros per day for new "
    "customers. Escalate complaints to a human agent via the handoff tool.";

// One gateway per stage setup (the gateway forwards the full path, and the mock answers
// /v1/chat/completions only, so each setup gets its own gateway with one /v1 route).
const std::map<std::string, std::string>& Setups() {
  static const std::map<std::string, std::string> kSetups = {
      {"canary-enforce", "[{type: canary}]"},
      {"canary-redact", "[{type: canary, config: {action: redact}}]"},
      {"canary-shadow", "[{type: canary, mode: shadow}]"},
      {"leak-enforce", "[{type: prompt_leak}]"},
      {"leak-redact", "[{type: prompt_leak, config: {action: redact}}]"},
      {"leak-shadow", "[{type: prompt_leak, mode: shadow}]"},
  };
  return kSetups;
}

std::string ConfigYaml(int upstream_port, const std::string& route, const std::string& stages) {
  return std::string(R"(
server:
  listen: 127.0.0.1:0
  admin_listen: 127.0.0.1:0
  threads: 2
  admin_token_env: RAMPART_LEAK_TEST_ADMIN_TOKEN
  limits:
    max_body_bytes: 65536
    header_timeout_ms: 1000
    body_timeout_ms: 2000
upstreams:
  - name: mock
    url: http://127.0.0.1:)") +
         std::to_string(upstream_port) + R"(
    first_byte_timeout_ms: 1500
    idle_timeout_ms: 1500
routes:
  - name: )" +
         route +
         R"(
    kind: openai
    path: /v1
    upstream: mock
    stages: )" +
         stages + "\n";
}

std::string ChatWith(const std::string& system, const std::string& user, bool stream) {
  json::array msgs;
  if (!system.empty()) msgs.push_back(json::object{{"role", "system"}, {"content", system}});
  msgs.push_back(json::object{{"role", "user"}, {"content", user}});
  json::object o{{"model", "mock-small"}, {"messages", std::move(msgs)}};
  if (stream) o["stream"] = true;
  return json::serialize(o);
}

// The text of a non-streamed chat response.
std::string Text(const Response& r) {
  json::error_code ec;
  auto v = json::parse(r.body, ec);
  if (ec) return "<not json>";
  auto* p = v.find_pointer("/choices/0/message/content", ec);
  return p != nullptr && p->is_string() ? std::string(p->get_string()) : "<no content>";
}

// Canary-shaped tokens in `s`, also spaced out and upper-case ("R M P - ...").
bool HasCanary(const std::string& s) {
  static const std::regex kCanary("[rR] ?[mM] ?[pP] ?- ?([a-zA-Z2-7] ?){20}");
  return std::regex_search(s, kCanary);
}

class GatewayLeakTest : public ::testing::Test {
 protected:
  struct Gateway {
    Process process;
    std::string log;
    int port = 0;
    int admin_port = 0;
  };

  static void SetUpTestSuite() {
    setenv("RAMPART_LEAK_TEST_ADMIN_TOKEN", kAdminToken, 1);
    dir_ = std::filesystem::temp_directory_path() / ("rampart-leak-" + std::to_string(getpid()));
    std::filesystem::create_directories(dir_);
    mock_ = new Process();
    ASSERT_TRUE(mock_->Start({RAMPART_BINARY, "mock-upstream", "--port", "0"}));
    int mock_port = Process::PortFrom(mock_->ReadLine());
    ASSERT_GT(mock_port, 0);
    gateways_ = new std::map<std::string, Gateway>();
    for (const auto& [route, stages] : Setups()) {
      std::string config = (dir_ / (route + ".yaml")).string();
      std::ofstream(config) << ConfigYaml(mock_port, route, stages);
      Gateway& g = (*gateways_)[route];
      g.log = (dir_ / (route + ".log")).string();
      ASSERT_TRUE(g.process.Start(
          {RAMPART_BINARY, "serve", "--config", config, "--rules", RAMPART_RULES_DIR}, g.log));
      g.port = Process::PortFrom(g.process.ReadLine());
      g.admin_port = Process::PortFrom(g.process.ReadLine());
      ASSERT_GT(g.port, 0) << route;
      ASSERT_GT(g.admin_port, 0) << route;
    }
  }
  static void TearDownTestSuite() {
    delete gateways_;
    delete mock_;
    std::filesystem::remove_all(dir_);
  }

  static Response Post(const std::string& route, const std::string& body) {
    return Http(gateways_->at(route).port, "POST", "/v1/chat/completions", body);
  }

  // The value of one counter line of a gateway's /metrics (0 when absent).
  static double Metric(const std::string& route, const std::string& series) {
    auto r = Http(gateways_->at(route).admin_port, "GET", "/metrics", "",
                  {{"Authorization", std::string("Bearer ") + kAdminToken}});
    size_t at = r.body.find(series + " ");
    if (at == std::string::npos) return 0;
    return std::atof(r.body.c_str() + at + series.size() + 1);
  }
  // Waits for a counter to reach `want` (counters are updated right after the response).
  static double MetricAtLeast(const std::string& route, const std::string& series, double want) {
    double v = 0;
    for (int i = 0; i < 100; ++i) {
      v = Metric(route, series);
      if (v >= want) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return v;
  }

  static inline std::filesystem::path dir_;
  static inline Process* mock_ = nullptr;
  static inline std::map<std::string, Gateway>* gateways_ = nullptr;
};

// --- canary -----------------------------------------------------------------------------

TEST_F(GatewayLeakTest, CanaryDoesNotDisturbOrdinaryExchanges) {
  auto r = Post("canary-enforce", ChatWith("Be brief.", "hello there", false));
  ASSERT_EQ(r.status, 200) << r.raw;
  EXPECT_EQ(Text(r), "You said: hello there");
  auto s = ReadStream(Post("canary-enforce", ChatWith("", "stream me please", true)).body);
  EXPECT_EQ(s.text, "You said: stream me please");
  EXPECT_TRUE(s.done);
  EXPECT_EQ(s.error_code, "");
}

TEST_F(GatewayLeakTest, CanaryLeakIsBlockedNonStreamed) {
  for (const char* cue : {"MOCK_LEAK_CANARY", "MOCK_LEAK_CANARY_B64", "MOCK_ECHO_SYSTEM"}) {
    auto r = Post("canary-enforce", ChatWith("Be brief.", cue, false));
    EXPECT_EQ(r.status, 403) << cue << r.raw;
    EXPECT_EQ(ErrorCode(r), "canary.leak") << cue;
    EXPECT_FALSE(HasCanary(r.raw)) << r.raw;
    EXPECT_EQ(r.raw.find("Encoded for you"), std::string::npos);
  }
  // Without a system prompt the stage adds one, and still catches the leak.
  auto r = Post("canary-enforce", ChatWith("", "MOCK_LEAK_CANARY", false));
  EXPECT_EQ(ErrorCode(r), "canary.leak") << r.raw;
}

TEST_F(GatewayLeakTest, CanaryLeakSplitOverEventsIsBlockedStreamed) {
  for (const char* cue : {"MOCK_LEAK_CANARY", "MOCK_LEAK_CANARY_B64"}) {
    auto r = Post("canary-enforce", ChatWith("Be brief.", cue, true));
    ASSERT_EQ(r.status, 200) << r.raw;
    auto s = ReadStream(r.body);
    EXPECT_EQ(s.error_code, "canary.leak") << cue << r.body;
    EXPECT_FALSE(HasCanary(s.text)) << s.text;
    EXPECT_EQ(s.text.find("M P -"), std::string::npos) << s.text;
    EXPECT_FALSE(s.done);
  }
}

TEST_F(GatewayLeakTest, CanaryIsRedactedNonStreamedAndStreamed) {
  auto r = Post("canary-redact", ChatWith("Be brief.", "MOCK_LEAK_CANARY", false));
  ASSERT_EQ(r.status, 200) << r.raw;
  EXPECT_EQ(Text(r), "The hidden marker is , as you asked.");
  auto s = ReadStream(Post("canary-redact", ChatWith("Be brief.", "MOCK_LEAK_CANARY", true)).body);
  EXPECT_EQ(s.text, "The hidden marker is , as you asked.");
  EXPECT_TRUE(s.done);
  EXPECT_EQ(s.error_code, "");
  EXPECT_GE(MetricAtLeast("canary-redact",
                          "rampart_findings_total{detector=\"canary\",category=\"prompt_"
                          "extraction\",where=\"response\"}",
                          2),
            2);
}

TEST_F(GatewayLeakTest, CanaryInShadowModeOnlyRecords) {
  const std::string series =
      "rampart_stage_shadow_blocks_total{route=\"canary-shadow\",stage=\"canary\"}";
  const double before = Metric("canary-shadow", series);
  // The canary reaches the upstream in shadow mode too (the echo shows it)...
  auto echo = Post("canary-shadow", ChatWith("Be brief.", "MOCK_ECHO_SYSTEM", false));
  ASSERT_EQ(echo.status, 200) << echo.raw;
  EXPECT_NE(Text(echo).find("Confidential marker: rmp-"), std::string::npos) << Text(echo);
  // ...and a leak passes, recorded.
  auto r = Post("canary-shadow", ChatWith("Be brief.", "MOCK_LEAK_CANARY", false));
  ASSERT_EQ(r.status, 200) << r.raw;
  EXPECT_TRUE(HasCanary(Text(r))) << Text(r);
  auto s = ReadStream(Post("canary-shadow", ChatWith("Be brief.", "MOCK_LEAK_CANARY", true)).body);
  EXPECT_TRUE(HasCanary(s.text)) << s.text;
  EXPECT_TRUE(s.done);
  EXPECT_EQ(s.error_code, "");
  EXPECT_GE(MetricAtLeast("canary-shadow", series, before + 3), before + 3);
}

// --- prompt_leak ------------------------------------------------------------------------

TEST_F(GatewayLeakTest, PromptEchoIsBlockedNonStreamedAndStreamed) {
  auto r = Post("leak-enforce", ChatWith(kPrompt, "MOCK_ECHO_SYSTEM", false));
  EXPECT_EQ(r.status, 403) << r.raw;
  EXPECT_EQ(ErrorCode(r), "prompt_leak.leak");
  EXPECT_EQ(r.raw.find("fraud thresholds"), std::string::npos);

  r = Post("leak-enforce", ChatWith(kPrompt, "MOCK_ECHO_SYSTEM", true));
  ASSERT_EQ(r.status, 200) << r.raw;
  auto s = ReadStream(r.body);
  EXPECT_EQ(s.error_code, "prompt_leak.leak");
  EXPECT_EQ(s.text.find("Acme Bank"), std::string::npos) << s.text;
}

TEST_F(GatewayLeakTest, PromptLeakPassesOrdinaryAnswers) {
  auto r = Post("leak-enforce", ChatWith(kPrompt, "What are your opening hours?", false));
  ASSERT_EQ(r.status, 200) << r.raw;
  EXPECT_EQ(Text(r), "You said: What are your opening hours?");
  auto s =
      ReadStream(Post("leak-enforce", ChatWith(kPrompt, "Do you offer credit cards?", true)).body);
  EXPECT_EQ(s.text, "You said: Do you offer credit cards?");
  EXPECT_TRUE(s.done);
}

TEST_F(GatewayLeakTest, PromptEchoIsRedacted) {
  const std::string want =
      "Certainly. My instructions are as follows: [rampart: removed text that repeats "
      "protected instructions]";
  auto r = Post("leak-redact", ChatWith(kPrompt, "MOCK_ECHO_SYSTEM", false));
  ASSERT_EQ(r.status, 200) << r.raw;
  EXPECT_EQ(Text(r), want);
  auto s = ReadStream(Post("leak-redact", ChatWith(kPrompt, "MOCK_ECHO_SYSTEM", true)).body);
  EXPECT_EQ(s.text, want);
  EXPECT_TRUE(s.done);
}

TEST_F(GatewayLeakTest, PromptLeakInShadowModeOnlyRecords) {
  const std::string series =
      "rampart_stage_shadow_blocks_total{route=\"leak-shadow\",stage=\"prompt_leak\"}";
  const double before = Metric("leak-shadow", series);
  auto r = Post("leak-shadow", ChatWith(kPrompt, "MOCK_ECHO_SYSTEM", false));
  ASSERT_EQ(r.status, 200) << r.raw;
  EXPECT_NE(Text(r).find(kPrompt), std::string::npos);
  auto s = ReadStream(Post("leak-shadow", ChatWith(kPrompt, "MOCK_ECHO_SYSTEM", true)).body);
  EXPECT_NE(s.text.find(kPrompt), std::string::npos) << s.text;
  EXPECT_TRUE(s.done);
  EXPECT_GE(MetricAtLeast("leak-shadow", series, before + 2), before + 2);
  EXPECT_GE(MetricAtLeast("leak-shadow",
                          "rampart_findings_total{detector=\"prompt_leak\",category=\"prompt_"
                          "extraction\",where=\"response\"}",
                          2),
            2);
}

// After leaks in every mode, no canary was written to any gateway's log.
TEST_F(GatewayLeakTest, ZzCanariesNeverReachTheLog) {
  // Leaks through every canary gateway (each test may run in its own process under ctest).
  for (const char* route : {"canary-enforce", "canary-redact", "canary-shadow"}) {
    for (bool stream : {false, true}) {
      Post(route, ChatWith("Be brief.", "MOCK_LEAK_CANARY", stream));
      Post(route, ChatWith("", "MOCK_ECHO_SYSTEM", stream));
    }
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  for (const auto& [route, g] : *gateways_) {
    std::ifstream in(g.log);
    std::stringstream ss;
    ss << in.rdbuf();
    EXPECT_FALSE(ss.str().empty()) << route;  // the gateway does log (start-up at least)
    EXPECT_FALSE(HasCanary(ss.str())) << route << ": " << ss.str();
  }
}

}  // namespace
}  // namespace rampart::testing
