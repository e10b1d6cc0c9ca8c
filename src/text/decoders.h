// Decoders: find content wrapped in an encoding inside a text and decode it, so the
// decoded payload can be normalized and scanned like the text itself.
//
// Recognized wrappings: base64 (standard and URL-safe, padded or not), hex, percent-encoding,
// HTML character references (numeric and the common named ones), \uXXXX / \xXX escapes, and
// rot13 (whole-text, chosen when the rotated text reads as English and the original does not).
// A decoded run is kept only when the result is mostly printable UTF-8 text; binary blobs are
// not rescanned.
//
// Thread safety: stateless functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace rampart::text {

enum class Encoding : uint8_t { kBase64, kHex, kPercent, kHtmlEntity, kEscape, kRot13 };

// Stable names: "base64", "hex", "percent", "html_entity", "escape", "rot13".
std::string_view EncodingName(Encoding e);

struct DecodeLimits {
  // Shortest base64 run considered. Default: 16.
  uint32_t min_base64_chars = 16;
  // Shortest hex run considered (digits). Default: 16.
  uint32_t min_hex_digits = 16;
  // Fewest escapes (%XX, &#..;, \uXXXX) in one run. Default: 3.
  uint32_t min_escapes = 3;
  // At most this many decoded runs per text. Default: 64.
  uint32_t max_runs = 64;
  // At most this many decoded bytes per text, all runs together. Default: 1 MiB.
  uint32_t max_decoded_bytes = 1u << 20;
};

struct DecodedRun {
  Encoding encoding;
  // Byte range of the encoded run in the text that was searched.
  uint32_t begin = 0;
  uint32_t end = 0;
  std::string decoded;
};

// Appends every decodable run found in `text` to `out`, in order of position, within limits.
// Never throws; any byte sequence is accepted.
void FindEncodedRuns(std::string_view text, const DecodeLimits& limits,
                     std::vector<DecodedRun>& out);

// Individual decoders, exposed for tests and fuzzing. Each returns false when `in` is not
// a valid encoding of its kind (output then unspecified).
bool DecodeBase64(std::string_view in, std::string& out);
bool DecodeHex(std::string_view in, std::string& out);
bool DecodePercent(std::string_view in, std::string& out);
bool DecodeHtmlEntities(std::string_view in, std::string& out);
bool DecodeEscapes(std::string_view in, std::string& out);
void Rot13(std::string_view in, std::string& out);

// True when `s` is valid UTF-8 and at least 85% of its code points are printable or
// white space.
bool LooksLikeText(std::string_view s);

namespace internal {

// The statistics behind the rot13 decision, exposed for tests and fuzzing: the words in the
// first 16 KiB of `text` (runs of ASCII letters) and how many of them are common English
// words once each letter is rotated by 13 (`rotated`) or as written.
struct EnglishWordCount {
  uint32_t words = 0;
  uint32_t hits = 0;
};
EnglishWordCount CountEnglishWords(std::string_view text, bool rotated);
// The same by the plain byte-at-a-time definition, which the fast one is checked against.
EnglishWordCount CountEnglishWordsSlowly(std::string_view text, bool rotated);

}  // namespace internal

}  // namespace rampart::text
