// What the shipped rules cost Hyperscan, over 64 KB of real benign text, compiled as the main
// pass compiles them (first match only, no start tracking, white-space repeats bounded). Use
// it to find the rules that keep Hyperscan busy on ordinary prose (docs/rules.md, "Writing
// fast rules"; docs/benchmarks.md).
//
//   build/bench/rule_cost_benchmark --benchmark_min_time=0.05
//
// Rows:
//   all/shipped        every rule, as the engine scans them: one shared database, and one
//                      database for each rule marked own_database
//   all/one_database   every rule in one database (as if no rule were marked own_database)
//   own/<id>           all/shipped with rule <id> moved to a database of its own as well:
//                      faster than all/shipped means the rule slows the shared database
//                      down more than a pass of its own costs
//   <id>               the rule alone. A lower bound only: a scan of a one-rule database
//                      ends at that rule's first match.
// Databases compile when their row first runs, so --benchmark_filter skips the compile time of
// the rows it leaves out (all/ and own/ rows compile every rule: up to ~20 s each here).
//
// The text is the benign records of ../shared/data/injection/dev.jsonl beside the checkout
// (read at run time, never copied), or synthetic prose when that file is missing.
#include <benchmark/benchmark.h>
#include <hs/hs.h>

#include <boost/json.hpp>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "detectors/rule_engine.h"
#include "detectors/rule_pack.h"

namespace {

using rampart::detectors::Rule;

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

// The main pass's flags: first match only, except for a non-redactable rule with a
// validator, which must see every candidate.
unsigned int MainPassFlags(const Rule& rule) {
  unsigned int flags = HS_FLAG_DOTALL;
  if (!rule.label.empty() || rule.validator.empty()) flags |= HS_FLAG_SINGLEMATCH;
  if (rule.caseless) flags |= HS_FLAG_CASELESS;
  return flags;
}

// One database of `rules` compiled together; exits on a compile error (the shipped rules
// compile, so one here is a bug worth stopping for).
hs_database_t* Compile(const std::vector<const Rule*>& rules) {
  std::vector<std::string> patterns;
  std::vector<const char*> ptrs;
  std::vector<unsigned int> flags, ids;
  patterns.reserve(rules.size());
  for (size_t i = 0; i < rules.size(); ++i) {
    patterns.push_back(rampart::detectors::BoundWhiteSpaceRepeats(rules[i]->pattern));
    flags.push_back(MainPassFlags(*rules[i]));
    ids.push_back(static_cast<unsigned int>(i));
  }
  for (const auto& p : patterns) ptrs.push_back(p.c_str());
  hs_database_t* db = nullptr;
  hs_compile_error_t* err = nullptr;
  if (hs_compile_multi(ptrs.data(), flags.data(), ids.data(),
                       static_cast<unsigned int>(ptrs.size()), HS_MODE_BLOCK, nullptr, &db,
                       &err) != HS_SUCCESS) {
    std::fprintf(stderr, "rule database failed to compile: %s\n", err->message);
    hs_free_compile_error(err);
    std::exit(2);
  }
  return db;
}

// Registers a row that scans the document with each group's database in turn, as the engine
// does with its shared and own databases.
void RegisterScan(const std::string& name, std::vector<std::vector<const Rule*>> groups) {
  static const std::string doc = Document64K();
  // Compiled on the row's first run and kept for its repetitions (freed at exit).
  auto compiled = std::make_shared<std::vector<hs_database_t*>>();
  benchmark::RegisterBenchmark(name.c_str(), [groups, compiled](benchmark::State& state) {
    std::vector<hs_database_t*>& dbs = *compiled;
    if (dbs.empty()) {
      for (const auto& g : groups) {
        if (!g.empty()) dbs.push_back(Compile(g));
      }
    }
    hs_scratch_t* scratch = nullptr;
    for (auto* db : dbs) hs_alloc_scratch(db, &scratch);
    long matches = 0;
    for (auto _ : state) {
      for (auto* db : dbs) {
        hs_scan(db, doc.data(), static_cast<unsigned int>(doc.size()), 0, scratch, Count, &matches);
      }
    }
    hs_free_scratch(scratch);
    state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * doc.size()));
  })->Unit(benchmark::kMicrosecond);
}

// The shipped grouping: the shared database's rules first, then one group per own_database
// rule. With `extra`, that rule is moved out of the shared database too.
std::vector<std::vector<const Rule*>> Shipped(const std::vector<const Rule*>& all,
                                              const Rule* extra = nullptr) {
  std::vector<std::vector<const Rule*>> groups(1);
  for (const Rule* r : all) {
    if (r->own_database || r == extra) {
      groups.push_back({r});
    } else {
      groups[0].push_back(r);
    }
  }
  return groups;
}

void RegisterRules() {
  auto packs = rampart::detectors::LoadRulePackDir(std::string(RAMPART_SOURCE_DIR) + "/rules");
  if (!packs.ok()) {
    std::fprintf(stderr, "cannot load rules: %s\n", std::string(packs.status().message()).c_str());
    std::exit(2);
  }
  static const auto loaded = std::move(*packs);
  std::vector<const Rule*> all;
  for (const auto& pack : loaded) {
    for (const auto& rule : pack.rules) all.push_back(&rule);
  }
  RegisterScan("all/shipped", Shipped(all));
  RegisterScan("all/one_database", {all});
  for (const Rule* r : all) {
    if (!r->own_database) RegisterScan("own/" + r->id, Shipped(all, r));
  }
  for (const Rule* r : all) RegisterScan(r->id, {{r}});
}

}  // namespace

int main(int argc, char** argv) {
  RegisterRules();
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
