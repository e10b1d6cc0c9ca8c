// Unit tests of the leak stages (canary, prompt_leak) through the runner.
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "common/crypto.h"
#include "config/config.h"
#include "pipeline/runner.h"
#include "stages/registry.h"
#include "state/store.h"

namespace rampart::stages {
namespace {

namespace json = boost::json;

struct Harness {
  std::shared_ptr<const config::Config> config;
  pipeline::Metrics metrics;
  state::InProcessStore store;
  std::unique_ptr<pipeline::Pipeline> pipeline;

  absl::Status Build(const std::string& stages_yaml, const std::string& kind = "openai") {
    std::string yaml =
        "upstreams: [{name: u, url: 'http://127.0.0.1:1'}]\n"
        "routes:\n"
        "  - name: chat\n    kind: " +
        kind + "\n    path: /v1\n    upstream: u\n    stages:\n" + stages_yaml;
    auto c = config::ParseConfig(yaml, "t");
    if (!c.ok()) return c.status();
    config = *c;
    pipeline::StageBuildContext ctx;
    ctx.config = config.get();
    ctx.route = &config->routes[0];
    ctx.metrics = &metrics;
    ctx.state = &store;
    ctx.scanner =
        [](const std::string&) -> absl::StatusOr<std::shared_ptr<const detectors::Scanner>> {
      return absl::UnimplementedError("no scanner in these tests");
    };
    auto p = pipeline::Pipeline::Build(Registry(), ctx);
    if (!p.ok()) return p.status();
    pipeline = std::move(*p);
    return absl::OkStatus();
  }
  pipeline::Exchange Request(const std::string& body) {
    pipeline::Exchange ex;
    ex.config = config.get();
    ex.route = &config->routes[0];
    ex.request = json::parse(body);
    return ex;
  }
};

const char* kSystemChat = R"({"model":"m","messages":[{"role":"system","content":"Be brief."},)"
                          R"({"role":"user","content":"hello"}]})";

json::value ChatResponse(const std::string& content) {
  return json::object{
      {"choices",
       json::array{json::object{
           {"index", 0}, {"message", json::object{{"role", "assistant"}, {"content", content}}}}}}};
}

std::string Content(const pipeline::Exchange& ex) {
  return std::string(ex.response.at_pointer("/choices/0/message/content").as_string());
}

std::string Spaced(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (!out.empty()) out += ' ';
    out += static_cast<char>(c >= 'a' && c <= 'z' ? c - 'a' + 'A' : c);
  }
  return out;
}

std::string Hex(const std::string& s) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : s) {
    out += kHex[c >> 4];
    out += kHex[c & 15];
  }
  return out;
}

// Streams `text` through `run` in pieces of `n` bytes; returns what the stages released and
// the first blocking decision's reason ("" when none).
std::pair<std::string, std::string> Stream(pipeline::Pipeline::Run& run, pipeline::Exchange& ex,
                                           const std::string& text, size_t n) {
  std::string released;
  for (size_t i = 0; i < text.size(); i += n) {
    std::string piece = text.substr(i, n);
    auto d = run.OnResponseText(ex, piece, false);
    if (d.blocked()) return {released, d.reason};
    released += piece;
  }
  std::string tail;
  auto d = run.OnResponseText(ex, tail, true);
  if (d.blocked()) return {released, d.reason};
  return {released + tail, ""};
}

// Everything the record holds, as text, to check that no canary made it in.
std::string RecordText(const pipeline::Exchange& ex) {
  std::string out = ex.record.reason;
  for (const auto& f : ex.record.findings) {
    out += f.detector + f.rule + f.field + f.decoded_via + f.label;
  }
  for (const auto& s : ex.record.stages) out += s.stage + s.reason + s.outcome;
  return out;
}

// --- canary -----------------------------------------------------------------------------

TEST(CanaryStageTest, InsertsAFreshCanaryIntoTheSystemPrompt) {
  Harness h;
  ASSERT_TRUE(h.Build("      - {type: canary}\n").ok());
  auto ex1 = h.Request(kSystemChat);
  ASSERT_FALSE(h.pipeline->Start()->OnRequest(ex1).blocked());
  ASSERT_EQ(ex1.canaries.size(), 1u);
  const std::string& c1 = ex1.canaries[0];
  EXPECT_EQ(c1.size(), 24u);
  EXPECT_EQ(c1.rfind("rmp-", 0), 0u);
  std::string sys(ex1.request.at_pointer("/messages/0/content").as_string());
  EXPECT_EQ(sys.rfind("Be brief.\n\nConfidential marker: ", 0), 0u) << sys;
  EXPECT_NE(sys.find(c1), std::string::npos);
  // The user's message is untouched and no message was added.
  EXPECT_EQ(ex1.request.at("messages").as_array().size(), 2u);
  EXPECT_EQ(ex1.request.at_pointer("/messages/1/content").as_string(), "hello");

  auto ex2 = h.Request(kSystemChat);
  h.pipeline->Start()->OnRequest(ex2);
  ASSERT_EQ(ex2.canaries.size(), 1u);
  EXPECT_NE(ex2.canaries[0], c1);
}

TEST(CanaryStageTest, PositionPartsAndMissingSystemPrompt) {
  Harness h;
  ASSERT_TRUE(
      h.Build("      - {type: canary, config: {position: start, template: 'M={canary}'}}\n").ok());
  auto ex = h.Request(kSystemChat);
  h.pipeline->Start()->OnRequest(ex);
  EXPECT_EQ(ex.request.at_pointer("/messages/0/content").as_string(),
            "M=" + ex.canaries[0] + "\n\nBe brief.");

  auto parts =
      h.Request(R"({"messages":[{"role":"developer","content":[{"type":"text","text":"Rules."}]},)"
                R"({"role":"user","content":"hi"}]})");
  h.pipeline->Start()->OnRequest(parts);
  EXPECT_EQ(parts.request.at_pointer("/messages/0/content/0/text").as_string(),
            "M=" + parts.canaries[0]);
  EXPECT_EQ(parts.request.at_pointer("/messages/0/content/1/text").as_string(), "Rules.");

  auto none = h.Request(R"({"messages":[{"role":"user","content":"hi"}]})");
  h.pipeline->Start()->OnRequest(none);
  ASSERT_EQ(none.request.at("messages").as_array().size(), 2u);
  EXPECT_EQ(none.request.at_pointer("/messages/0/role").as_string(), "system");
  EXPECT_EQ(none.request.at_pointer("/messages/0/content").as_string(), "M=" + none.canaries[0]);

  Harness skip;
  ASSERT_TRUE(skip.Build("      - {type: canary, config: {when_no_system_prompt: skip}}\n").ok());
  auto bare = skip.Request(R"({"messages":[{"role":"user","content":"hi"}]})");
  skip.pipeline->Start()->OnRequest(bare);
  EXPECT_TRUE(bare.canaries.empty());
  EXPECT_EQ(bare.request.at("messages").as_array().size(), 1u);

  // Completions have no system prompt to put a canary in.
  auto completion = h.Request(R"({"model":"m","prompt":"once upon a time"})");
  h.pipeline->Start()->OnRequest(completion);
  EXPECT_TRUE(completion.canaries.empty());
}

TEST(CanaryStageTest, BlocksEveryFormOfTheCanaryInAResponse) {
  Harness h;
  ASSERT_TRUE(h.Build("      - {type: canary}\n").ok());
  auto forms = [](const std::string& c) {
    return std::vector<std::string>{
        "Sure: " + c,
        "The marker is " + Spaced(c) + ".",
        "base64: " + Base64Encode(c),
        "base64, shifted: " + Base64Encode("xy" + c + "z"),
        "hex " + Hex(c),
    };
  };
  for (size_t i = 0; i < 5; ++i) {
    auto ex = h.Request(kSystemChat);
    auto run = h.pipeline->Start();
    ASSERT_FALSE(run->OnRequest(ex).blocked());
    const std::string leak = forms(ex.canaries[0])[i];
    ex.response = ChatResponse(leak);
    auto d = run->OnResponse(ex);
    EXPECT_TRUE(d.blocked()) << leak;
    EXPECT_EQ(d.http_status, 403);
    EXPECT_EQ(d.reason, "canary.leak");
    EXPECT_EQ(d.message.find(ex.canaries[0]), std::string::npos);
    ASSERT_FALSE(ex.record.findings.empty());
    const auto& f = ex.record.findings[0];
    EXPECT_EQ(f.rule, "canary.leak");
    EXPECT_EQ(f.severity, Severity::kHigh);
    EXPECT_EQ(f.category, Category::kPromptExtraction);
    EXPECT_EQ(f.field, "response/choices/0/message/content");
    EXPECT_EQ(RecordText(ex).find(ex.canaries[0]), std::string::npos);
  }
}

TEST(CanaryStageTest, BenignLookAlikesPass) {
  Harness h;
  ASSERT_TRUE(h.Build("      - {type: canary}\n").ok());
  auto ex = h.Request(kSystemChat);
  auto run = h.pipeline->Start();
  run->OnRequest(ex);
  // Another canary-shaped token, the prefix alone, and most of the canary are not a leak.
  const std::string& c = ex.canaries[0];
  std::string text = "Tokens like rmp-abcdefghijklmnopqrst are markers; rmp- alone, or " +
                     c.substr(0, 20) + " (truncated) is fine.";
  ex.response = ChatResponse(text);
  auto d = run->OnResponse(ex);
  EXPECT_FALSE(d.blocked());
  EXPECT_EQ(Content(ex), text);
  EXPECT_TRUE(ex.record.findings.empty());
}

TEST(CanaryStageTest, RedactRemovesTheCanaryAndKeepsTheRest) {
  Harness h;
  ASSERT_TRUE(h.Build("      - {type: canary, config: {action: redact}}\n").ok());
  auto ex = h.Request(kSystemChat);
  auto run = h.pipeline->Start();
  run->OnRequest(ex);
  const std::string c = ex.canaries[0];
  ex.response = ChatResponse("A " + c + " B " + Spaced(c) + " C");
  auto d = run->OnResponse(ex);
  EXPECT_FALSE(d.blocked());
  EXPECT_EQ(Content(ex), "A  B  C");
  EXPECT_EQ(ex.record.action, Action::kRedact);
  EXPECT_EQ(ex.record.reason, "canary.redacted");
  EXPECT_EQ(ex.record.findings.size(), 2u);
}

TEST(CanaryStageTest, ToolCallArgumentsAreSearchedToo) {
  Harness h;
  ASSERT_TRUE(h.Build("      - {type: canary}\n").ok());
  auto ex = h.Request(kSystemChat);
  auto run = h.pipeline->Start();
  run->OnRequest(ex);
  ex.response = json::object{
      {"choices",
       json::array{json::object{
           {"message",
            json::object{{"tool_calls",
                          json::array{json::object{
                              {"function", json::object{{"name", "send"},
                                                        {"arguments", "{\"x\":\"" + ex.canaries[0] +
                                                                          "\"}"}}}}}}}}}}}};
  EXPECT_TRUE(run->OnResponse(ex).blocked());
}

TEST(CanaryStageTest, StreamedCanarySplitAcrossPiecesIsBlockedBeforeRelease) {
  Harness h;
  ASSERT_TRUE(h.Build("      - {type: canary}\n").ok());
  for (size_t n : {1, 3, 4, 7}) {
    auto ex = h.Request(kSystemChat);
    auto run = h.pipeline->Start();
    run->OnRequest(ex);
    const std::string c = ex.canaries[0];
    auto [released, reason] =
        Stream(*run, ex, "Hello there. The marker is " + Spaced(c) + ", ok.", n);
    EXPECT_EQ(reason, "canary.leak") << n;
    // Nothing of the canary beyond its first letters left before the block.
    EXPECT_EQ(released.find("M P"), std::string::npos) << released;
    EXPECT_EQ(RecordText(ex).find(c), std::string::npos);
  }
}

TEST(CanaryStageTest, StreamedRedactionAndPromptRelease) {
  Harness h;
  ASSERT_TRUE(h.Build("      - {type: canary, config: {action: redact}}\n").ok());
  auto ex = h.Request(kSystemChat);
  auto run = h.pipeline->Start();
  run->OnRequest(ex);
  const std::string c = ex.canaries[0];
  auto [released, reason] = Stream(*run, ex, "x " + Base64Encode(c) + " y " + c + " z", 5);
  EXPECT_EQ(reason, "");
  EXPECT_EQ(released.find(c), std::string::npos);
  EXPECT_EQ(released.find(Base64Encode(c).substr(4, 20)), std::string::npos) << released;
  EXPECT_EQ(released.rfind("x ", 0), 0u);
  EXPECT_EQ(released.substr(released.size() - 2), " z");
  EXPECT_EQ(ex.record.findings.size(), 2u);

  // Ordinary text is released as it comes, minus a possible canary start.
  auto ex2 = h.Request(kSystemChat);
  auto run2 = h.pipeline->Start();
  run2->OnRequest(ex2);
  std::string piece = "Hello world, how are you doing today? ";
  run2->OnResponseText(ex2, piece, false);
  EXPECT_GE(piece.size(), 30u) << piece;
}

TEST(CanaryStageTest, EveryStreamedChoiceIsCheckedInItsOwnRun) {
  Harness h;
  ASSERT_TRUE(h.Build("      - {type: canary}\n").ok());
  auto ex = h.Request(kSystemChat);
  auto run0 = h.pipeline->Start();
  run0->OnRequest(ex);
  // The server starts a new run for choice 1 (see run_for in server.cc).
  auto run1 = h.pipeline->Start();
  auto [released, reason] = Stream(*run1, ex, "choice one: " + ex.canaries[0], 4);
  EXPECT_EQ(reason, "canary.leak");
}

TEST(CanaryStageTest, ShadowModeInsertsTheCanaryButOnlyRecordsTheLeak) {
  Harness h;
  ASSERT_TRUE(h.Build("      - {type: canary, mode: shadow}\n").ok());
  auto ex = h.Request(kSystemChat);
  auto run = h.pipeline->Start();
  ASSERT_FALSE(run->OnRequest(ex).blocked());
  ASSERT_EQ(ex.canaries.size(), 1u);
  const std::string c = ex.canaries[0];
  // The canary reaches the upstream even in shadow mode: without it nothing can be detected.
  EXPECT_NE(std::string(ex.request.at_pointer("/messages/0/content").as_string()).find(c),
            std::string::npos);
  ex.response = ChatResponse("leak: " + c);
  EXPECT_FALSE(run->OnResponse(ex).blocked());
  EXPECT_EQ(Content(ex), "leak: " + c);
  ASSERT_EQ(ex.record.findings.size(), 1u);
  ASSERT_FALSE(ex.record.stages.empty());
  EXPECT_EQ(ex.record.stages.back().outcome, "shadow_block");
  EXPECT_EQ(ex.record.stages.back().reason, "canary.leak");

  auto [released, reason] = Stream(*run, ex, "stream leak: " + Spaced(c), 3);
  EXPECT_EQ(reason, "");
  EXPECT_EQ(released, "stream leak: " + Spaced(c));
}

TEST(CanaryStageTest, ConfigErrors) {
  Harness h;
  auto st = h.Build("      - {type: canary, config: {template: 'no placeholder'}}\n");
  EXPECT_NE(st.message().find("routes[0].stages[0].config.template: must contain {canary}"),
            std::string::npos)
      << st;
  st = h.Build("      - {type: canary, config: {template: '{canary}{canary}'}}\n");
  EXPECT_FALSE(st.ok());
  st = h.Build("      - {type: canary, config: {prefix: 'Bad Prefix'}}\n");
  EXPECT_NE(st.message().find("config.prefix"), std::string::npos) << st;
  st = h.Build("      - {type: canary, config: {action: drop}}\n");
  EXPECT_FALSE(st.ok());
  st = h.Build("      - {type: canary, config: {stream_window: 8}}\n");
  EXPECT_FALSE(st.ok());
  st = h.Build("      - {type: canary, config: {colour: red}}\n");
  EXPECT_FALSE(st.ok());
  st = h.Build("      - {type: canary}\n", "passthrough");
  EXPECT_NE(st.message().find("needs an openai route"), std::string::npos) << st;
}

// --- prompt_leak ------------------------------------------------------------------------

const char* kPrompt =
    "You are the support assistant of Acme Bank. Answer questions about accounts, cards and "
    "transfers. Never discuss internal fraud thresholds, which are 4000 euros per day for new "
    "customers. Escalate complaints to a human agent via the handoff tool.";

std::string PromptChat() {
  json::object o{{"model", "m"},
                 {"messages", json::array{json::object{{"role", "system"}, {"content", kPrompt}},
                                          json::object{{"role", "user"}, {"content", "hi"}}}}};
  return json::serialize(o);
}

TEST(PromptLeakStageTest, VerbatimAndNearVerbatimCopiesAreBlocked) {
  Harness h;
  ASSERT_TRUE(h.Build("      - {type: prompt_leak}\n").ok());
  for (const std::string& leak :
       {std::string("My instructions: ") + kPrompt,
        std::string("MY INSTRUCTIONS: never discuss internal fraud thresholds, which are 4000 "
                    "EUROS per day for new customers!! Escalate complaints to a human agent "
                    "via the handoff tool.")}) {
    auto ex = h.Request(PromptChat());
    auto run = h.pipeline->Start();
    ASSERT_FALSE(run->OnRequest(ex).blocked());
    ex.response = ChatResponse(leak);
    auto d = run->OnResponse(ex);
    EXPECT_TRUE(d.blocked()) << leak;
    EXPECT_EQ(d.reason, "prompt_leak.leak");
    ASSERT_EQ(ex.record.findings.size(), 1u);
    EXPECT_EQ(ex.record.findings[0].rule, "prompt_leak.system_prompt");
    EXPECT_EQ(ex.record.findings[0].severity, Severity::kHigh);
  }
}

TEST(PromptLeakStageTest, SharedPhrasesAndShortPromptsPass) {
  Harness h;
  ASSERT_TRUE(h.Build("      - {type: prompt_leak}\n").ok());
  auto ex = h.Request(PromptChat());
  auto run = h.pipeline->Start();
  run->OnRequest(ex);
  const std::string benign =
      "I am the support assistant of Acme Bank. I can help with accounts, cards and transfers; "
      "for complaints I can connect you to a human agent.";
  ex.response = ChatResponse(benign);
  EXPECT_FALSE(run->OnResponse(ex).blocked());
  EXPECT_EQ(Content(ex), benign);

  // "Be brief." is too short to protect: repeating it is not a leak.
  auto ex2 = h.Request(kSystemChat);
  auto run2 = h.pipeline->Start();
  run2->OnRequest(ex2);
  ex2.response = ChatResponse("Be brief. Be brief. Be brief.");
  EXPECT_FALSE(run2->OnResponse(ex2).blocked());
}

TEST(PromptLeakStageTest, ConfiguredProtectedStrings) {
  Harness h;
  ASSERT_TRUE(h.Build("      - {type: prompt_leak, config: {protect_system_prompt: false, "
                      "protected: ['launch code phrase purple otter seventeen']}}\n")
                  .ok());
  auto ex = h.Request(PromptChat());
  auto run = h.pipeline->Start();
  run->OnRequest(ex);
  ex.response = ChatResponse("the Launch-Code phrase: Purple Otter Seventeen.");
  auto d = run->OnResponse(ex);
  EXPECT_TRUE(d.blocked());
  ASSERT_EQ(ex.record.findings.size(), 1u);
  EXPECT_EQ(ex.record.findings[0].rule, "prompt_leak.protected");

  // The system prompt is not protected here.
  auto ex2 = h.Request(PromptChat());
  auto run2 = h.pipeline->Start();
  run2->OnRequest(ex2);
  ex2.response = ChatResponse(kPrompt);
  EXPECT_FALSE(run2->OnResponse(ex2).blocked());
}

TEST(PromptLeakStageTest, RedactCutsFromTheCopiedPassage) {
  Harness h;
  ASSERT_TRUE(h.Build("      - {type: prompt_leak, config: {action: redact}}\n").ok());
  auto ex = h.Request(PromptChat());
  auto run = h.pipeline->Start();
  run->OnRequest(ex);
  ex.response = ChatResponse(std::string("Happy to help. ") + kPrompt);
  EXPECT_FALSE(run->OnResponse(ex).blocked());
  EXPECT_EQ(Content(ex),
            "Happy to help. [rampart: removed text that repeats protected instructions]");
  EXPECT_EQ(ex.record.reason, "prompt_leak.redacted");
}

TEST(PromptLeakStageTest, StreamedCopyIsCaughtBeforeItLeaves) {
  Harness h;
  ASSERT_TRUE(h.Build("      - {type: prompt_leak, config: {stream_window: 256}}\n").ok());
  auto ex = h.Request(PromptChat());
  auto run = h.pipeline->Start();
  run->OnRequest(ex);
  std::string text = std::string(300, '.') + " Sure! " + kPrompt;
  auto [released, reason] = Stream(*run, ex, text, 4);
  EXPECT_EQ(reason, "prompt_leak.leak");
  EXPECT_EQ(released.find("Acme Bank"), std::string::npos) << released;
  EXPECT_GE(released.size(), 40u);  // text long before the copy was released

  Harness r;
  ASSERT_TRUE(r.Build("      - {type: prompt_leak, config: {action: redact}}\n").ok());
  auto ex2 = r.Request(PromptChat());
  auto run2 = r.pipeline->Start();
  run2->OnRequest(ex2);
  auto [red, reason2] = Stream(*run2, ex2, std::string("Sure! ") + kPrompt + " Bye.", 3);
  EXPECT_EQ(reason2, "");
  EXPECT_EQ(red, "Sure! [rampart: removed text that repeats protected instructions]");

  // Benign streamed text passes whole.
  auto ex3 = h.Request(PromptChat());
  auto run3 = h.pipeline->Start();
  run3->OnRequest(ex3);
  const std::string benign = "Your card transfer limits are shown in the app under Settings.";
  auto [ok, reason3] = Stream(*run3, ex3, benign, 2);
  EXPECT_EQ(reason3, "");
  EXPECT_EQ(ok, benign);
}

TEST(PromptLeakStageTest, EachExchangeProtectsItsOwnPromptWithTheIndexCache) {
  for (const char* cache : {"1", "0"}) {
    Harness h;
    ASSERT_TRUE(
        h.Build(std::string("      - {type: prompt_leak, config: {index_cache: ") + cache + "}}\n")
            .ok());
    const std::string other =
        "You are a travel agent for Globex Tours. Offer only packages from the current "
        "catalogue, quote prices in dollars, and never mention the partner discount of 35 "
        "percent that agencies receive.";
    auto with_prompt = [&](const std::string& prompt, const std::string& reply) {
      json::object o{{"messages", json::array{json::object{{"role", "system"}, {"content", prompt}},
                                              json::object{{"role", "user"}, {"content", "hi"}}}}};
      auto ex = h.Request(json::serialize(o));
      auto run = h.pipeline->Start();
      run->OnRequest(ex);
      ex.response = ChatResponse(reply);
      return run->OnResponse(ex).blocked();
    };
    // Alternating prompts with a one-entry cache: each exchange is checked against its own.
    for (int i = 0; i < 2; ++i) {
      EXPECT_TRUE(with_prompt(kPrompt, kPrompt)) << cache;
      EXPECT_FALSE(with_prompt(kPrompt, other)) << cache;
      EXPECT_TRUE(with_prompt(other, other)) << cache;
      EXPECT_FALSE(with_prompt(other, kPrompt)) << cache;
    }
  }
}

TEST(PromptLeakStageTest, ShadowModeOnlyRecords) {
  Harness h;
  ASSERT_TRUE(h.Build("      - {type: prompt_leak, mode: shadow}\n").ok());
  auto ex = h.Request(PromptChat());
  auto run = h.pipeline->Start();
  run->OnRequest(ex);
  ex.response = ChatResponse(kPrompt);
  EXPECT_FALSE(run->OnResponse(ex).blocked());
  EXPECT_EQ(Content(ex), kPrompt);
  EXPECT_EQ(ex.record.stages.back().outcome, "shadow_block");
  EXPECT_EQ(ex.record.findings.size(), 1u);
}

TEST(PromptLeakStageTest, ConfigErrors) {
  Harness h;
  auto st = h.Build("      - {type: prompt_leak, config: {protect_system_prompt: false}}\n");
  EXPECT_NE(st.message().find("nothing to protect"), std::string::npos) << st;
  st = h.Build("      - {type: prompt_leak, config: {protected: ['...']}}\n");
  EXPECT_NE(st.message().find("config.protected[0]: has no words"), std::string::npos) << st;
  st = h.Build("      - {type: prompt_leak, config: {min_fraction: 2}}\n");
  EXPECT_FALSE(st.ok());
  st = h.Build("      - {type: prompt_leak, config: {shingle_words: 1}}\n");
  EXPECT_FALSE(st.ok());
}

}  // namespace
}  // namespace rampart::stages
