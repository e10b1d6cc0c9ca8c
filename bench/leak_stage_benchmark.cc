// Added latency of the leak stages (canary, prompt_leak) on a 2 KB exchange, through the
// pipeline runner as the gateway runs them (issue 6's budget: 20 us per stage on one core).
// One exchange = the request side (canary: a fresh canary into a 1 KB system prompt) and the
// response side, either a non-streamed 2 KB chat response or the same text streamed in 64-byte
// pieces. Building the request and response JSON is outside the timed region.
//
//   build/bench/leak_stage_benchmark --benchmark_repetitions=5
//       --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>

#include <boost/json.hpp>
#include <memory>
#include <string>

#include "bench_texts.h"
#include "config/config.h"
#include "pipeline/runner.h"
#include "stages/registry.h"
#include "state/store.h"

namespace {

using namespace rampart;
namespace json = boost::json;

std::string Response2K() { return rampart::bench::Prose2K(/*with_link=*/false); }
std::string SystemPrompt1K() { return rampart::bench::SystemPrompt1K(); }

struct Fixture {
  std::shared_ptr<const config::Config> config;
  pipeline::Metrics metrics;
  state::InProcessStore store;
  std::unique_ptr<pipeline::Pipeline> pipeline;
  json::value request;
  json::value response;
  std::string text = Response2K();

  explicit Fixture(const std::string& stage) {
    auto c = config::ParseConfig(
        "upstreams: [{name: u, url: 'http://127.0.0.1:1'}]\n"
        "routes:\n  - name: chat\n    kind: openai\n    path: /v1\n    upstream: u\n"
        "    stages: [" +
            stage + "]\n",
        "bench");
    if (!c.ok()) std::abort();
    config = *c;
    pipeline::StageBuildContext ctx;
    ctx.config = config.get();
    ctx.route = &config->routes[0];
    ctx.metrics = &metrics;
    ctx.state = &store;
    auto p = pipeline::Pipeline::Build(stages::Registry(), ctx);
    if (!p.ok()) std::abort();
    pipeline = std::move(*p);
    request = json::object{
        {"model", "m"},
        {"messages",
         json::array{json::object{{"role", "system"}, {"content", SystemPrompt1K()}},
                     json::object{{"role", "user"}, {"content", "Summarize the quarter."}}}}};
    response = json::object{
        {"choices",
         json::array{json::object{
             {"index", 0}, {"message", json::object{{"role", "assistant"}, {"content", text}}}}}}};
  }

  void Run(benchmark::State& state, bool streamed) {
    for (auto _ : state) {
      state.PauseTiming();
      pipeline::Exchange ex;
      ex.config = config.get();
      ex.route = &config->routes[0];
      ex.request = request;
      if (!streamed) ex.response = response;
      state.ResumeTiming();
      auto run = pipeline->Start();
      bool blocked = run->OnRequest(ex).blocked();
      if (streamed) {
        for (size_t i = 0; i < text.size(); i += 64) {
          std::string piece = text.substr(i, 64);
          blocked |= run->OnResponseText(ex, piece, false).blocked();
        }
        std::string tail;
        blocked |= run->OnResponseText(ex, tail, true).blocked();
      } else {
        blocked |= run->OnResponse(ex).blocked();
      }
      if (blocked) state.SkipWithError("benign exchange blocked");
      state.PauseTiming();
      ex = pipeline::Exchange();  // freeing the JSON is not the stage's cost
      state.ResumeTiming();
    }
  }
};

// The runner alone (no stages), to tell the stage's cost from the harness's.
void BM_EmptyPipeline2K(benchmark::State& state) {
  Fixture f("");
  f.Run(state, state.range(0) != 0);
}
BENCHMARK(BM_EmptyPipeline2K)->Arg(0)->Arg(1);

void BM_CanaryStage2K(benchmark::State& state) {
  Fixture f("{type: canary}");
  f.Run(state, state.range(0) != 0);
}
BENCHMARK(BM_CanaryStage2K)->Arg(0)->Arg(1);

void BM_PromptLeakStage2K(benchmark::State& state) {
  Fixture f("{type: prompt_leak}");
  f.Run(state, state.range(0) != 0);
}
BENCHMARK(BM_PromptLeakStage2K)->Arg(0)->Arg(1);

// Every exchange with a system prompt never seen before (the index is built each time).
void BM_PromptLeakStageUncached2K(benchmark::State& state) {
  Fixture f("{type: prompt_leak, config: {index_cache: 0}}");
  f.Run(state, state.range(0) != 0);
}
BENCHMARK(BM_PromptLeakStageUncached2K)->Arg(0)->Arg(1);

}  // namespace

BENCHMARK_MAIN();
