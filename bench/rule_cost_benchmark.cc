// Cost of each shipped rule on its own: the rule compiled alone (as the main pass compiles
// it: first match, no start tracking, white-space repeats bounded) and scanned over 64 KB of
// real benign text. Use it to find the rules that keep Hyperscan busy on ordinary prose (see
// docs/benchmarks.md and docs/rules.md, "Writing fast rules").
//
//   build/bench/rule_cost_benchmark --benchmark_min_time=0.05
//
// The text is the benign records of ../shared/data/injection/dev.jsonl beside the checkout
// (read at run time, never copied), or synthetic prose when that file is missing.
#include <benchmark/benchmark.h>
#include <hs/hs.h>

#include <boost/json.hpp>
#include <cstdio>
#include <fstream>
#include <string>

#include "detectors/rule_engine.h"
#include "detectors/rule_pack.h"

namespace {

std::string Document64K() {
  std::string doc;
  std::ifstream in(std::string(RAMPART_SOURCE_DIR) + "/../shared/data/injection/dev.jsonl");
  std::string line;
  while (doc.size() < 64 * 1024 && std::getline(in, line)) {
    boost::system::error_code ec;
    auto v = boost::json::parse(line, ec);
    if (ec || !v.is_object() || !v.as_object().contains("label")) continue;
    if (v.as_object().at("label").as_int64() != 0) continue;
    doc += v.as_object().at("text").as_string().c_str();
    doc += "\n\n";
  }
  while (doc.size() < 64 * 1024)
    doc += "The quarterly report shows revenue grew while costs fell. ";
  doc.resize(64 * 1024);
  return doc;
}

int Count(unsigned int, unsigned long long, unsigned long long, unsigned int, void* ctx) {
  ++*static_cast<long*>(ctx);
  return 0;
}

void RegisterRules() {
  static const std::string doc = Document64K();
  auto packs = rampart::detectors::LoadRulePackDir(std::string(RAMPART_SOURCE_DIR) + "/rules");
  if (!packs.ok()) {
    std::fprintf(stderr, "cannot load rules: %s\n", std::string(packs.status().message()).c_str());
    std::exit(2);
  }
  for (const auto& pack : *packs) {
    for (const auto& rule : pack.rules) {
      unsigned int flags = HS_FLAG_DOTALL | HS_FLAG_SINGLEMATCH;
      if (rule.caseless) flags |= HS_FLAG_CASELESS;
      hs_database_t* db = nullptr;
      hs_compile_error_t* err = nullptr;
      const std::string pattern = rampart::detectors::BoundWhiteSpaceRepeats(rule.pattern);
      if (hs_compile(pattern.c_str(), flags, HS_MODE_BLOCK, nullptr, &db, &err) != HS_SUCCESS) {
        hs_free_compile_error(err);
        continue;
      }
      benchmark::RegisterBenchmark(rule.id.c_str(), [db](benchmark::State& state) {
        hs_scratch_t* scratch = nullptr;
        hs_alloc_scratch(db, &scratch);
        long matches = 0;
        for (auto _ : state) {
          hs_scan(db, doc.data(), static_cast<unsigned int>(doc.size()), 0, scratch, Count,
                  &matches);
        }
        hs_free_scratch(scratch);
        state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * doc.size()));
      })->Unit(benchmark::kMicrosecond);
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  RegisterRules();
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
