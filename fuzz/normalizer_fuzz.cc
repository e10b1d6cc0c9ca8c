// Fuzzes the Normalizer with arbitrary bytes in both invalid-UTF-8 modes and checks the
// mapping contract that detectors and redaction rely on; any violation aborts.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "text/normalizer.h"

namespace {

void Check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "normalizer_fuzz: invariant violated: %s\n", what);
    std::abort();
  }
}

void CheckOutput(std::string_view input, const rampart::text::NormalizedText& n) {
  using rampart::text::FirstInvalidUtf8;
  const size_t size = n.text.size();
  if (n.mapped) {
    Check(n.orig_begin.size() == size && n.orig_end.size() == size, "map sizes equal text size");
  } else {
    // The identity map is claimed only for text whose every byte is the input's byte at the
    // same offset (vertical tab and form feed become spaces in place). The text may be
    // shorter: characters removed from the end move nothing.
    Check(n.orig_begin.empty() && n.orig_end.empty(), "no map entries for the identity");
    Check(size <= input.size(), "identity map: no longer than the input");
    for (size_t i = 0; i < size; ++i) {
      const bool blank = input[i] == '\v' || input[i] == '\f';
      Check(n.text[i] == (blank ? ' ' : input[i]), "identity map: the input's bytes");
    }
  }
  // NFKC expands a code point to at most 18 (about 11x in UTF-8 bytes).
  Check(size <= 12 * input.size(), "output bounded by a small multiple of the input");
  Check(FirstInvalidUtf8(n.text) == size, "output is valid UTF-8");
  for (uint32_t i = 0; i < size; ++i) {
    const rampart::Span s = n.OriginalOf(i);
    Check(s.begin < s.end, "byte span non-empty");
    Check(s.end <= input.size(), "byte span within input");
    if (i > 0) {
      Check(n.OriginalOf(i - 1).begin <= s.begin, "begins monotonic");
      Check(n.OriginalOf(i - 1).end <= s.end, "ends monotonic");
    }
  }
  if (size > 0) {
    // A few ToOriginal probes rather than all pairs, to keep executions fast.
    const uint32_t last = static_cast<uint32_t>(size);
    for (uint32_t b : {0u, last / 3, last / 2, last - 1}) {
      for (uint32_t e : {b + 1, last}) {
        if (e <= b || e > last) continue;
        const rampart::Span s = n.ToOriginal(b, e);
        Check(s.begin < s.end && s.end <= input.size(), "ToOriginal within input");
      }
    }
  }
  uint32_t prev_end = 0;
  for (const auto& h : n.hidden) {
    Check(h.count > 0 && !h.span.empty() && h.span.end <= input.size(), "hidden run in input");
    Check(h.span.begin >= prev_end, "hidden runs ordered and disjoint");
    prev_end = h.span.end;
  }
  if (!n.tag_payload.empty()) {
    Check(n.tag_payload_span.end <= input.size() && !n.tag_payload_span.empty(),
          "tag payload span in input");
    Check(n.tag_payload.size() * 4 <= n.tag_payload_span.size(), "tag payload 4 bytes each");
    for (char c : n.tag_payload) Check(c >= 0x20 && c <= 0x7E, "tag payload printable ASCII");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const rampart::text::Normalizer replacing;
  static const rampart::text::Normalizer rejecting(
      rampart::text::NormalizerOptions{.replace_invalid_utf8 = false});
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  rampart::text::NormalizedText out;

  const absl::Status replaced = replacing.Normalize(input, out);
  if (absl::IsResourceExhausted(replaced)) {
    // Only an input whose normal form explodes (more than 4x) is refused, and cleanly.
    Check(out.text.empty(), "output cleared on refusal");
    return 0;
  }
  Check(replaced.ok(), "replacing mode accepts any bytes");
  CheckOutput(input, out);
  const size_t first_invalid = rampart::text::FirstInvalidUtf8(input);
  Check((out.invalid_utf8_sequences == 0) == (first_invalid == size),
        "replacements iff invalid UTF-8");
  const std::string replaced_text = out.text;

  const absl::Status status = rejecting.Normalize(input, out);
  if (first_invalid == size) {
    Check(status.ok(), "valid UTF-8 accepted");
    Check(out.text == replaced_text, "modes agree on valid input");
    CheckOutput(input, out);
  } else {
    Check(absl::IsInvalidArgument(status), "invalid UTF-8 rejected");
    Check(out.text.empty(), "output cleared on error");
  }
  return 0;
}
