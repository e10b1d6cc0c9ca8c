// Fuzzes the whole text pipeline (normalize, decode, rules, validators, policy, redaction)
// with the shipped rule packs. Checks that every finding's span lies inside the input and
// that redaction never grows the text without bound; any violation aborts.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string_view>

#include "detectors/scanner.h"

namespace {

void Check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "scanner_fuzz: invariant violated: %s\n", what);
    std::abort();
  }
}

const rampart::detectors::Scanner& GetScanner() {
  static const rampart::detectors::Scanner* scanner = [] {
    const char* dir = std::getenv("RAMPART_RULES_DIR");
    auto s = rampart::detectors::Scanner::FromFiles(dir ? dir : RAMPART_FUZZ_RULES_DIR, "");
    if (!s.ok()) {
      std::fprintf(stderr, "scanner_fuzz: cannot load rules: %s\n",
                   std::string(s.status().message()).c_str());
      std::abort();
    }
    return s->release();
  }();
  return *scanner;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto& scanner = GetScanner();
  static auto ctx = scanner.NewContext();
  std::string_view input(reinterpret_cast<const char*>(data), size);
  auto v = scanner.Scan(input, *ctx);
  if (!v.ok()) {
    // Only inputs whose normal form explodes are refused (ResourceExhausted), never others.
    Check(absl::IsResourceExhausted(v.status()), "replace mode accepts any other bytes");
    return 0;
  }
  for (const auto& f : v->findings) {
    Check(f.span.begin <= f.span.end, "span ordered");
    Check(f.span.end <= size, "span inside the input");
    Check(f.score >= 0.0f && f.score <= 1.0f, "score in [0,1]");
  }
  if (v->edited_text) {
    Check(v->edited_text->size() <= size + 64 * v->findings.size(), "redaction bounded");
  }
  return 0;
}
