// Runs every data-driven case under test/cases/gateway/: an OpenAI request (and optionally an
// upstream response) through the `chat` route's pipeline (auth, input_scan, output_scan with
// the built-in policy), and the expected outcome. Cases under test/cases/tool_policy/ run
// through the `tools` route (auth, tool_policy: see tool_policy/README.md) instead; their
// response's tool calls go through Stage::OnToolCalls first, and "expect" may also name
// "held": [tools of the message held for approval].
//
// Case format:
//   {"description": "...", "key": "key-alice" (default; "" = no Authorization),
//    "request": {...}, "response": {...},
//    "expect": {"status": 400, "reason": "prompt_injection.blocked",   // a block, or
//               "action": "redact",                                     // the merged verdict
//               "request": {"/messages/0/content": "text after the request stages"},
//               "response": {"/choices/0/message/content": "text after the response stages"}}}
//
// Optional, for cases of other stages: "stages": [{"type": "exfil_links", "config": {...}}]
// replaces the chat route's stages (auth is then not run unless listed); "external": true
// marks the route's upstream external; "stream": ["piece", ...] runs the pieces through the
// streamed-response phase instead of "response", and "expect" may then hold "stream_text"
// (what the client receives). "expect": {"findings": N} checks the number of findings.
//
// Cases under test/cases/canary/ and test/cases/prompt_leak/ (the leak stages) may also have:
//   "stages": [{"type": "canary", ...}]   the route's stages for this case (default: the above)
//   "stream": ["piece", ...]             response text streamed through OnResponseText
//   "stream_piece_bytes": 3              re-split the streamed text into pieces of 3 bytes
//   "expect": {"stream_text": "...",     what the stages released of the stream
//              "no_canary": true}         the canary appears nowhere in the output or record
// In "response" and "stream" strings, {canary}, {canary_spaced} (upper-case, spaced out),
// {canary_base64} and {canary_hex} stand for the canary the request stages inserted.
#include <gtest/gtest.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <cctype>
#include <filesystem>

#include "approvals/approval_store.h"
#include "common/crypto.h"
#include "common/file.h"
#include "config/config.h"
#include "detectors/scanner.h"
#include "pipeline/runner.h"
#include "stages/registry.h"
#include "state/store.h"

namespace rampart {
namespace {

namespace json = boost::json;

std::vector<std::string> CaseFiles() {
  std::vector<std::string> files;
  for (const char* dir : {"/gateway", "/tool_policy", "/canary", "/prompt_leak"}) {
    for (const auto& e :
         std::filesystem::directory_iterator(RAMPART_CASES_DIR + std::string(dir))) {
      if (e.path().extension() == ".json") files.push_back(e.path().string());
    }
  }
  std::sort(files.begin(), files.end());
  return files;
}

// Replaces the {canary...} placeholders of the leak-stage cases.
std::string WithCanary(std::string s, const std::string& canary) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string spaced, hex;
  for (char ch : canary) {
    if (!spaced.empty()) spaced += ' ';
    spaced += static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
    hex += kHex[static_cast<unsigned char>(ch) >> 4];
    hex += kHex[static_cast<unsigned char>(ch) & 15];
  }
  const std::pair<std::string, std::string> subs[] = {{"{canary_spaced}", spaced},
                                                      {"{canary_base64}", Base64Encode(canary)},
                                                      {"{canary_hex}", hex},
                                                      {"{canary}", canary}};
  for (const auto& [from, to] : subs) {
    for (size_t at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size())) {
      s.replace(at, from.size(), to);
    }
  }
  return s;
}

void WithCanary(json::value& v, const std::string& canary) {
  if (v.is_string()) {
    v = WithCanary(std::string(v.get_string()), canary);
  } else if (v.is_array()) {
    for (auto& e : v.get_array()) WithCanary(e, canary);
  } else if (v.is_object()) {
    for (auto& [k, e] : v.get_object()) WithCanary(e, canary);
  }
}

class GatewayCase : public ::testing::TestWithParam<std::string> {
 protected:
  static void SetUpTestSuite() {
    auto c = config::ParseConfig(
        "upstreams: [{name: u, url: 'http://127.0.0.1:1'}]\n"
        "principals: [{name: alice, key_sha256: [" +
            ToHex(Sha256("key-alice")) +
            "]}]\n"
            "routes:\n"
            "  - name: chat\n    kind: openai\n    path: /v1\n    upstream: u\n"
            "    stages: [{type: auth}, {type: input_scan}, {type: output_scan}]\n"
            "  - name: tools\n    kind: openai\n    path: /tools\n    upstream: u\n"
            "    stages:\n      - {type: auth}\n      - type: tool_policy\n"
            "        config:\n          allowed_domains: [example.com]\n"
            "          tools:\n            get_weather: {schema: {type: object, required: "
            "[city], properties: {city: {type: string}}, additionalProperties: false}}\n"
            "            http_get: {}\n            run_sql: {}\n"
            "            transfer_funds: {high_risk: true}\n"
            "          principals: {alice: [get_weather, http_get, run_sql, transfer_funds]}\n",
        "cases");
    ASSERT_TRUE(c.ok()) << c.status();
    config_ = new std::shared_ptr<const config::Config>(*c);
    auto s = detectors::Scanner::FromFiles(RAMPART_RULES_DIR, "");
    ASSERT_TRUE(s.ok()) << s.status();
    scanner_ = new std::shared_ptr<const detectors::Scanner>(std::move(*s));
    pipeline::StageBuildContext ctx;
    ctx.config = config_->get();
    ctx.metrics = &metrics_;
    ctx.state = &store_;
    ctx.scanner =
        [](const std::string&) -> absl::StatusOr<std::shared_ptr<const detectors::Scanner>> {
      return *scanner_;
    };
    dir_ = std::filesystem::temp_directory_path() / ("rampart-cases-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
    auto store = approvals::ApprovalStore::Open({(dir_ / "approvals.db").string()});
    ASSERT_TRUE(store.ok()) << store.status();
    approvals_ = store->release();
    ctx.approvals = approvals_;
    for (size_t i = 0; i < 2; ++i) {
      ctx.route = &(*config_)->routes[i];
      auto p = pipeline::Pipeline::Build(stages::Registry(), ctx);
      ASSERT_TRUE(p.ok()) << p.status();
      pipelines_[i] = p->release();
    }
  }
  static void TearDownTestSuite() {
    for (auto* p : pipelines_) delete p;
    delete approvals_;
    std::filesystem::remove_all(dir_);
    delete scanner_;
    delete config_;
  }
  static inline std::shared_ptr<const config::Config>* config_ = nullptr;
  static inline std::shared_ptr<const detectors::Scanner>* scanner_ = nullptr;
  static inline pipeline::Pipeline* pipelines_[2] = {nullptr, nullptr};  // chat, tools
  static inline approvals::ApprovalStore* approvals_ = nullptr;
  static inline std::filesystem::path dir_;
  static inline pipeline::Metrics metrics_;
  static inline state::InProcessStore store_;
};

TEST_P(GatewayCase, MatchesExpectation) {
  auto raw = ReadFileBounded(GetParam(), 1 << 20);
  ASSERT_TRUE(raw.ok()) << raw.status();
  boost::system::error_code ec;
  auto doc = json::parse(*raw, ec);
  ASSERT_FALSE(ec) << GetParam() << ": " << ec.message();
  const auto& c = doc.as_object();
  const auto& expect = c.at("expect").as_object();

  const size_t route = GetParam().find("/tool_policy/") != std::string::npos ? 1 : 0;
  // A case with its own stages gets its own config and pipeline.
  std::shared_ptr<const config::Config> own_config;
  std::unique_ptr<pipeline::Pipeline> own_pipeline;
  const config::Config* cfg = config_->get();
  const pipeline::Pipeline* pipe = pipelines_[route];
  if (auto* case_stages = c.if_contains("stages")) {
    bool external = c.contains("external") && c.at("external").as_bool();
    auto oc = config::ParseConfig(
        "upstreams: [{name: u, url: 'http://127.0.0.1:1', external: " +
            std::string(external ? "true" : "false") + "}]\nroutes:\n  - name: chat\n" +
            "    kind: openai\n    path: /v1\n    upstream: u\n    stages: " +
            json::serialize(*case_stages) + "\n",
        GetParam());
    ASSERT_TRUE(oc.ok()) << oc.status();
    own_config = *oc;
    pipeline::StageBuildContext ctx;
    ctx.config = own_config.get();
    ctx.route = &own_config->routes[0];
    ctx.metrics = &metrics_;
    ctx.state = &store_;
    ctx.scanner =
        [](const std::string&) -> absl::StatusOr<std::shared_ptr<const detectors::Scanner>> {
      return *scanner_;
    };
    auto p = pipeline::Pipeline::Build(stages::Registry(), ctx);
    ASSERT_TRUE(p.ok()) << GetParam() << ": " << p.status();
    own_pipeline = std::move(*p);
    cfg = own_config.get();
    pipe = own_pipeline.get();
  }

  pipeline::Exchange ex;
  ex.config = cfg;
  ex.route = &cfg->routes[own_pipeline ? 0 : route];
  ex.client_ip = "127.0.0.1";
  std::string key = c.contains("key") ? std::string(c.at("key").as_string()) : "key-alice";
  if (!key.empty()) ex.authorization = "Bearer " + key;
  ex.request = c.at("request");
  if (auto* m = ex.request.as_object().if_contains("model")) ex.model = m->as_string().c_str();

  auto run = pipe->Start();
  pipeline::Decision d = run->OnRequest(ex);
  const std::string canary = ex.canaries.empty() ? std::string() : ex.canaries[0];
  if (!d.blocked() && c.contains("response")) {
    ex.response = c.at("response");
    WithCanary(ex.response, canary);
    d = run->OnResponseToolCalls(ex);
    if (!d.blocked()) d = run->OnResponse(ex);
  }
  std::string streamed;
  if (!d.blocked() && c.contains("stream")) {
    std::vector<std::string> pieces;
    for (const auto& p : c.at("stream").as_array()) {
      pieces.push_back(WithCanary(std::string(p.as_string()), canary));
    }
    if (auto* n = c.if_contains("stream_piece_bytes")) {
      // Re-split the whole text in pieces of n bytes (so a canary is split too).
      std::string whole;
      for (const auto& p : pieces) whole += p;
      pieces.clear();
      const size_t size = static_cast<size_t>(n->as_int64());
      for (size_t at = 0; at < whole.size(); at += size) pieces.push_back(whole.substr(at, size));
    }
    for (size_t i = 0; i <= pieces.size() && !d.blocked(); ++i) {
      const bool last = i == pieces.size();
      std::string piece = last ? "" : pieces[i];
      d = run->OnResponseText(ex, piece, last);
      if (!d.blocked()) streamed += piece;
    }
  }
  if (auto* want = expect.if_contains("stream_text")) {
    EXPECT_EQ(streamed, WithCanary(std::string(want->as_string()), canary)) << GetParam();
  }
  if (auto* n = expect.if_contains("findings")) {
    EXPECT_EQ(static_cast<int64_t>(ex.record.findings.size()), n->as_int64()) << GetParam();
  }
  std::vector<std::string> held;
  for (const auto& h : ex.held) held.insert(held.end(), h.tools.begin(), h.tools.end());
  std::vector<std::string> want_held;
  if (auto* w = expect.if_contains("held")) {
    for (const auto& t : w->as_array()) want_held.emplace_back(t.as_string());
  }
  EXPECT_EQ(held, want_held) << GetParam();
  if (auto* no_canary = expect.if_contains("no_canary");
      no_canary != nullptr && no_canary->as_bool()) {
    ASSERT_FALSE(canary.empty()) << GetParam() << ": no canary was inserted";
    for (const std::string& out :
         {streamed, json::serialize(ex.response), d.message, ex.record.reason}) {
      EXPECT_EQ(out.find(canary), std::string::npos) << GetParam() << ": " << out;
    }
    for (const auto& f : ex.record.findings) {
      EXPECT_EQ((f.field + f.rule + f.label + f.decoded_via).find(canary), std::string::npos);
    }
  }
  if (auto* status = expect.if_contains("status")) {
    EXPECT_TRUE(d.blocked()) << GetParam();
    EXPECT_EQ(d.http_status, status->as_int64()) << GetParam();
  } else {
    EXPECT_FALSE(d.blocked()) << GetParam() << ": " << d.reason;
  }
  if (auto* reason = expect.if_contains("reason")) {
    EXPECT_EQ(ex.record.reason, reason->as_string()) << GetParam();
  }
  if (auto* action = expect.if_contains("action")) {
    EXPECT_EQ(ActionName(ex.record.action), std::string(action->as_string())) << GetParam();
  }
  for (const char* side : {"request", "response"}) {
    const auto* want = expect.if_contains(side);
    if (want == nullptr) continue;
    const json::value& body = std::string(side) == "request" ? ex.request : ex.response;
    for (const auto& [pointer, text] : want->as_object()) {
      boost::system::error_code pec;
      const json::value* got = body.find_pointer(pointer, pec);
      ASSERT_NE(got, nullptr) << GetParam() << ": " << pointer;
      json::value expected = text;
      WithCanary(expected, canary);
      EXPECT_EQ(*got, expected) << GetParam() << ": " << pointer;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Cases, GatewayCase, ::testing::ValuesIn(CaseFiles()),
                         [](const ::testing::TestParamInfo<std::string>& param) {
                           std::filesystem::path path(param.param);
                           std::string dir = path.parent_path().filename().string();
                           // Leak-stage cases are named after their folder too.
                           std::string name =
                               (dir == "gateway" ? "" : dir + "_") + path.stem().string();
                           for (char& ch : name) {
                             if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
                           }
                           return name;
                         });

}  // namespace
}  // namespace rampart
