// Added latency of the issue-6 stages role_isolation, spotlight, exfil_links and
// data_exposure, each alone in a pipeline, on a 2 KB exchange (budget: 20 us each on one
// core). Each iteration copies the request (or response) JSON first, since the stages edit it
// in place; BM_CopyOnly measures that copy alone, to subtract.
//
//   build/bench/isolation_stage_benchmark --benchmark_repetitions=5
//       --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>

#include <boost/json.hpp>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

#include "config/config.h"
#include "detectors/scanner.h"
#include "pipeline/runner.h"
#include "stages/registry.h"
#include "state/store.h"

namespace {

namespace json = boost::json;
using namespace rampart;

std::string Prose(size_t bytes, const char* const* sentences, size_t n) {
  std::string s;
  for (size_t i = 0; s.size() < bytes; ++i) s += sentences[i % n];
  s.resize(bytes);
  return s;
}

// A 2 KB chat request: a short system prompt, a user question and a ~1.7 KB tool result.
json::value Request2K() {
  static const char* kDoc[] = {
      "The quarterly numbers show steady growth in the northern region. ",
      "Customer churn fell to 2.1% after the onboarding changes shipped in July. ",
      "Support tickets about billing dropped by a third; most remaining ones concern refunds. ",
      "Contact the analytics team for the raw data behind these figures. ",
  };
  return json::object{
      {"model", "m"},
      {"messages", json::array{json::object{{"role", "system"}, {"content", "Be brief."}},
                               json::object{{"role", "user"},
                                            {"content",
                                             "Summarize the report for the board, "
                                             "in three bullet points please."}},
                               json::object{{"role", "tool"}, {"content", Prose(1900, kDoc, 4)}}}}};
}

// A 2 KB assistant response with two ordinary links.
json::value Response2K() {
  static const char* kText[] = {
      "The quarterly numbers show steady growth in the northern region. ",
      "See the [summary](https://docs.acme.com/q3) for the full breakdown by product line. ",
      "Customer churn fell to 2.1% after the onboarding changes shipped in July. ",
      "Next quarter the team plans to expand the pilot and revisit [pricing](https://acme.com/p). ",
  };
  return json::object{
      {"choices",
       json::array{json::object{
           {"message", json::object{{"role", "assistant"}, {"content", Prose(2048, kText, 4)}}}}}}};
}

struct Bench {
  std::shared_ptr<const config::Config> config;
  std::shared_ptr<const detectors::Scanner> scanner;
  pipeline::Metrics metrics;
  state::InProcessStore store;
  std::unique_ptr<pipeline::Pipeline> pipeline;

  explicit Bench(const std::string& stage_list) {
    auto c = config::ParseConfig(
        "upstreams: [{name: u, url: 'http://127.0.0.1:1', external: true}]\n"
        "routes: [{name: chat, path: /v1, upstream: u, stages: " +
            stage_list + "}]\n",
        "bench");
    if (!c.ok()) Die(c.status());
    config = *c;
    auto s = detectors::Scanner::FromFiles(RAMPART_SOURCE_DIR "/rules", "");
    if (!s.ok()) Die(s.status());
    scanner = std::move(*s);
    pipeline::StageBuildContext ctx;
    ctx.config = config.get();
    ctx.route = &config->routes[0];
    ctx.metrics = &metrics;
    ctx.state = &store;
    ctx.scanner =
        [this](const std::string&) -> absl::StatusOr<std::shared_ptr<const detectors::Scanner>> {
      return scanner;
    };
    auto p = pipeline::Pipeline::Build(stages::Registry(), ctx);
    if (!p.ok()) Die(p.status());
    pipeline = std::move(*p);
  }
  static void Die(const absl::Status& st) {
    std::fprintf(stderr, "isolation_stage_benchmark: %s\n", std::string(st.message()).c_str());
    std::exit(1);
  }
  pipeline::Exchange Exchange() {
    pipeline::Exchange ex;
    ex.config = config.get();
    ex.route = &config->routes[0];
    return ex;
  }
};

void RunRequest(benchmark::State& state, const std::string& stage_list) {
  Bench b(stage_list);
  const json::value request = Request2K();
  for (auto _ : state) {
    auto ex = b.Exchange();
    ex.request = request;
    auto d = b.pipeline->Start()->OnRequest(ex);
    if (d.blocked()) state.SkipWithError("blocked a benign request");
    benchmark::DoNotOptimize(ex.request);
  }
}

void BM_CopyOnly(benchmark::State& state) {
  const json::value request = Request2K();
  for (auto _ : state) {
    json::value copy = request;
    benchmark::DoNotOptimize(copy);
  }
}
BENCHMARK(BM_CopyOnly);

void BM_RoleIsolation2K(benchmark::State& state) {
  RunRequest(state, "[{type: role_isolation, config: {roles: [user, tool]}}]");
}
BENCHMARK(BM_RoleIsolation2K);

void BM_SpotlightDelimitAndScan2K(benchmark::State& state) {
  RunRequest(state, "[{type: spotlight, config: {untrusted: [tool]}}]");
}
BENCHMARK(BM_SpotlightDelimitAndScan2K);

void BM_SpotlightDatamarkNoScan2K(benchmark::State& state) {
  RunRequest(state,
             "[{type: spotlight, config: {untrusted: [tool], method: datamark, scan: false}}]");
}
BENCHMARK(BM_SpotlightDatamarkNoScan2K);

void BM_DataExposure2K(benchmark::State& state) { RunRequest(state, "[{type: data_exposure}]"); }
BENCHMARK(BM_DataExposure2K);

void BM_ExfilLinksResponse2K(benchmark::State& state) {
  Bench b("[{type: exfil_links, config: {allow_domains: [example.com]}}]");
  const json::value response = Response2K();
  for (auto _ : state) {
    auto ex = b.Exchange();
    ex.response = response;
    auto d = b.pipeline->Start()->OnResponse(ex);
    benchmark::DoNotOptimize(d);
  }
}
BENCHMARK(BM_ExfilLinksResponse2K);

// The same 2 KB streamed in 16-byte pieces (the mock's events are 4 bytes; real ones ~16).
void BM_ExfilLinksStreamed2K(benchmark::State& state) {
  Bench b("[{type: exfil_links, config: {allow_domains: [example.com]}}]");
  const std::string text(Response2K().at_pointer("/choices/0/message/content").as_string());
  for (auto _ : state) {
    auto ex = b.Exchange();
    auto run = b.pipeline->Start();
    for (size_t i = 0; i < text.size(); i += 16) {
      std::string piece = text.substr(i, 16);
      benchmark::DoNotOptimize(run->OnResponseText(ex, piece, false));
    }
    std::string tail;
    benchmark::DoNotOptimize(run->OnResponseText(ex, tail, true));
  }
}
BENCHMARK(BM_ExfilLinksStreamed2K);

}  // namespace

BENCHMARK_MAIN();
