// Cost of the LLM-application detectors on a 2 KB exchange (issue 6's budget: 20 us each on
// one core): canary matching on a streamed response, prompt-leak shingles against a 1 KB
// system prompt, role-marker neutralization of a 2 KB user message, exfiltration-link search
// and spotlighting of a 2 KB document.
//
//   build/bench/llm_defenses_benchmark --benchmark_repetitions=5
//       --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>

#include <memory>
#include <string>

#include "bench_texts.h"
#include "detectors/canary.h"
#include "detectors/exfil_links.h"
#include "detectors/prompt_leak.h"
#include "detectors/role_markers.h"
#include "detectors/spotlight.h"

namespace {

using namespace rampart::detectors;

std::string Response2K() { return rampart::bench::Prose2K(/*with_link=*/true); }
std::string SystemPrompt1K() { return rampart::bench::SystemPrompt1K(); }

void BM_CanaryStreamed2K(benchmark::State& state) {
  const std::string text = Response2K();
  for (auto _ : state) {
    CanaryMatcher m("rmp-k7q2mzx4bv9wt3ya5ndh");
    for (size_t i = 0; i < text.size(); i += 64)
      benchmark::DoNotOptimize(m.Feed(text.substr(i, 64)));
  }
  state.SetBytesProcessed(state.iterations() * text.size());
}
BENCHMARK(BM_CanaryStreamed2K);

void BM_PromptLeakStreamed2K(benchmark::State& state) {
  const std::string text = Response2K();
  auto index = std::make_shared<PromptLeakIndex>(
      std::vector<std::pair<std::string, std::string>>{{"system_prompt", SystemPrompt1K()}});
  for (auto _ : state) {
    PromptLeakMatcher m(index);
    for (size_t i = 0; i < text.size(); i += 64)
      benchmark::DoNotOptimize(m.Feed(text.substr(i, 64)));
    benchmark::DoNotOptimize(m.Finish());
  }
  state.SetBytesProcessed(state.iterations() * text.size());
}
BENCHMARK(BM_PromptLeakStreamed2K);

void BM_RoleMarkers2K(benchmark::State& state) {
  const std::string text = Response2K();
  for (auto _ : state) benchmark::DoNotOptimize(NeutralizeRoleMarkers(text, nullptr));
  state.SetBytesProcessed(state.iterations() * text.size());
}
BENCHMARK(BM_RoleMarkers2K);

void BM_ExfilLinks2K(benchmark::State& state) {
  const std::string text = Response2K();
  const ExfilLinkFinder finder(ExfilLinkOptions{{"acme.com"}, 64});
  for (auto _ : state) benchmark::DoNotOptimize(finder.Find(text));
  state.SetBytesProcessed(state.iterations() * text.size());
}
BENCHMARK(BM_ExfilLinks2K);

void BM_SpotlightDelimit2K(benchmark::State& state) {
  const std::string text = Response2K();
  for (auto _ : state) benchmark::DoNotOptimize(Spotlight(text, SpotlightMode::kDelimit));
  state.SetBytesProcessed(state.iterations() * text.size());
}
BENCHMARK(BM_SpotlightDelimit2K);

}  // namespace

BENCHMARK_MAIN();
