#include "pipeline/runner.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "absl/status/status.h"

namespace rampart::pipeline {
namespace {

// A stage that does what its config says: {"do": "block"|"error"|"redact"|"continue"}.
class CueStage : public Stage {
 public:
  explicit CueStage(std::string cue) : cue_(std::move(cue)) {}
  absl::StatusOr<Decision> OnRequest(Exchange& ex) override {
    if (cue_ == "error") return absl::InternalError("cue");
    if (cue_ == "block") return Decision::Block(403, "cue.blocked", "blocked");
    if (cue_ == "redact") {
      ex.request.as_object()["text"] = "[REDACTED]";
      Decision d;
      d.action = Action::kRedact;
      d.reason = "cue.redacted";
      return d;
    }
    return Decision::Continue();
  }
  absl::StatusOr<Decision> OnResponseText(Exchange&, std::string& text, bool last) override {
    // Holds everything back until the end, then upper-cases it.
    held_ += text;
    text.clear();
    if (last) {
      for (char& c : held_) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      text = std::move(held_);
    }
    return Decision::Continue();
  }

 private:
  std::string cue_;
  std::string held_;
};

class CueFactory : public StageFactory {
 public:
  explicit CueFactory(std::string cue) : cue_(std::move(cue)) {}
  std::unique_ptr<Stage> Create() const override { return std::make_unique<CueStage>(cue_); }

 private:
  std::string cue_;
};

// The same stage made with MakeStage: it takes part only in the phases it has hooks for
// (request and stream).
class PhasedCueFactory : public StageFactory {
 public:
  explicit PhasedCueFactory(std::string cue) : cue_(std::move(cue)) {}
  std::unique_ptr<Stage> Create() const override { return MakeStage<CueStage>(cue_); }

 private:
  std::string cue_;
};

absl::StatusOr<std::unique_ptr<StageFactory>> BuildCue(const StageBuildContext&,
                                                       const config::StageConfig& sc) {
  return std::make_unique<CueFactory>(std::string(sc.config.at("do").as_string()));
}

absl::StatusOr<std::unique_ptr<StageFactory>> BuildPhasedCue(const StageBuildContext&,
                                                             const config::StageConfig& sc) {
  return std::make_unique<PhasedCueFactory>(std::string(sc.config.at("do").as_string()));
}

const StageRegistration kRegistry[] = {{"cue", &BuildCue}, {"phased_cue", &BuildPhasedCue}};

// Phases are the hooks a type overrides, its own or a base's (other than Stage's).
class NoHooks : public Stage {};
class ResponseOnly : public Stage {
 public:
  absl::StatusOr<Decision> OnResponse(Exchange&) override { return Decision::Continue(); }
};
class CueWithToolCalls : public CueStage {
 public:
  using CueStage::CueStage;
  absl::StatusOr<Decision> OnToolCalls(Exchange&, boost::json::object&) override {
    return Decision::Continue();
  }
};
static_assert(StagePhasesOf<NoHooks>() == 0);
static_assert(StagePhasesOf<ResponseOnly>() == Stage::kPhaseResponse);
static_assert(StagePhasesOf<CueStage>() == (Stage::kPhaseRequest | Stage::kPhaseStream));
static_assert(StagePhasesOf<CueWithToolCalls>() ==
              (Stage::kPhaseRequest | Stage::kPhaseStream | Stage::kPhaseToolCalls));

struct Fixture {
  config::RouteConfig route;
  Metrics metrics;
  std::unique_ptr<Pipeline> pipeline;

  void Add(const char* cue, config::StageMode mode, config::OnError on_error,
           const char* type = "cue") {
    config::StageConfig sc;
    sc.type = type;
    sc.mode = mode;
    sc.on_error = on_error;
    sc.config = boost::json::object{{"do", cue}};
    sc.path = "routes[0].stages[" + std::to_string(route.stages.size()) + "]";
    route.stages.push_back(sc);
  }
  void Build() {
    route.name = "r";
    StageBuildContext ctx;
    ctx.route = &route;
    ctx.metrics = &metrics;
    auto p = Pipeline::Build(kRegistry, ctx);
    ASSERT_TRUE(p.ok()) << p.status();
    pipeline = std::move(*p);
  }
  uint64_t Count(const char* name, const char* stage = "cue") {
    return metrics.Value(name, std::string("route=\"r\",stage=\"") + stage + "\"");
  }
  uint64_t LatencySamples(const char* stage) {
    return metrics
        .Hist("rampart_stage_latency_seconds", std::string("route=\"r\",stage=\"") + stage + "\"")
        ->count();
  }
};

Exchange NewExchange() {
  Exchange ex;
  ex.request = boost::json::object{{"text", "secret"}};
  return ex;
}

TEST(RunnerTest, EnforcedBlockStopsTheExchange) {
  Fixture f;
  f.Add("block", config::StageMode::kEnforce, config::OnError::kBlock);
  f.Build();
  Exchange ex = NewExchange();
  Decision d = f.pipeline->Start()->OnRequest(ex);
  EXPECT_TRUE(d.blocked());
  EXPECT_EQ(d.http_status, 403);
  EXPECT_EQ(ex.record.reason, "cue.blocked");
  EXPECT_EQ(ex.record.action, Action::kBlock);
  EXPECT_EQ(f.Count("rampart_stage_blocks_total"), 1u);
}

TEST(RunnerTest, ShadowBlockIsCountedNotEnforced) {
  Fixture f;
  f.Add("block", config::StageMode::kShadow, config::OnError::kBlock);
  f.Build();
  Exchange ex = NewExchange();
  Decision d = f.pipeline->Start()->OnRequest(ex);
  EXPECT_FALSE(d.blocked());
  EXPECT_EQ(f.Count("rampart_stage_shadow_blocks_total"), 1u);
  EXPECT_EQ(f.Count("rampart_stage_blocks_total"), 0u);
  ASSERT_EQ(ex.record.stages.size(), 1u);
  EXPECT_EQ(ex.record.stages[0].outcome, "shadow_block");
}

TEST(RunnerTest, ShadowEditsAreDiscarded) {
  Fixture f;
  f.Add("redact", config::StageMode::kShadow, config::OnError::kBlock);
  f.Build();
  Exchange ex = NewExchange();
  f.pipeline->Start()->OnRequest(ex);
  EXPECT_EQ(ex.request.at("text").as_string(), "secret");
  EXPECT_EQ(ex.record.action, Action::kAllow);
}

TEST(RunnerTest, EnforcedEditsApplyAndMergeVerdict) {
  Fixture f;
  f.Add("redact", config::StageMode::kEnforce, config::OnError::kBlock);
  f.Add("continue", config::StageMode::kEnforce, config::OnError::kBlock);
  f.Build();
  Exchange ex = NewExchange();
  EXPECT_FALSE(f.pipeline->Start()->OnRequest(ex).blocked());
  EXPECT_EQ(ex.request.at("text").as_string(), "[REDACTED]");
  EXPECT_EQ(ex.record.action, Action::kRedact);
  EXPECT_EQ(ex.record.reason, "cue.redacted");
}

TEST(RunnerTest, ErrorFailsClosedByDefault) {
  Fixture f;
  f.Add("error", config::StageMode::kEnforce, config::OnError::kBlock);
  f.Build();
  Exchange ex = NewExchange();
  Decision d = f.pipeline->Start()->OnRequest(ex);
  EXPECT_TRUE(d.blocked());
  EXPECT_EQ(d.http_status, 503);
  EXPECT_EQ(d.reason, "cue.error");
  EXPECT_EQ(f.Count("rampart_stage_errors_total"), 1u);
}

TEST(RunnerTest, ErrorWithOnErrorAllowContinues) {
  Fixture f;
  f.Add("error", config::StageMode::kEnforce, config::OnError::kAllow);
  f.Add("block", config::StageMode::kEnforce, config::OnError::kBlock);
  f.Build();
  Exchange ex = NewExchange();
  Decision d = f.pipeline->Start()->OnRequest(ex);
  // The error was allowed, so the next stage ran and blocked.
  EXPECT_EQ(d.reason, "cue.blocked");
  EXPECT_EQ(f.Count("rampart_stage_errors_total"), 1u);
  EXPECT_EQ(ex.record.stages[0].outcome, "error_allowed");
}

TEST(RunnerTest, StreamTextHeldBackUntilLast) {
  Fixture f;
  f.Add("continue", config::StageMode::kEnforce, config::OnError::kBlock);
  f.Build();
  Exchange ex = NewExchange();
  auto run = f.pipeline->Start();
  std::string piece = "abc";
  run->OnResponseText(ex, piece, false);
  EXPECT_EQ(piece, "");
  piece = "def";
  run->OnResponseText(ex, piece, false);
  std::string tail;
  run->OnResponseText(ex, tail, true);
  EXPECT_EQ(tail, "ABCDEF");
}

TEST(RunnerTest, StageRunsOnlyInItsPhases) {
  // Both stages block in the request phase, but only in shadow mode, so the exchange goes on
  // through every phase. The one made with make_unique runs (and is timed and recorded) in
  // all of them; the one made with MakeStage only where it has a hook.
  Fixture f;
  f.Add("block", config::StageMode::kShadow, config::OnError::kBlock);
  f.Add("block", config::StageMode::kShadow, config::OnError::kBlock, "phased_cue");
  f.Build();
  EXPECT_EQ(std::make_unique<CueStage>("block")->phases(), Stage::kAllPhases);
  EXPECT_EQ(MakeStage<CueStage>("block")->phases(), Stage::kPhaseRequest | Stage::kPhaseStream);
  Exchange ex = NewExchange();
  auto run = f.pipeline->Start();
  EXPECT_FALSE(run->OnRequest(ex).blocked());
  ex.response = boost::json::object{{"text", "answer"}};
  EXPECT_FALSE(run->OnResponse(ex).blocked());
  boost::json::object message{{"role", "assistant"}};
  EXPECT_FALSE(run->OnToolCalls(ex, message).blocked());
  std::string text = "streamed";
  EXPECT_FALSE(run->OnResponseText(ex, text, true).blocked());

  EXPECT_EQ(f.LatencySamples("cue"), 4u);
  EXPECT_EQ(f.Count("rampart_stage_runs_total", "cue"), 3u);  // stream pieces are not counted
  EXPECT_EQ(f.LatencySamples("phased_cue"), 2u);              // request and stream
  EXPECT_EQ(f.Count("rampart_stage_runs_total", "phased_cue"), 1u);
  std::vector<std::string> rows;
  for (const auto& r : ex.record.stages) rows.push_back(r.stage + "." + r.phase);
  EXPECT_EQ(rows, (std::vector<std::string>{"cue.request", "phased_cue.request", "cue.response",
                                            "cue.tool_calls"}));
  EXPECT_EQ(f.Count("rampart_stage_shadow_blocks_total", "phased_cue"), 1u);
}

TEST(RunnerTest, UnknownStageTypeNamesThePath) {
  config::RouteConfig route;
  config::StageConfig sc;
  sc.type = "nope";
  sc.path = "routes[2].stages[1]";
  route.stages.push_back(sc);
  Metrics m;
  StageBuildContext ctx;
  ctx.route = &route;
  ctx.metrics = &m;
  auto p = Pipeline::Build(kRegistry, ctx);
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().message().substr(0, 39), "routes[2].stages[1].type: unknown stage");
}

}  // namespace
}  // namespace rampart::pipeline
