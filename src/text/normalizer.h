// Normalizer: turns untrusted UTF-8 into the canonical form detectors match against,
// keeping a map from every normalized byte back to the original bytes.
//
// The normalized form is, per code point of the input:
//   - invalid UTF-8: rejected (InvalidArgument naming the byte offset) or, per options,
//     replaced by U+FFFD, one per maximal invalid subsequence;
//   - invisible characters (zero-width, bidi controls, Unicode tag characters U+E0000..E007F,
//     variation selectors, other default-ignorables) are removed and reported as HiddenRuns;
//     tag characters U+E0020..U+E007E are also decoded into `tag_payload` (ASCII smuggling);
//   - NFKC (ICU), so full-width and mathematical letters become ASCII;
//   - non-ASCII letters whose confusable skeleton (ICU spoof checker) is ASCII are replaced by
//     that skeleton (Cyrillic/Greek look-alikes), counted in `confusables_mapped`;
//   - Unicode white space becomes ' ';
//   - a run of more than kMaxWhiteSpaceRun white-space bytes is shortened to that many: its
//     first bytes, one byte standing for the dropped middle (a line break if the middle held
//     one) and its last bytes. Rules can then bound `\s` repetitions, which keeps them fast
//     (docs/rules.md), without letting padding hide words from them.
// Case is preserved: rules that must ignore case compile with Hyperscan's caseless flag, and
// case-sensitive rules (secrets, IBAN) still see the original case.
//
// Thread safety: a Normalizer is immutable after construction and may be shared by threads.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "rampart/finding.h"

namespace rampart::text {

// Longest run of white-space bytes in normalized text.
inline constexpr size_t kMaxWhiteSpaceRun = 16;

enum class HiddenKind : uint8_t {
  kZeroWidth,          // U+200B..U+200D, U+2060, U+FEFF, U+180E, U+00AD, U+034F ...
  kBidiControl,        // U+202A..U+202E, U+2066..U+2069, U+200E, U+200F, U+061C
  kTagCharacter,       // U+E0000..U+E007F
  kVariationSelector,  // U+FE00..U+FE0F, U+E0100..U+E01EF
  kOtherInvisible,     // other Default_Ignorable_Code_Point characters
};

// Stable names: "zero_width", "bidi_control", "tag_character", "variation_selector",
// "other_invisible".
std::string_view HiddenKindName(HiddenKind k);

// A maximal run of adjacent removed characters of one kind, in original bytes.
struct HiddenRun {
  HiddenKind kind;
  Span span;
  uint32_t count = 0;  // code points in the run
};

struct NormalizerOptions {
  // Replace invalid UTF-8 with U+FFFD instead of failing. Default: true.
  bool replace_invalid_utf8 = true;
  // Map confusable non-ASCII letters to their ASCII skeleton. Default: true.
  bool map_confusables = true;
  // Inputs longer than this are refused with ResourceExhausted. Default: 64 MiB.
  uint32_t max_input_bytes = 64u << 20;
};

// Output of Normalize(). Reuse one object per thread: Normalize() clears it and keeps the
// capacity, so steady-state scanning does not allocate.
struct NormalizedText {
  std::string text;
  // The way back to the original: normalized byte i came from original bytes
  // [orig_begin[i], orig_end[i]). While `mapped` is false the map is the identity (byte i came
  // from original byte i alone: ASCII text without long white-space runs, the common case)
  // and both vectors are empty, so such text costs no map; once a byte maps elsewhere, both
  // have text.size() entries. Read it through OriginalOf() and ToOriginal().
  std::vector<uint32_t> orig_begin;
  std::vector<uint32_t> orig_end;
  bool mapped = false;
  std::vector<HiddenRun> hidden;
  // ASCII decoded from tag characters, and the original span covering them.
  std::string tag_payload;
  Span tag_payload_span;
  uint32_t confusables_mapped = 0;
  uint32_t invalid_utf8_sequences = 0;

  void Clear();
  // Original span of normalized byte i. REQUIRES: i < text.size().
  Span OriginalOf(uint32_t i) const {
    return mapped ? Span{orig_begin[i], orig_end[i]} : Span{i, i + 1};
  }
  // Fills the maps with the identity for the bytes so far and sets `mapped`: called before
  // the first byte that does not map to itself. `capacity_hint` is reserved for the maps.
  void MaterializeMap(size_t capacity_hint);
  // Original span for normalized bytes [begin, end). REQUIRES: begin < end <= text.size().
  Span ToOriginal(uint32_t begin, uint32_t end) const;
};

class Normalizer {
 public:
  explicit Normalizer(NormalizerOptions options = {});

  // Normalizes `input` into `out`. Errors: InvalidArgument for invalid UTF-8 when
  // replacement is off (the message names the byte offset, never the bytes);
  // ResourceExhausted when input exceeds max_input_bytes, or when its normalized form would
  // be more than 4 times its size (plus 64 KiB): only inputs built to exhaust memory do that.
  absl::Status Normalize(std::string_view input, NormalizedText& out) const;

  const NormalizerOptions& options() const { return options_; }

 private:
  NormalizerOptions options_;
};

// Returns the offset of the first invalid UTF-8 byte, or input.size() when valid.
size_t FirstInvalidUtf8(std::string_view input);

// Length of the longest prefix of `s` that does not end inside an incomplete UTF-8 sequence:
// where to cut a buffer read from a stream so that no character is split across two pieces.
// Invalid bytes are not "incomplete" and stay in the prefix.
size_t CompleteUtf8Prefix(std::string_view s);

}  // namespace rampart::text
