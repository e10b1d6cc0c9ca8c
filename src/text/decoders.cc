#include "text/decoders.h"

#include <unicode/uchar.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include <algorithm>
#include <array>
#include <cstring>
#include <iterator>
#include <limits>

#include "text/normalizer.h"

namespace rampart::text {
namespace {

using internal::EnglishWordCount;

// Escape runs: consecutive escapes may be separated by at most this many literal bytes
// (no newline), so "&lt;b&gt;hello&lt;/b&gt;" is one run but escapes paragraphs apart are not.
constexpr size_t kMaxEscapeGap = 32;

// Character classes for the byte-at-a-time scanners; one table load per byte keeps them
// at several hundred MB/s.
enum CharClass : uint8_t {
  kClassBase64 = 1 << 0,  // Either alphabet.
  kClassUpper = 1 << 1,
  kClassLower = 1 << 2,
  kClassStd = 1 << 3,  // '+' '/'
  kClassUrl = 1 << 4,  // '-' '_'
  kClassHex = 1 << 5,
  kClassAlnum = 1 << 6,
  kClassHexSep = 1 << 7,  // Separators between hex bytes: ' ' ':' ',' '-'
};
constexpr std::array<uint8_t, 256> kCharClass = [] {
  std::array<uint8_t, 256> t{};
  for (int c = 'A'; c <= 'Z'; ++c) t[c] = kClassBase64 | kClassUpper | kClassAlnum;
  for (int c = 'a'; c <= 'z'; ++c) t[c] = kClassBase64 | kClassLower | kClassAlnum;
  for (int c = '0'; c <= '9'; ++c) t[c] = kClassBase64 | kClassAlnum | kClassHex;
  for (int c : {'A', 'B', 'C', 'D', 'E', 'F', 'a', 'b', 'c', 'd', 'e', 'f'}) t[c] |= kClassHex;
  t['+'] = t['/'] = kClassBase64 | kClassStd;
  t['-'] = t['_'] = kClassBase64 | kClassUrl;
  for (int c : {' ', ':', ',', '-'}) t[c] |= kClassHexSep;
  return t;
}();

bool IsHex(uint8_t c) { return kCharClass[c] & kClassHex; }
int HexValue(uint8_t c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}
bool IsAlnum(uint8_t c) { return kCharClass[c] & kClassAlnum; }
bool IsSpace(uint8_t c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}
uint8_t At(std::string_view s, size_t i) { return static_cast<uint8_t>(s[i]); }

void AppendUtf8(char32_t c, std::string& out) {
  if (c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF)) c = 0xFFFD;
  if (c < 0x80) {
    out.push_back(static_cast<char>(c));
  } else if (c < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (c >> 6)));
    out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
  } else if (c < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (c >> 12)));
    out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (c >> 18)));
    out.push_back(static_cast<char>(0x80 | ((c >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
  }
}

// ---------------------------------------------------------------------------------------------
// Base64.

// 0..63 for both alphabets, 64 for '=', 255 otherwise.
constexpr std::array<uint8_t, 256> kBase64Table = [] {
  std::array<uint8_t, 256> t{};
  for (auto& v : t) v = 255;
  for (int i = 0; i < 26; ++i) {
    t['A' + i] = static_cast<uint8_t>(i);
    t['a' + i] = static_cast<uint8_t>(26 + i);
  }
  for (int i = 0; i < 10; ++i) t['0' + i] = static_cast<uint8_t>(52 + i);
  t['+'] = 62;
  t['-'] = 62;
  t['/'] = 63;
  t['_'] = 63;
  t['='] = 64;
  return t;
}();

// ---------------------------------------------------------------------------------------------
// Escapes shared by the percent, HTML and backslash decoders. Each Match* returns the length
// of a well-formed escape at in[i], or 0.

size_t MatchPercent(std::string_view in, size_t i) {
  return (i + 2 < in.size() && in[i] == '%' && IsHex(At(in, i + 1)) && IsHex(At(in, i + 2))) ? 3
                                                                                             : 0;
}

struct NamedEntity {
  std::string_view name;  // Without '&' and ';'.
  char32_t code_point;
};
constexpr NamedEntity kNamedEntities[] = {
    {"lt", '<'},       {"gt", '>'},     {"amp", '&'},       {"quot", '"'},     {"apos", '\''},
    {"nbsp", 0xA0},    {"sol", '/'},    {"bsol", '\\'},     {"colon", ':'},    {"semi", ';'},
    {"lpar", '('},     {"rpar", ')'},   {"lsqb", '['},      {"rsqb", ']'},     {"lbrack", '['},
    {"rbrack", ']'},   {"lcub", '{'},   {"rcub", '}'},      {"period", '.'},   {"comma", ','},
    {"excl", '!'},     {"quest", '?'},  {"equals", '='},    {"num", '#'},      {"percnt", '%'},
    {"dollar", '$'},   {"ast", '*'},    {"plus", '+'},      {"minus", 0x2212}, {"lowbar", '_'},
    {"grave", '`'},    {"Hat", '^'},    {"verbar", '|'},    {"vert", '|'},     {"commat", '@'},
    {"NewLine", '\n'}, {"Tab", '\t'},   {"hyphen", 0x2010}, {"zwj", 0x200D},   {"zwnj", 0x200C},
    {"shy", 0xAD},     {"lrm", 0x200E}, {"rlm", 0x200F},    {"copy", 0xA9},    {"reg", 0xAE},
};

// Matches "&#NN;", "&#xHH;" (the ';' is optional, as in browsers) or "&name;" from the table.
size_t MatchHtml(std::string_view in, size_t i, char32_t* cp) {
  const size_t n = in.size();
  if (i + 2 >= n || in[i] != '&') return 0;
  if (in[i + 1] == '#') {
    size_t j = i + 2;
    const bool hex = j < n && (in[j] == 'x' || in[j] == 'X');
    if (hex) ++j;
    const size_t digits_begin = j;
    uint32_t value = 0;
    while (j < n && (hex ? IsHex(At(in, j)) : (in[j] >= '0' && in[j] <= '9'))) {
      // Saturate: any overlong number is out of range and becomes U+FFFD.
      if (value <= 0x10FFFF) value = value * (hex ? 16 : 10) + HexValue(At(in, j));
      ++j;
    }
    if (j == digits_begin) return 0;
    if (j < n && in[j] == ';') ++j;
    if (cp != nullptr) *cp = (value == 0 || value > 0x10FFFF) ? 0xFFFD : value;
    return j - i;
  }
  size_t j = i + 1;
  while (j < n && j - i <= 8 && IsAlnum(At(in, j))) ++j;
  if (j >= n || in[j] != ';' || j == i + 1) return 0;
  const std::string_view name = in.substr(i + 1, j - i - 1);
  for (const NamedEntity& e : kNamedEntities) {
    if (e.name == name) {
      if (cp != nullptr) *cp = e.code_point;
      return j + 1 - i;
    }
  }
  return 0;
}

// Matches "\uXXXX", "\u{X..}", "\UXXXXXXXX" or "\xHH".
size_t MatchEscape(std::string_view in, size_t i) {
  const size_t n = in.size();
  if (i + 3 >= n || in[i] != '\\') return 0;
  auto hex_run = [&](size_t from, size_t count) {
    if (from + count > n) return false;
    for (size_t k = 0; k < count; ++k) {
      if (!IsHex(At(in, from + k))) return false;
    }
    return true;
  };
  switch (in[i + 1]) {
    case 'x':
      return hex_run(i + 2, 2) ? 4 : 0;
    case 'u':
      if (in[i + 2] == '{') {
        size_t j = i + 3;
        while (j < n && j - (i + 3) < 6 && IsHex(At(in, j))) ++j;
        return (j > i + 3 && j < n && in[j] == '}') ? j + 1 - i : 0;
      }
      return hex_run(i + 2, 4) ? 6 : 0;
    case 'U':
      return hex_run(i + 2, 8) ? 10 : 0;
    default:
      return 0;
  }
}

uint32_t ParseHex(std::string_view s) {
  uint32_t v = 0;
  for (char c : s) {
    if (v > 0x10FFFF) break;  // Saturate; the caller maps out-of-range values to U+FFFD.
    v = v * 16 + static_cast<uint32_t>(HexValue(static_cast<uint8_t>(c)));
  }
  return v;
}

// Decodes all percent escapes; with `strict`, a '%' not followed by two hex digits fails.
bool PercentImpl(std::string_view in, std::string& out, bool strict) {
  out.clear();
  bool any = false;
  for (size_t i = 0; i < in.size();) {
    if (MatchPercent(in, i) != 0) {
      out.push_back(static_cast<char>(HexValue(At(in, i + 1)) * 16 + HexValue(At(in, i + 2))));
      i += 3;
      any = true;
      continue;
    }
    if (strict && in[i] == '%') return false;
    out.push_back(in[i++]);
  }
  return any;
}

bool HtmlImpl(std::string_view in, std::string& out, bool strict) {
  out.clear();
  bool any = false;
  for (size_t i = 0; i < in.size();) {
    char32_t cp = 0;
    if (const size_t len = MatchHtml(in, i, &cp); len != 0) {
      AppendUtf8(cp, out);
      i += len;
      any = true;
      continue;
    }
    if (strict && in[i] == '&' && i + 1 < in.size() && in[i + 1] == '#') return false;
    out.push_back(in[i++]);
  }
  return any;
}

bool EscapesImpl(std::string_view in, std::string& out, bool strict) {
  out.clear();
  bool any = false;
  char32_t high = 0;  // A pending high surrogate.
  std::string bytes;  // A pending run of \xHH bytes.
  auto flush_high = [&] {
    if (high != 0) AppendUtf8(0xFFFD, out);
    high = 0;
  };
  // C and Python write UTF-8 as \xHH bytes, JavaScript writes Latin-1 code points the same
  // way: keep the bytes when they form valid UTF-8, else read them as Latin-1.
  auto flush_bytes = [&] {
    if (bytes.empty()) return;
    if (FirstInvalidUtf8(bytes) == bytes.size()) {
      out += bytes;
    } else {
      for (char b : bytes) AppendUtf8(static_cast<uint8_t>(b), out);
    }
    bytes.clear();
  };
  for (size_t i = 0; i < in.size();) {
    const size_t len = MatchEscape(in, i);
    if (len == 0) {
      if (strict && in[i] == '\\' && i + 1 < in.size() &&
          (in[i + 1] == 'u' || in[i + 1] == 'x' || in[i + 1] == 'U')) {
        return false;
      }
      flush_high();
      flush_bytes();
      if (in[i] == '\\' && i + 1 < in.size()) {
        // Common single-character escapes; anything else stays literal.
        const char c = in[i + 1];
        const char* from = "ntr\\\"'/";
        const char* to = "\n\t\r\\\"'/";
        if (const char* f = std::strchr(from, c); f != nullptr && c != '\0') {
          out.push_back(to[f - from]);
          i += 2;
          continue;
        }
      }
      out.push_back(in[i++]);
      continue;
    }
    any = true;
    if (in[i + 1] == 'x') {
      flush_high();
      bytes.push_back(static_cast<char>(HexValue(At(in, i + 2)) * 16 + HexValue(At(in, i + 3))));
      i += len;
      continue;
    }
    flush_bytes();
    const size_t digits = in[i + 2] == '{' ? i + 3 : i + 2;
    const size_t digits_end = in[i + 2] == '{' ? i + len - 1 : i + len;
    const char32_t cp = ParseHex(in.substr(digits, digits_end - digits));
    i += len;
    if (cp >= 0xD800 && cp <= 0xDBFF) {
      flush_high();
      high = cp;
    } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
      if (high != 0) {
        AppendUtf8(0x10000 + ((high - 0xD800) << 10) + (cp - 0xDC00), out);
        high = 0;
      } else {
        AppendUtf8(0xFFFD, out);
      }
    } else {
      flush_high();
      AppendUtf8(cp, out);
    }
  }
  flush_high();
  flush_bytes();
  return any;
}

bool HexImpl(std::string_view in, std::string& out) {
  out.clear();
  int pending = -1;
  for (size_t i = 0; i < in.size(); ++i) {
    const uint8_t c = At(in, i);
    const int v = HexValue(c);
    if (v < 0) {
      // Separators only between whole bytes: "69 67", "69:67".
      if (pending >= 0 || !(c == ' ' || c == ':' || c == ',' || c == '-' || c == '\n')) {
        return false;
      }
      continue;
    }
    if (pending < 0) {
      pending = v;
    } else {
      out.push_back(static_cast<char>(pending * 16 + v));
      pending = -1;
    }
  }
  return pending < 0 && !out.empty();
}

// ---------------------------------------------------------------------------------------------
// rot13 detection: count frequent English words (and words attacks use) in the text and in
// its rotation. rot13 maps these words to non-words ("the" -> "gur"), so text that gains
// many of them by rotating is rot13 of English.

constexpr std::string_view kEnglishWords[] = {
    "the",    "and",          "you",      "that",      "this",    "for",    "with",     "are",
    "not",    "have",         "your",     "all",       "from",    "what",   "will",     "can",
    "there",  "their",        "about",    "which",     "would",   "should", "them",     "than",
    "then",   "into",         "only",     "other",     "these",   "tell",   "now",      "was",
    "ignore", "instructions", "previous", "system",    "prompt",  "reveal", "password", "secret",
    "forget", "above",        "rules",    "disregard", "pretend", "act",    "must",     "any",
};

// A lower-case word of up to kMaxPackedWord letters as a base-27 number: an exact integer
// key, so a word is looked up without building a string.
constexpr size_t kMaxPackedWord = 12;
constexpr uint64_t PackLetter(uint64_t packed, char lower) {
  return packed * 27 + static_cast<uint64_t>(lower - 'a' + 1);
}
constexpr uint64_t PackWord(std::string_view w) {
  uint64_t v = 0;
  for (char c : w) v = PackLetter(v, c);
  return v;
}

// Open-addressing set of the packed words: one multiply and usually one compare per lookup,
// since every word of the text is looked up (twice for rot13 candidates).
constexpr size_t kWordSetSize = 256;  // Power of two, well above the word count.
constexpr size_t WordSlot(uint64_t packed) {
  return static_cast<size_t>((packed * 0x9E3779B97F4A7C15ull) >> 56) & (kWordSetSize - 1);
}
constexpr auto kEnglishWordSet = [] {
  std::array<uint64_t, kWordSetSize> set{};  // 0 is never a packed word: letters pack as 1..26.
  for (std::string_view w : kEnglishWords) {
    size_t slot = WordSlot(PackWord(w));
    while (set[slot] != 0) slot = (slot + 1) & (kWordSetSize - 1);
    set[slot] = PackWord(w);
  }
  return set;
}();

bool IsEnglishWord(uint64_t packed) {
  for (size_t slot = WordSlot(packed);; slot = (slot + 1) & (kWordSetSize - 1)) {
    if (kEnglishWordSet[slot] == packed) return true;
    if (kEnglishWordSet[slot] == 0) return false;
  }
}

char Rot13Char(char c) {
  if ((c >= 'a' && c <= 'm') || (c >= 'A' && c <= 'M')) return static_cast<char>(c + 13);
  if ((c >= 'n' && c <= 'z') || (c >= 'N' && c <= 'Z')) return static_cast<char>(c - 13);
  return c;
}

// Bytes read for the rot13 decision: thousands of words are plenty to judge, and the cost
// stays flat on large documents. The decoded run still covers the whole text.
constexpr size_t kRot13Window = 16 * 1024;

// Letter index 1..26 of a byte, either case, 0 for anything else; and of its rotation.
constexpr std::array<uint8_t, 256> kLetterIndex = [] {
  std::array<uint8_t, 256> t{};
  for (int i = 0; i < 26; ++i) t['a' + i] = t['A' + i] = static_cast<uint8_t>(i + 1);
  return t;
}();
constexpr std::array<uint8_t, 256> kRotLetterIndex = [] {
  std::array<uint8_t, 256> t{};
  for (int i = 0; i < 26; ++i) t['a' + i] = t['A' + i] = static_cast<uint8_t>((i + 13) % 26 + 1);
  return t;
}();

// The shortest listed word, and the pairs of letter indexes that open a listed word:
// kOpeningPairs[a] has bit b when some word starts with letters a, b. Most words of a text
// fail this test, so they are never packed and looked up.
constexpr size_t kMinEnglishWord = [] {
  size_t m = kMaxPackedWord;
  for (std::string_view w : kEnglishWords) m = std::min(m, w.size());
  return m;
}();
static_assert(kMinEnglishWord >= 2);
constexpr auto kOpeningPairs = [] {
  std::array<uint32_t, 27> t{};
  for (std::string_view w : kEnglishWords) t[w[0] - 'a' + 1] |= uint32_t{1} << (w[1] - 'a' + 1);
  return t;
}();

// The same test on two raw bytes at once: bit (b1 << 8 | b0) is set when b0 and b1 are both
// letters and, mapped through the letter index, open a listed word. One load and one bit
// test per word of the text instead of two index lookups and a pair lookup.
using PairTable = std::array<uint64_t, 65536 / 64>;
constexpr PairTable MakePairTable(const std::array<uint8_t, 256>& index) {
  PairTable t{};
  for (uint32_t b0 = 0; b0 < 256; ++b0) {
    for (uint32_t b1 = 0; b1 < 256; ++b1) {
      if (index[b0] == 0 || index[b1] == 0) continue;
      if (!(kOpeningPairs[index[b0]] >> index[b1] & 1)) continue;
      const uint32_t key = b1 << 8 | b0;
      t[key / 64] |= uint64_t{1} << (key % 64);
    }
  }
  return t;
}
constexpr PairTable kLetterPairs = MakePairTable(kLetterIndex);
constexpr PairTable kRotLetterPairs = MakePairTable(kRotLetterIndex);

// Where the words of a text begin and end, as bit masks over its first kRot13Window bytes:
// bit j of starts is set when byte j is a letter and byte j - 1 is not; bit j of ends when
// byte j is not a letter (or is past the window) and byte j - 1 is. The k-th end belongs to
// the k-th start. One bit more than the window is kept, for a word that reaches its end.
struct WordBounds {
  static constexpr size_t kWords = kRot13Window / 64 + 1;
  std::array<uint64_t, kWords> starts;
  std::array<uint64_t, kWords> ends;
  size_t size = 0;     // Mask words in use.
  size_t window = 0;   // Bytes of the text the masks cover.
  uint32_t words = 0;  // Set bits of starts.
};

// Sets bit j of letters[j / 64] for every ASCII letter text[j]; words past the text are clear.
void LetterBits(std::string_view text, uint64_t* letters, size_t words) {
  std::fill(letters, letters + words, 0);
  const size_t n = text.size();
  size_t i = 0;
#if defined(__SSE2__)
  for (; i + 64 <= n; i += 64) {
    uint64_t mask = 0;
    for (size_t k = 0; k < 64; k += 16) {
      const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(text.data() + i + k));
      // (v | 0x20) in 'a'..'z', in signed arithmetic: exactly the ASCII letters.
      const __m128i shifted = _mm_add_epi8(_mm_or_si128(v, _mm_set1_epi8(0x20)),
                                           _mm_set1_epi8(static_cast<char>(-128 - 'a')));
      const __m128i letter = _mm_cmplt_epi8(shifted, _mm_set1_epi8(26 - 128));
      mask |= uint64_t{static_cast<uint32_t>(_mm_movemask_epi8(letter))} << k;
    }
    letters[i / 64] = mask;
  }
#endif
  for (; i < n; ++i) {
    if (kLetterIndex[At(text, i)] != 0) letters[i / 64] |= uint64_t{1} << (i % 64);
  }
}

void FindWordBounds(std::string_view text, WordBounds& b) {
  text = text.substr(0, std::min(text.size(), kRot13Window));
  b.window = text.size();
  b.size = text.size() / 64 + 1;
  LetterBits(text, b.starts.data(), b.size);
  uint64_t carry = 0;  // Bit 0: the last byte of the previous mask word was a letter.
  b.words = 0;
  for (size_t w = 0; w < b.size; ++w) {
    const uint64_t letters = b.starts[w];
    const uint64_t before = (letters << 1) | carry;  // Bit j: byte j - 1 is a letter.
    carry = letters >> 63;
    b.starts[w] = letters & ~before;
    b.ends[w] = ~letters & before;
    b.words += static_cast<uint32_t>(__builtin_popcountll(b.starts[w]));
  }
}

// Counts the words of `text` (runs of letters, either case) and how many of them are in the
// English word set after mapping each letter through `index` (`pairs` is
// MakePairTable(index)). Only words whose first two letters open a listed word are measured
// and looked up: a few in ten in ordinary text.
EnglishWordCount CountEnglishWords(std::string_view text, const WordBounds& b,
                                   const std::array<uint8_t, 256>& index, const PairTable& pairs) {
  EnglishWordCount count;
  count.words = b.words;
  for (size_t w = 0; w < b.size; ++w) {
    for (uint64_t start_bits = b.starts[w]; start_bits != 0; start_bits &= start_bits - 1) {
      const size_t begin = w * 64 + static_cast<size_t>(__builtin_ctzll(start_bits));
      // A one-letter word at the end of the window is no listed word (and its next byte
      // may not exist).
      if (begin + 1 >= b.window) continue;
      const uint32_t key = At(text, begin) | uint32_t{At(text, begin + 1)} << 8;
      if (!(pairs[key / 64] >> (key % 64) & 1)) continue;
      // The word's end is the first end after its start; every word has one in the masks.
      size_t end_word = (begin + 1) / 64;
      uint64_t end_bits = b.ends[end_word] & (~uint64_t{0} << ((begin + 1) % 64));
      while (end_bits == 0) end_bits = b.ends[++end_word];
      const size_t end = end_word * 64 + static_cast<size_t>(__builtin_ctzll(end_bits));
      const size_t len = end - begin;
      if (len < kMinEnglishWord || len > kMaxPackedWord) continue;
      uint64_t packed = 0;
      for (size_t k = begin; k < end; ++k) packed = packed * 27 + index[At(text, k)];
      count.hits += IsEnglishWord(packed);
    }
  }
  return count;
}

bool LooksLikeRot13(std::string_view text) {
  WordBounds bounds;
  FindWordBounds(text, bounds);
  const EnglishWordCount rotated =
      CountEnglishWords(text, bounds, kRotLetterIndex, kRotLetterPairs);
  // "Clearly more": a few hits, a fair share of all words, and far more than the original.
  // Ordinary text fails the first two tests, so the original is only counted for candidates.
  if (rotated.hits < 3 || rotated.hits * 8 < rotated.words) return false;
  const EnglishWordCount plain = CountEnglishWords(text, bounds, kLetterIndex, kLetterPairs);
  return rotated.hits >= 3 * plain.hits + 2;
}

// ---------------------------------------------------------------------------------------------
// Long runs of one byte class, found with bit masks: 16 bytes are classified at a time and
// whole 64-byte blocks are tested for a long enough run with a few shifts, so prose costs
// no branch per word. Only where a run is long enough do the finders look at bytes.

// Bit j of base64[j / 64] is set when text[j] is in either base64 alphabet, and of
// hex[j / 64] when it is a hex digit or a separator between hex bytes; bits past the end of
// the text are clear. One pass for both: each finder then works on its own mask.
void ClassBits(std::string_view text, std::vector<uint64_t>& base64, std::vector<uint64_t>& hex) {
  const size_t n = text.size();
  base64.assign(n / 64 + 1, 0);
  hex.assign(n / 64 + 1, 0);
  size_t i = 0;
#if defined(__SSE2__)
  // Unsigned x in [lo, hi], in signed arithmetic.
  auto in_range = [](__m128i x, char lo, char hi) {
    const __m128i shifted = _mm_add_epi8(x, _mm_set1_epi8(static_cast<char>(-128 - lo)));
    return _mm_cmplt_epi8(shifted, _mm_set1_epi8(static_cast<char>(hi - lo + 1 - 128)));
  };
  auto eq = [](__m128i x, char c) { return _mm_cmpeq_epi8(x, _mm_set1_epi8(c)); };
  for (; i + 64 <= n; i += 64) {
    uint64_t base64_mask = 0;
    uint64_t hex_mask = 0;
    for (size_t k = 0; k < 64; k += 16) {
      const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(text.data() + i + k));
      const __m128i folded = _mm_or_si128(v, _mm_set1_epi8(0x20));  // 'A'..'Z' -> 'a'..'z'
      const __m128i digit = in_range(v, '0', '9');
      const __m128i dash = eq(v, '-');
      const __m128i b = _mm_or_si128(
          _mm_or_si128(in_range(folded, 'a', 'z'), digit),
          _mm_or_si128(_mm_or_si128(eq(v, '+'), eq(v, '/')), _mm_or_si128(dash, eq(v, '_'))));
      const __m128i h = _mm_or_si128(
          _mm_or_si128(in_range(folded, 'a', 'f'), digit),
          _mm_or_si128(_mm_or_si128(eq(v, ' '), eq(v, ':')), _mm_or_si128(eq(v, ','), dash)));
      base64_mask |= uint64_t{static_cast<uint32_t>(_mm_movemask_epi8(b))} << k;
      hex_mask |= uint64_t{static_cast<uint32_t>(_mm_movemask_epi8(h))} << k;
    }
    base64[i / 64] = base64_mask;
    hex[i / 64] = hex_mask;
  }
#endif
  for (; i < n; ++i) {
    const uint8_t c = kCharClass[At(text, i)];
    if (c & kClassBase64) base64[i / 64] |= uint64_t{1} << (i % 64);
    if (c & (kClassHex | kClassHexSep)) hex[i / 64] |= uint64_t{1} << (i % 64);
  }
}

// Keeps bit j only where bits j .. j + len - 1 are all set: the starts of the positions
// from which `len` class bytes follow. REQUIRES: len >= 1.
void KeepRunStarts(std::vector<uint64_t>& bits, size_t len) {
  const size_t words = bits.size();
  uint64_t* w = bits.data();
  for (size_t have = 1; have < len;) {
    const size_t k = std::min(have, len - have);  // bits &= bits >> k, across words
    const size_t q = k / 64, r = k % 64;
    uint64_t any = 0;
    if (q == 0) {
      // The common case (runs shorter than 65): each word takes its top from the next one.
      for (size_t i = 0; i + 1 < words; ++i) {
        w[i] &= (w[i] >> r) | (w[i + 1] << (64 - r));
        any |= w[i];
      }
      w[words - 1] &= w[words - 1] >> r;
      any |= w[words - 1];
    } else {
      for (size_t i = 0; i < words; ++i) {
        const uint64_t lo = i + q < words ? w[i + q] : 0;
        const uint64_t hi = i + q + 1 < words ? w[i + q + 1] : 0;
        w[i] &= r == 0 ? lo : (lo >> r) | (hi << (64 - r));
        any |= w[i];
      }
    }
    if (any == 0) return;  // Prose: no run left long enough, so none can grow.
    have += k;
  }
}

// First set bit at or after `from`, or `n` when none.
size_t NextSetBit(const std::vector<uint64_t>& bits, size_t from, size_t n) {
  size_t w = from / 64;
  if (w >= bits.size()) return n;
  uint64_t word = bits[w] & (~uint64_t{0} << (from % 64));
  while (word == 0) {
    if (++w >= bits.size()) return n;
    word = bits[w];
  }
  return std::min(n, w * 64 + static_cast<size_t>(__builtin_ctzll(word)));
}

// ---------------------------------------------------------------------------------------------
// Run finders. Each appends candidates in position order and stops once it alone has reached
// the run or byte limit: the final selection takes the first runs by position, so what a
// finder never produces could only have been chosen had an earlier run been dropped (which
// happens only to a payload cut to the byte budget that no longer reads as text).

struct Budget {
  uint32_t max_runs;
  uint64_t max_bytes;
  uint32_t runs = 0;
  uint64_t bytes = 0;
  bool Full() const { return runs >= max_runs || bytes >= max_bytes; }
};

void Keep(Encoding enc, size_t begin, size_t end, std::string& decoded, Budget& budget,
          std::vector<DecodedRun>& out) {
  ++budget.runs;
  budget.bytes += decoded.size();
  out.push_back(DecodedRun{enc, static_cast<uint32_t>(begin), static_cast<uint32_t>(end),
                           std::move(decoded)});
  decoded.clear();
}

// `starts` holds the base64 mask of ClassBits and is overwritten.
void FindBase64(std::string_view text, uint32_t min_chars, std::vector<uint64_t>& starts,
                Budget& budget, std::vector<DecodedRun>& out) {
  const size_t n = text.size();
  if (n < min_chars) return;
  std::string decoded;
  // Only maximal runs of at least min_chars alphabet bytes are candidates; `starts` marks
  // where min_chars alphabet bytes follow. Invariant: i == 0 or text[i - 1] is not in the
  // alphabet, so the next mark at or after i is the start of a maximal run.
  KeepRunStarts(starts, min_chars);
  size_t i = 0;
  while (i < n && !budget.Full()) {
    i = NextSetBit(starts, i, n);
    if (i >= n) break;
    const size_t begin = i;
    uint8_t seen = 0;
    for (uint8_t f; i < n && ((f = kCharClass[At(text, i)]) & kClassBase64); ++i) seen |= f;
    const bool upper = seen & kClassUpper, lower = seen & kClassLower;
    const bool standard = seen & kClassStd, url_safe = seen & kClassUrl;
    size_t data_end = i;
    while (i < n && i - data_end < 2 && text[i] == '=') ++i;
    const size_t run_end = i;
    // Restore the invariant: text[i] (if any) is outside the alphabet unless '=' preceded it.
    if (i == data_end && i < n) ++i;
    // Base64 of text always mixes cases; requiring both skips most words and identifiers
    // before any decoding. The two alphabets never mix in one encoding.
    if (!upper || !lower || (standard && url_safe)) continue;
    // A length of 1 mod 4 cannot be base64; drop the odd character rather than the run.
    if ((data_end - begin) % 4 == 1) --data_end;
    if (!DecodeBase64(text.substr(begin, data_end - begin), decoded)) continue;
    if (!LooksLikeText(decoded)) continue;
    Keep(Encoding::kBase64, begin, run_end, decoded, budget, out);
  }
}

// Finds hex tokens starting in [from, to), a stretch of hex digits and separators.
void FindHexTokens(std::string_view text, size_t from, size_t to, uint32_t min_digits,
                   Budget& budget, std::string& decoded, std::vector<DecodedRun>& out) {
  const size_t n = text.size();
  auto hex_group_end = [&](size_t k) {
    while (k < n && IsHex(At(text, k))) ++k;
    return k;
  };
  auto skip_token = [&](size_t k) {
    while (k < n && IsAlnum(At(text, k))) ++k;
    return k;
  };
  size_t i = from;
  while (i < to && !budget.Full()) {
    if (!IsAlnum(At(text, i))) {
      ++i;
      continue;
    }
    size_t run_begin = i;
    if (i > 0 && IsAlnum(At(text, i - 1))) {
      // Only a "0x" prefix may precede a token; "sha256deadbeef..." is one longer token.
      const bool prefixed = i >= 2 && (text[i - 1] == 'x' || text[i - 1] == 'X') &&
                            text[i - 2] == '0' && (i == 2 || !IsAlnum(At(text, i - 3)));
      if (!prefixed) {
        i = skip_token(i);
        continue;
      }
      run_begin = i - 2;
    }
    const size_t begin = i;
    size_t end = hex_group_end(i);
    size_t digits = end - begin;
    if (digits == 2 && end + 2 < n) {
      // Separated bytes: "69 67 6e", "69:67:6e"; every group exactly two digits.
      const char sep = text[end];
      if (kCharClass[static_cast<uint8_t>(sep)] & kClassHexSep) {
        while (end + 2 < n && text[end] == sep && hex_group_end(end + 1) == end + 3 &&
               (end + 3 == n || !IsAlnum(At(text, end + 3)))) {
          end += 3;
          digits += 2;
        }
      }
    }
    if (end < n && IsAlnum(At(text, end))) {
      // Not a whole token ("deadbeefcafebabeZZ"); skip the rest of it.
      i = skip_token(end);
      continue;
    }
    i = end;
    if (digits < min_digits || digits % 2 != 0) continue;
    if (!HexImpl(text.substr(begin, end - begin), decoded) || !LooksLikeText(decoded)) continue;
    Keep(Encoding::kHex, run_begin, end, decoded, budget, out);
  }
}

// `starts` holds the hex mask of ClassBits and is overwritten.
void FindHex(std::string_view text, uint32_t min_digits, std::vector<uint64_t>& starts,
             Budget& budget, std::vector<DecodedRun>& out) {
  const size_t n = text.size();
  if (n < min_digits) return;
  std::string decoded;
  // A run of min_digits digits, separated or not, lies in a stretch of at least min_digits
  // bytes that are all digits or separators; `starts` marks where such a stretch can begin.
  // text[i - 1] is never in the class, so the next mark is the start of a whole stretch.
  KeepRunStarts(starts, min_digits);
  auto in_class = [&](size_t k) { return (kCharClass[At(text, k)] & (kClassHex | kClassHexSep)); };
  size_t i = 0;
  while (i < n && !budget.Full()) {
    const size_t s = NextSetBit(starts, i, n);
    if (s >= n) break;
    size_t e = s + min_digits;
    while (e < n && in_class(e)) ++e;
    FindHexTokens(text, s, e, min_digits, budget, decoded, out);
    i = e;
  }
}

// Chains of escapes (percent, HTML, backslash) separated by short literal gaps, widened to
// whole whitespace-delimited tokens so "ignore%20all%20previous" keeps its first word.
// Percent-encoding lives in URLs and form bodies, which never hold a literal space, so its
// chains stop at white space (`gap_space` false); markup and string literals do not.
template <typename Match, typename Decode>
void FindEscapeRuns(std::string_view text, Encoding enc, char trigger, uint32_t min_escapes,
                    bool gap_space, Match match, Decode decode, Budget& budget,
                    std::vector<DecodedRun>& out) {
  const size_t n = text.size();
  std::string decoded;
  size_t floor = 0;  // Runs never reach back before the previous run's end.
  size_t i = 0;
  while (i < n && !budget.Full()) {
    const void* next = std::memchr(text.data() + i, trigger, n - i);
    if (next == nullptr) break;
    i = static_cast<size_t>(static_cast<const char*>(next) - text.data());
    size_t len = match(text, i);
    if (len == 0) {
      ++i;
      continue;
    }
    size_t run_begin = i;
    size_t count = 0;
    size_t last_end = i;
    while (i < n) {
      len = match(text, i);
      if (len != 0) {
        ++count;
        i += len;
        last_end = i;
        continue;
      }
      if (i - last_end >= kMaxEscapeGap || text[i] == '\n' ||
          (!gap_space && IsSpace(At(text, i)))) {
        break;
      }
      ++i;
    }
    // Rescanning the gap costs at most kMaxEscapeGap bytes per chain.
    i = last_end;
    if (count < min_escapes) continue;
    while (run_begin > floor && !IsSpace(At(text, run_begin - 1))) --run_begin;
    size_t run_end = last_end;
    while (run_end < n && !IsSpace(At(text, run_end))) ++run_end;
    // The widened end may hold more escapes that start the next chain; they are inside.
    i = run_end;
    floor = run_end;
    decode(text.substr(run_begin, run_end - run_begin), decoded);
    if (!LooksLikeText(decoded)) continue;
    Keep(enc, run_begin, run_end, decoded, budget, out);
  }
}

void TruncateUtf8(std::string& s, size_t max) {
  if (s.size() <= max) return;
  size_t cut = max;
  while (cut > 0 && (static_cast<uint8_t>(s[cut]) & 0xC0) == 0x80) --cut;
  s.resize(cut);
}

}  // namespace

std::string_view EncodingName(Encoding e) {
  switch (e) {
    case Encoding::kBase64:
      return "base64";
    case Encoding::kHex:
      return "hex";
    case Encoding::kPercent:
      return "percent";
    case Encoding::kHtmlEntity:
      return "html_entity";
    case Encoding::kEscape:
      return "escape";
    case Encoding::kRot13:
      return "rot13";
  }
  return "unknown";
}

void FindEncodedRuns(std::string_view text, const DecodeLimits& limits,
                     std::vector<DecodedRun>& out) {
  if (limits.max_runs == 0 || limits.max_decoded_bytes == 0 || text.empty()) return;
  // Spans are 32-bit; the normalizer never produces a longer text.
  text = text.substr(0, std::min<size_t>(text.size(), std::numeric_limits<uint32_t>::max()));
  const uint32_t min_base64 = std::max<uint32_t>(limits.min_base64_chars, 4);
  const uint32_t min_hex = std::max<uint32_t>(limits.min_hex_digits, 2);
  const uint32_t min_escapes = std::max<uint32_t>(limits.min_escapes, 1);

  std::vector<DecodedRun> found;
  auto budget = [&] { return Budget{limits.max_runs, limits.max_decoded_bytes}; };
  {
    Budget b = budget();
    if (LooksLikeRot13(text)) {
      std::string decoded;
      Rot13(text.substr(0, std::min<size_t>(text.size(), size_t{limits.max_decoded_bytes} + 3)),
            decoded);
      TruncateUtf8(decoded, limits.max_decoded_bytes);
      if (LooksLikeText(decoded)) Keep(Encoding::kRot13, 0, text.size(), decoded, b, found);
    }
  }
  if (text.size() >= std::min(min_base64, min_hex)) {  // Shorter texts hold neither run.
    std::vector<uint64_t> base64_bits;
    std::vector<uint64_t> hex_bits;
    ClassBits(text, base64_bits, hex_bits);
    Budget b64 = budget();
    FindBase64(text, min_base64, base64_bits, b64, found);
    Budget hex = budget();
    FindHex(text, min_hex, hex_bits, hex, found);
  }
  {
    Budget b = budget();
    FindEscapeRuns(
        text, Encoding::kPercent, '%', min_escapes, /*gap_space=*/false, MatchPercent,
        [](std::string_view in, std::string& o) { PercentImpl(in, o, false); }, b, found);
  }
  {
    Budget b = budget();
    FindEscapeRuns(
        text, Encoding::kHtmlEntity, '&', min_escapes, /*gap_space=*/true,
        [](std::string_view in, size_t i) { return MatchHtml(in, i, nullptr); },
        [](std::string_view in, std::string& o) { HtmlImpl(in, o, false); }, b, found);
  }
  {
    Budget b = budget();
    FindEscapeRuns(
        text, Encoding::kEscape, '\\', min_escapes, /*gap_space=*/true, MatchEscape,
        [](std::string_view in, std::string& o) { EscapesImpl(in, o, false); }, b, found);
  }

  std::stable_sort(found.begin(), found.end(), [](const DecodedRun& a, const DecodedRun& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  uint64_t remaining = limits.max_decoded_bytes;
  uint32_t runs = 0;
  for (DecodedRun& run : found) {
    if (runs >= limits.max_runs || remaining == 0) break;
    if (run.decoded.size() > remaining) {
      // A cut payload is still scanned, but only if the part kept is itself text.
      TruncateUtf8(run.decoded, remaining);
      if (!LooksLikeText(run.decoded)) continue;
    }
    remaining -= run.decoded.size();
    ++runs;
    out.push_back(std::move(run));
  }
}

bool DecodeBase64(std::string_view in, std::string& out) {
  out.clear();
  while (!in.empty() && in.back() == '=') in.remove_suffix(1);
  if (in.size() % 4 == 1) return false;
  out.reserve(in.size() / 4 * 3 + 2);
  uint32_t acc = 0;
  int bits = 0;
  for (char ch : in) {
    const uint8_t v = kBase64Table[static_cast<uint8_t>(ch)];
    if (v >= 64) return false;
    acc = (acc << 6) | v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xFF));
    }
  }
  return true;
}

bool DecodeHex(std::string_view in, std::string& out) { return HexImpl(in, out); }

bool DecodePercent(std::string_view in, std::string& out) { return PercentImpl(in, out, true); }

bool DecodeHtmlEntities(std::string_view in, std::string& out) { return HtmlImpl(in, out, true); }

bool DecodeEscapes(std::string_view in, std::string& out) { return EscapesImpl(in, out, true); }

void Rot13(std::string_view in, std::string& out) {
  out.resize(in.size());
  for (size_t i = 0; i < in.size(); ++i) out[i] = Rot13Char(in[i]);
}

bool LooksLikeText(std::string_view s) {
  if (s.empty() || FirstInvalidUtf8(s) != s.size()) return false;
  size_t total = 0;
  size_t good = 0;
  for (size_t i = 0; i < s.size();) {
    const uint8_t b = At(s, i);
    ++total;
    if (b < 0x80) {
      good += (b >= 0x20 && b < 0x7F) || b == '\n' || b == '\r' || b == '\t';
      ++i;
      continue;
    }
    // Valid UTF-8 was checked above, so the lead byte gives the length.
    const int len = b >= 0xF0 ? 4 : b >= 0xE0 ? 3 : 2;
    char32_t c = b & (len == 2 ? 0x1F : len == 3 ? 0x0F : 0x07);
    for (int k = 1; k < len; ++k) c = (c << 6) | (At(s, i + k) & 0x3F);
    i += static_cast<size_t>(len);
    const UChar32 u = static_cast<UChar32>(c);
    good += (u_isprint(u) || u_isUWhiteSpace(u)) && u_charType(u) != U_PRIVATE_USE_CHAR &&
            u_charType(u) != U_UNASSIGNED;
  }
  // 85% printable: integer form of good / total >= 0.85.
  return good * 100 >= total * 85;
}

namespace internal {

EnglishWordCount CountEnglishWords(std::string_view text, bool rotated) {
  WordBounds bounds;
  FindWordBounds(text, bounds);
  return rampart::text::CountEnglishWords(text, bounds, rotated ? kRotLetterIndex : kLetterIndex,
                                          rotated ? kRotLetterPairs : kLetterPairs);
}

EnglishWordCount CountEnglishWordsSlowly(std::string_view text, bool rotated) {
  const std::array<uint8_t, 256>& index = rotated ? kRotLetterIndex : kLetterIndex;
  text = text.substr(0, std::min(text.size(), kRot13Window));
  EnglishWordCount count;
  size_t i = 0;
  while (i < text.size()) {
    if (index[At(text, i)] == 0) {
      ++i;
      continue;
    }
    std::string word;
    for (; i < text.size() && index[At(text, i)] != 0; ++i) {
      word.push_back(static_cast<char>('a' + index[At(text, i)] - 1));
    }
    ++count.words;
    count.hits += std::find(std::begin(kEnglishWords), std::end(kEnglishWords), word) !=
                  std::end(kEnglishWords);
  }
  return count;
}

}  // namespace internal

}  // namespace rampart::text
