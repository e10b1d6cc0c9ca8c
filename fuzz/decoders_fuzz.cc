// Fuzzes the decoders with arbitrary bytes under default and tight limits, and checks that
// every run lies inside the text, runs are ordered, limits hold, and kept payloads are text;
// the rot13 decision's fast word count must equal its plain definition.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "text/decoders.h"

namespace {

void Check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "decoders_fuzz: invariant violated: %s\n", what);
    std::abort();
  }
}

void CheckRuns(std::string_view text, const rampart::text::DecodeLimits& limits) {
  using namespace rampart::text;
  std::vector<DecodedRun> runs;
  FindEncodedRuns(text, limits, runs);
  Check(runs.size() <= limits.max_runs, "max_runs");
  size_t total = 0;
  for (size_t i = 0; i < runs.size(); ++i) {
    const DecodedRun& r = runs[i];
    Check(r.begin < r.end && r.end <= text.size(), "run within text");
    Check(i == 0 || runs[i - 1].begin <= r.begin, "runs in position order");
    Check(!r.decoded.empty() && LooksLikeText(r.decoded), "decoded run looks like text");
    Check(r.encoding == Encoding::kRot13 || r.decoded.size() <= r.end - r.begin,
          "decoding never expands");
    total += r.decoded.size();
  }
  Check(total <= limits.max_decoded_bytes, "max_decoded_bytes");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace rampart::text;
  const std::string_view text(reinterpret_cast<const char*>(data), size);

  CheckRuns(text, DecodeLimits{});
  CheckRuns(text, DecodeLimits{.min_base64_chars = 4,
                               .min_hex_digits = 2,
                               .min_escapes = 1,
                               .max_runs = 3,
                               .max_decoded_bytes = 16});
  CheckRuns(text, DecodeLimits{.min_base64_chars = 0, .min_hex_digits = 0, .min_escapes = 0});

  // The individual decoders accept anything; rot13 is an involution on any bytes.
  std::string out;
  std::string back;
  if (DecodeBase64(text, out)) Check(out.size() <= size, "base64 shrinks");
  if (DecodeHex(text, out)) Check(out.size() <= size, "hex shrinks");
  if (DecodePercent(text, out)) Check(out.size() <= size, "percent shrinks");
  DecodeHtmlEntities(text, out);
  DecodeEscapes(text, out);
  Rot13(text, out);
  Rot13(out, back);
  Check(back == text, "rot13 involution");
  LooksLikeText(text);

  // The rot13 decision's word counts: the bit-mask implementation against the plain one.
  for (bool rotated : {false, true}) {
    const auto fast = internal::CountEnglishWords(text, rotated);
    const auto slow = internal::CountEnglishWordsSlowly(text, rotated);
    Check(fast.words == slow.words && fast.hits == slow.hits, "English word counts agree");
  }
  return 0;
}
