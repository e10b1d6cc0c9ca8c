// Added latency of the tool_policy stage on a 2 KB exchange: a chat request that offers four
// tools (filtered per principal) and a response with one tool call whose arguments are
// schema-checked, checked for URLs/shell/SQL and scanned for secrets and PII. The stage runs
// alone in a pipeline (no auth: the "*" principal entry applies), as the runner calls it.
//
//   build/bench/tool_policy_stage_benchmark
#include <benchmark/benchmark.h>

#include <boost/json.hpp>
#include <cstdlib>
#include <filesystem>

#include "approvals/approval_store.h"
#include "config/config.h"
#include "detectors/scanner.h"
#include "pipeline/runner.h"
#include "stages/registry.h"
#include "state/store.h"

namespace rampart {
namespace {

namespace json = boost::json;

struct Fixture {
  std::shared_ptr<const config::Config> config;
  std::shared_ptr<const detectors::Scanner> scanner;
  pipeline::Metrics metrics;
  state::InProcessStore store;
  std::unique_ptr<approvals::ApprovalStore> approvals;
  std::unique_ptr<pipeline::Pipeline> pipeline;
  json::value request;
  json::value response;
};

Fixture& Get() {
  static Fixture* f = [] {
    auto* fx = new Fixture();
    auto c = config::ParseConfig(
        "upstreams: [{name: u, url: 'http://127.0.0.1:1'}]\n"
        "routes:\n"
        "  - name: tools\n    kind: openai\n    path: /v1\n    upstream: u\n"
        "    stages:\n      - type: tool_policy\n        config:\n"
        "          allowed_domains: [example.com]\n"
        "          tools:\n            get_weather: {schema: {type: object, required: [city],"
        " properties: {city: {type: string}, days: {type: integer}}}}\n"
        "            http_get: {}\n            transfer_funds: {high_risk: true}\n"
        "          principals: {'*': [get_weather, http_get]}\n",
        "bench");
    if (!c.ok()) std::abort();
    fx->config = *c;
    const char* dir = std::getenv("RAMPART_RULES_DIR");
    auto s =
        detectors::Scanner::FromFiles(dir ? dir : std::string(RAMPART_SOURCE_DIR) + "/rules", "");
    if (!s.ok()) std::abort();
    fx->scanner = std::move(*s);
    auto path = std::filesystem::temp_directory_path() / "rampart-bench-approvals.db";
    auto st = approvals::ApprovalStore::Open({path.string()});
    if (!st.ok()) std::abort();
    fx->approvals = std::move(*st);
    pipeline::StageBuildContext ctx;
    ctx.config = fx->config.get();
    ctx.route = &fx->config->routes[0];
    ctx.metrics = &fx->metrics;
    ctx.state = &fx->store;
    ctx.approvals = fx->approvals.get();
    ctx.scanner =
        [fx](const std::string&) -> absl::StatusOr<std::shared_ptr<const detectors::Scanner>> {
      return fx->scanner;
    };
    auto p = pipeline::Pipeline::Build(stages::Registry(), ctx);
    if (!p.ok()) std::abort();
    fx->pipeline = std::move(*p);

    json::array tools;
    for (const char* t : {"get_weather", "http_get", "transfer_funds", "run_shell"}) {
      tools.push_back(json::object{
          {"type", "function"},
          {"function", json::object{{"name", t},
                                    {"description", "A tool the assistant may call."},
                                    {"parameters", json::object{{"type", "object"}}}}}});
    }
    std::string prose;
    while (prose.size() < 1200) prose += "Plan the week around the weather in the cities I visit. ";
    fx->request =
        json::object{{"model", "m"},
                     {"messages", json::array{json::object{{"role", "user"}, {"content", prose}}}},
                     {"tools", std::move(tools)}};
    fx->response = json::object{
        {"choices",
         json::array{json::object{
             {"index", 0},
             {"message",
              json::object{{"role", "assistant"},
                           {"content", nullptr},
                           {"tool_calls",
                            json::array{json::object{
                                {"id", "call_1"},
                                {"type", "function"},
                                {"function",
                                 json::object{{"name", "get_weather"},
                                              {"arguments", R"({"city":"Paris","days":5})"}}}}}}}},
             {"finish_reason", "tool_calls"}}}}};
    return fx;
  }();
  return *f;
}

void BM_ToolPolicyExchange2KB(benchmark::State& state) {
  Fixture& f = Get();
  size_t bytes = json::serialize(f.request).size() + json::serialize(f.response).size();
  for (auto _ : state) {
    pipeline::Exchange ex;
    ex.config = f.config.get();
    ex.route = &f.config->routes[0];
    ex.request = f.request;
    ex.response = f.response;
    auto run = f.pipeline->Start();
    auto d = run->OnRequest(ex);
    if (d.blocked()) state.SkipWithError("request blocked");
    d = run->OnResponseToolCalls(ex);
    if (d.blocked()) state.SkipWithError("tool call blocked");
    benchmark::DoNotOptimize(ex.response);
  }
  state.counters["exchange_bytes"] = static_cast<double>(bytes);
}
BENCHMARK(BM_ToolPolicyExchange2KB)->Unit(benchmark::kMicrosecond);

// The same exchange without the stage (copying the JSON in and out), to subtract.
void BM_ExchangeBaseline2KB(benchmark::State& state) {
  Fixture& f = Get();
  for (auto _ : state) {
    pipeline::Exchange ex;
    ex.request = f.request;
    ex.response = f.response;
    benchmark::DoNotOptimize(ex.response);
  }
}
BENCHMARK(BM_ExchangeBaseline2KB)->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace rampart

BENCHMARK_MAIN();
