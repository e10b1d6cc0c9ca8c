// Fuzzes the rule-pack loader: any bytes must give a pack or a clear error, never a crash,
// a hang or an exception. Packs that parse and are small are also compiled, so the
// validator lookup and Hyperscan error paths are exercised too.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "detectors/rule_engine.h"
#include "detectors/rule_pack.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view yaml(reinterpret_cast<const char*>(data), size);
  auto pack = rampart::detectors::ParseRulePack(yaml, "fuzz.yaml");
  if (!pack.ok()) {
    if (pack.status().message().empty()) {
      std::fprintf(stderr, "rule_pack_fuzz: error without a message\n");
      std::abort();
    }
    return 0;
  }
  // Hyperscan compile time grows steeply with pattern complexity (counted repeats most of
  // all: under ASan one `(a|b|c|d|e|f|g){999}` takes seconds); keep fuzz inputs to the cheap
  // end so the run explores the loader rather than the compiler.
  size_t pattern_bytes = 0;
  uint64_t repeat_weight = 0;
  for (const auto& r : pack->rules) {
    pattern_bytes += r.pattern.size();
    repeat_weight += rampart::detectors::RepeatWeight(r.pattern);
  }
  if (pack->rules.size() <= 4 && pattern_bytes <= 64 && repeat_weight <= 64) {
    auto engine = rampart::detectors::RuleEngine::Create({*pack});
    (void)engine;
  }
  return 0;
}
