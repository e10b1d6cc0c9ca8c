#include "text/normalizer.h"

#include <unicode/uchar.h>
#include <unicode/unistr.h>
#include <unicode/unorm2.h>
#include <unicode/uspoof.h>
#include <unicode/utf16.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"

namespace rampart::text {
namespace {

constexpr char32_t kReplacementChar = 0xFFFD;

// ---------------------------------------------------------------------------------------------
// UTF-8 decoding (Unicode 15, Table 3-7 "Well-Formed UTF-8 Byte Sequences").

// Decodes one code point at p[0..avail). Returns its length (> 0) and sets `cp`, or returns
// minus the length of the maximal invalid subpart, so that each maximal subpart becomes one
// U+FFFD (the W3C/WHATWG and Unicode "best practice" convention).
int DecodeUtf8(const uint8_t* p, size_t avail, char32_t& cp) {
  const uint8_t b0 = p[0];
  if (b0 < 0x80) {
    cp = b0;
    return 1;
  }
  int need;
  uint8_t lo = 0x80;
  uint8_t hi = 0xBF;
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    need = 1;
    cp = b0 & 0x1F;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    need = 2;
    cp = b0 & 0x0F;
    if (b0 == 0xE0) lo = 0xA0;  // Overlong.
    if (b0 == 0xED) hi = 0x9F;  // Surrogates.
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    need = 3;
    cp = b0 & 0x07;
    if (b0 == 0xF0) lo = 0x90;  // Overlong.
    if (b0 == 0xF4) hi = 0x8F;  // Above U+10FFFF.
  } else {
    return -1;  // Continuation byte, C0/C1 (always overlong) or F5..FF.
  }
  for (int k = 1; k <= need; ++k) {
    if (static_cast<size_t>(k) >= avail) return -k;
    const uint8_t b = p[k];
    if (b < lo || b > hi) return -k;
    lo = 0x80;
    hi = 0xBF;
    cp = (cp << 6) | (b & 0x3F);
  }
  return need + 1;
}

// First index >= i that holds a non-ASCII byte, or n.
inline size_t AsciiRunEnd(const char* p, size_t i, size_t n) {
  while (i + 8 <= n) {
    uint64_t w;
    std::memcpy(&w, p + i, 8);
    if (w & 0x8080808080808080ull) break;
    i += 8;
  }
  while (i < n && static_cast<uint8_t>(p[i]) < 0x80) ++i;
  return i;
}

// ---------------------------------------------------------------------------------------------
// Invisible characters.

// Returns true and sets `kind` when `c` is removed from the normalized text.
bool ClassifyHidden(char32_t c, HiddenKind& kind) {
  if (c < 0xAD) return false;
  if (c >= 0xE0000 && c <= 0xE007F) {
    kind = HiddenKind::kTagCharacter;
  } else if ((c >= 0xFE00 && c <= 0xFE0F) || (c >= 0xE0100 && c <= 0xE01EF) ||
             (c >= 0x180B && c <= 0x180D) || c == 0x180F) {
    kind = HiddenKind::kVariationSelector;
  } else if ((c >= 0x202A && c <= 0x202E) || (c >= 0x2066 && c <= 0x2069) || c == 0x200E ||
             c == 0x200F || c == 0x061C) {
    kind = HiddenKind::kBidiControl;
  } else if ((c >= 0x200B && c <= 0x200D) || c == 0x2060 || c == 0xFEFF || c == 0x180E ||
             c == 0x00AD || c == 0x034F) {
    kind = HiddenKind::kZeroWidth;
  } else if (u_hasBinaryProperty(static_cast<UChar32>(c), UCHAR_DEFAULT_IGNORABLE_CODE_POINT)) {
    kind = HiddenKind::kOtherInvisible;
  } else {
    return false;
  }
  return true;
}

// ---------------------------------------------------------------------------------------------
// Confusable table.
//
// uspoof_getSkeleton costs about a microsecond per call, far too slow per character, so the
// ASCII skeleton of every NFKC-stable letter and digit is computed once per process. Only
// NFKC-stable code points are needed because the table is consulted after NFKC.
//
// An entry packs up to 4 ASCII bytes (little-endian, zero-terminated); 0 means "no mapping".

bool IsAsciiUpper(char c) { return c >= 'A' && c <= 'Z'; }
bool IsAsciiLower(char c) { return c >= 'a' && c <= 'z'; }
bool IsAsciiDigit(char c) { return c >= '0' && c <= '9'; }
bool IsAsciiAlnum(char c) { return IsAsciiUpper(c) || IsAsciiLower(c) || IsAsciiDigit(c); }

class ConfusableTable {
 public:
  static const ConfusableTable& Get() {
    // Never destroyed: Normalize() may run on threads that outlive static destruction.
    static const ConfusableTable* const table = new ConfusableTable();
    return *table;
  }

  bool ok() const { return ok_; }

  uint32_t Lookup(char32_t c) const {
    if (c < 0x10000) return bmp_[c];
    auto it = std::lower_bound(supplementary_.begin(), supplementary_.end(),
                               std::pair<uint32_t, uint32_t>(c, 0));
    return (it != supplementary_.end() && it->first == c) ? it->second : 0;
  }

 private:
  ConfusableTable() : bmp_(0x10000, 0) {
    UErrorCode status = U_ZERO_ERROR;
    const UNormalizer2* nfkc = unorm2_getNFKCInstance(&status);
    USpoofChecker* checker = uspoof_open(&status);
    if (U_FAILURE(status) || nfkc == nullptr || checker == nullptr) {
      if (checker != nullptr) uspoof_close(checker);
      return;
    }
    // Which ASCII letters and digits share each skeleton ("l" <- I, l, 1; "O" <- O, 0), so a
    // look-alike can become the ASCII character of the same case class.
    std::map<std::string, std::string> ascii_by_skeleton;
    for (char c = '0'; c <= 'z'; ++c) {
      if (!IsAsciiAlnum(c)) continue;
      std::string sk = Skeleton(checker, c);
      if (!sk.empty()) ascii_by_skeleton[sk].push_back(c);
    }
    for (char32_t c = 0x80; c < 0x20000; ++c) {
      if (IsSkippedRange(c)) continue;
      if (!(U_GET_GC_MASK(c) & (U_GC_L_MASK | U_GC_ND_MASK | U_GC_NL_MASK))) continue;
      UChar buf[2];
      int32_t len = 0;
      U16_APPEND_UNSAFE(buf, len, c);
      UErrorCode st = U_ZERO_ERROR;
      if (!unorm2_isNormalized(nfkc, buf, len, &st) || U_FAILURE(st)) continue;
      const std::string sk = Skeleton(checker, c);
      if (sk.empty() || sk.size() > 4) continue;
      const uint32_t packed = Choose(c, sk, ascii_by_skeleton);
      if (packed == 0) continue;
      if (c < 0x10000) {
        bmp_[c] = packed;
      } else {
        supplementary_.emplace_back(c, packed);
      }
    }
    uspoof_close(checker);
    ok_ = true;
  }

  // Scripts with tens of thousands of letters and no ASCII look-alike (verified against
  // ICU 72's confusables data); skipping them halves the one-time cost.
  static bool IsSkippedRange(char32_t c) {
    return (c >= 0x3400 && c <= 0x4DBF) || (c >= 0x4E00 && c <= 0x9FFF) ||
           (c >= 0xA000 && c <= 0xA4CF) || (c >= 0xAC00 && c <= 0xD7A3) ||
           (c >= 0xD800 && c <= 0xDFFF) || (c >= 0x12000 && c <= 0x1254F) ||
           (c >= 0x13000 && c <= 0x1345F) || (c >= 0x17000 && c <= 0x18CFF) ||
           (c >= 0x1B000 && c <= 0x1B2FF);
  }

  // Skeleton of one code point when it is pure ASCII letters/digits, else "".
  static std::string Skeleton(USpoofChecker* checker, char32_t c) {
    UErrorCode st = U_ZERO_ERROR;
    icu::UnicodeString src(static_cast<UChar32>(c));
    icu::UnicodeString dest;
    uspoof_getSkeletonUnicodeString(checker, 0, src, dest, &st);
    if (U_FAILURE(st) || dest.isEmpty()) return "";
    std::string out;
    for (int32_t i = 0; i < dest.length(); ++i) {
      const UChar u = dest.charAt(i);
      if (u >= 0x80 || !IsAsciiAlnum(static_cast<char>(u))) return "";
      out.push_back(static_cast<char>(u));
    }
    return out;
  }

  // Picks, for each skeleton, the ASCII character that fits the source's case class: an
  // upper-case source prefers an upper-case letter, lower-case a lower-case letter, a digit
  // a digit. Digits map only to digits, so Arabic-Indic digits do not become letters.
  static uint32_t Choose(char32_t c, const std::string& sk,
                         const std::map<std::string, std::string>& ascii_by_skeleton) {
    const bool digit = u_isdigit(static_cast<UChar32>(c));
    const bool upper = u_isupper(static_cast<UChar32>(c));
    const bool lower = u_islower(static_cast<UChar32>(c));
    auto pick = [&](const std::string& candidates, char prototype) -> char {
      auto first = [&](bool (*pred)(char)) -> char {
        for (char a : candidates) {
          if (pred(a)) return a;
        }
        return 0;
      };
      if (digit) return first(IsAsciiDigit);
      char a = 0;
      if (upper) a = first(IsAsciiUpper);
      if (lower) a = first(IsAsciiLower);
      if (a != 0) return a;
      if (candidates.find(prototype) != std::string::npos) return prototype;
      return candidates.empty() ? 0 : candidates[0];
    };
    std::string chosen;
    if (auto it = ascii_by_skeleton.find(sk); it != ascii_by_skeleton.end()) {
      const char a = pick(it->second, sk.size() == 1 ? sk[0] : 0);
      if (a == 0) return 0;
      chosen.push_back(a);
    } else {
      // Multi-character skeletons ("AE" for U+00C6): map character by character.
      if (digit) return 0;
      for (char s : sk) {
        auto it1 = ascii_by_skeleton.find(std::string(1, s));
        const char a = it1 == ascii_by_skeleton.end() ? s : pick(it1->second, s);
        if (a == 0) return 0;
        chosen.push_back(a);
      }
    }
    uint32_t packed = 0;
    for (size_t i = 0; i < chosen.size(); ++i) {
      packed |= static_cast<uint32_t>(static_cast<uint8_t>(chosen[i])) << (8 * i);
    }
    return packed;
  }

  bool ok_ = false;
  std::vector<uint32_t> bmp_;
  std::vector<std::pair<uint32_t, uint32_t>> supplementary_;
};

// BMP code points that are whole normalization segments by themselves and pass through it
// unchanged: NFKC leaves them alone and nothing before or after composes with them (ICU's
// "inert"), and they are neither white space nor hidden. Most letters of most scripts are;
// the pass emits them directly instead of buffering a segment and asking ICU about it.
class InertTable {
 public:
  static const InertTable& Get() {
    // Never destroyed: Normalize() may run on threads that outlive static destruction.
    static const InertTable* const table = new InertTable();
    return *table;
  }

  bool Inert(char32_t c) const { return c < 0x10000 && ((bits_[c >> 6] >> (c & 63)) & 1) != 0; }

 private:
  InertTable() {
    UErrorCode status = U_ZERO_ERROR;
    const UNormalizer2* nfkc = unorm2_getNFKCInstance(&status);
    // Without ICU data nothing is inert, and every character takes the general path.
    if (U_FAILURE(status) || nfkc == nullptr) return;
    for (char32_t c = 0x80; c < 0x10000; ++c) {
      HiddenKind kind;
      if ((c >= 0xD800 && c <= 0xDFFF) || ClassifyHidden(c, kind) ||
          u_isUWhiteSpace(static_cast<UChar32>(c)) ||
          !unorm2_isInert(nfkc, static_cast<UChar32>(c))) {
        continue;
      }
      bits_[c >> 6] |= uint64_t{1} << (c & 63);
    }
  }

  std::array<uint64_t, 0x10000 / 64> bits_{};
};

// ---------------------------------------------------------------------------------------------
// White-space runs.

inline bool IsWhiteSpaceByte(char c) {
  return c == ' ' || c == '\n' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

// Shortens every run of more than kMaxWhiteSpaceRun white-space bytes to exactly that many:
// the run's first bytes, one byte of the dropped middle (its first '\n', else its first '\r',
// else its first byte) standing for all of it, and the run's last bytes. The result is a
// subsequence of the run that keeps a line break wherever one separated the two ends, so a
// pattern that matched the run with `[ \t]*`, `[\n\r]+` or `[^\n]*` still matches.
void CapWhiteSpaceRuns(NormalizedText& out) {
  constexpr size_t kMax = kMaxWhiteSpaceRun;
  constexpr size_t kTail = kMax / 2;
  constexpr size_t kHead = kMax - kTail - 1;
  std::string& t = out.text;
  const size_t n = t.size();
  size_t write = 0;  // out[0, write) is final
  size_t read = 0;   // bytes from here on are not yet moved
  auto move = [&](size_t from, size_t to) {
    if (write != from) {
      std::memmove(&t[write], &t[from], to - from);
      std::memmove(&out.orig_begin[write], &out.orig_begin[from], (to - from) * sizeof(uint32_t));
      std::memmove(&out.orig_end[write], &out.orig_end[from], (to - from) * sizeof(uint32_t));
    }
    write += to - from;
  };
  // Probing the last byte of the shortest run too long that could start at i skips prose
  // without reading most of it. Invariant: i == 0 or t[i - 1] is not white space.
  size_t i = 0;
  while (i + kMax < n) {
    const size_t probe = i + kMax;
    if (!IsWhiteSpaceByte(t[probe])) {
      i = probe + 1;
      continue;
    }
    size_t s = probe;
    while (s > i && IsWhiteSpaceByte(t[s - 1])) --s;
    if (s > i) {
      i = s;
      continue;
    }
    size_t e = probe + 1;
    while (e < n && IsWhiteSpaceByte(t[e])) ++e;
    // [s, e) is a run of more than kMax bytes; drop [s + kHead, e - kTail) but one byte.
    const size_t mid_begin = s + kHead, mid_end = e - kTail;
    size_t keep = mid_begin;
    if (const void* nl = std::memchr(&t[mid_begin], '\n', mid_end - mid_begin); nl != nullptr) {
      keep = static_cast<size_t>(static_cast<const char*>(nl) - t.data());
    } else if (const void* cr = std::memchr(&t[mid_begin], '\r', mid_end - mid_begin)) {
      keep = static_cast<size_t>(static_cast<const char*>(cr) - t.data());
    }
    // The text no longer maps byte for byte onto the original.
    if (!out.mapped) out.MaterializeMap(n);
    move(read, mid_begin);
    t[write] = t[keep];
    out.orig_begin[write] = out.orig_begin[mid_begin];
    out.orig_end[write] = out.orig_end[mid_end - 1];
    ++write;
    read = mid_end;
    i = e + 1;
  }
  if (read == 0) return;
  move(read, n);
  t.resize(write);
  out.orig_begin.resize(write);
  out.orig_end.resize(write);
}

// ---------------------------------------------------------------------------------------------
// The normalization pass.

// Longest NFKC segment buffered, in UTF-16 units. A segment normally ends at the next
// character with a normalization boundary; a run of combining marks (Zalgo text) would
// otherwise grow without bound and make canonical reordering quadratic. Unicode's
// Stream-Safe Text Format makes the same cut at 30 non-starters.
constexpr int32_t kMaxSegment = 64;
// NFKC expands one code point to at most 18 (U+FDFA), so the output of a full segment fits;
// the heap fallback below exists only for safety.
constexpr int32_t kMaxSegmentOutput = kMaxSegment * 18 + 16;

inline int EncodeUtf8(char32_t c, char* out) {
  if (c < 0x80) {
    out[0] = static_cast<char>(c);
    return 1;
  }
  if (c < 0x800) {
    out[0] = static_cast<char>(0xC0 | (c >> 6));
    out[1] = static_cast<char>(0x80 | (c & 0x3F));
    return 2;
  }
  if (c < 0x10000) {
    out[0] = static_cast<char>(0xE0 | (c >> 12));
    out[1] = static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    out[2] = static_cast<char>(0x80 | (c & 0x3F));
    return 3;
  }
  out[0] = static_cast<char>(0xF0 | (c >> 18));
  out[1] = static_cast<char>(0x80 | ((c >> 12) & 0x3F));
  out[2] = static_cast<char>(0x80 | ((c >> 6) & 0x3F));
  out[3] = static_cast<char>(0x80 | (c & 0x3F));
  return 4;
}

// NFKC expands a few code points up to 18-fold (U+FDFA). Ordinary text grows by a few
// percent at most; an output beyond this many times the input (plus slack for short inputs)
// only comes from input built to exhaust memory, and is refused.
constexpr size_t kMaxExpansion = 4;
constexpr size_t kExpansionSlack = 64 * 1024;

class Pass {
 public:
  Pass(const NormalizerOptions& options, const UNormalizer2* nfkc, const ConfusableTable* table,
       NormalizedText& out)
      : options_(options), nfkc_(nfkc), table_(table), inert_(InertTable::Get()), out_(out) {}

  absl::Status Run(std::string_view input) {
    input_size_ = input.size();
    max_output_ = kMaxExpansion * input.size() + kExpansionSlack;
    const char* p = input.data();
    const size_t n = input.size();
    size_t i = 0;
    while (i < n) {
      if (static_cast<uint8_t>(p[i]) < 0x80) {
        // Every ASCII character starts a normalization segment, so a run of them can be
        // copied, except the last: a combining mark may follow and compose with it.
        const size_t j = AsciiRunEnd(p, i + 1, n);
        if (!Flush()) return Internal();
        const size_t fast_end = j == n ? j : j - 1;
        EmitAscii(p, i, fast_end);
        if (fast_end < j) {
          const char last = p[fast_end];
          if (last == '\v' || last == '\f') {
            EmitByte(' ', fast_end, j);
          } else {
            Append(static_cast<char32_t>(last), fast_end, j);
          }
        }
        i = j;
        continue;
      }
      char32_t c = 0;
      const int len = DecodeUtf8(reinterpret_cast<const uint8_t*>(p + i), n - i, c);
      if (len < 0) {
        if (!options_.replace_invalid_utf8) {
          return absl::InvalidArgumentError(absl::StrCat("invalid UTF-8 at byte offset ", i));
        }
        if (!Flush()) return Internal();
        const uint32_t b = static_cast<uint32_t>(i);
        const uint32_t e = static_cast<uint32_t>(i - len);
        EmitCodePoint(kReplacementChar, b, e, /*map_confusable=*/false);
        ++out_.invalid_utf8_sequences;
        i -= len;
        continue;
      }
      const uint32_t b = static_cast<uint32_t>(i);
      const uint32_t e = static_cast<uint32_t>(i + len);
      i += len;
      if (inert_.Inert(c)) {
        if (!Flush()) return Internal();
        EmitCodePoint(c, b, e, options_.map_confusables);
        continue;
      }
      HiddenKind kind;
      if (ClassifyHidden(c, kind)) {
        // Removed without ending the segment, so "e", U+200B, U+0301 still composes.
        RecordHidden(kind, c, b, e);
        continue;
      }
      if (u_isUWhiteSpace(static_cast<UChar32>(c))) {
        if (!Flush()) return Internal();
        EmitByte(' ', b, e);
        continue;
      }
      if (seg_len_ > 0 && (seg_len_ + 2 > kMaxSegment ||
                           unorm2_hasBoundaryBefore(nfkc_, static_cast<UChar32>(c)))) {
        if (!Flush()) return Internal();
      }
      Append(c, b, e);
      if (out_.text.size() > max_output_) return TooLarge(input.size());
    }
    if (!Flush()) return Internal();
    if (out_.text.size() > max_output_) return TooLarge(input.size());
    return absl::OkStatus();
  }

 private:
  static absl::Status Internal() { return absl::InternalError("ICU normalization failed"); }
  static absl::Status TooLarge(size_t input_bytes) {
    return absl::ResourceExhaustedError(
        absl::StrCat("normalized form of a ", input_bytes, "-byte input exceeds ", kMaxExpansion,
                     "x its size; refusing an input built to exhaust memory"));
  }

  void Append(char32_t c, uint32_t b, uint32_t e) {
    if (seg_len_ == 0) seg_begin_ = b;
    seg_end_ = e;
    U16_APPEND_UNSAFE(seg_, seg_len_, static_cast<UChar32>(c));
  }

  bool Flush() {
    if (seg_len_ == 0) return true;
    const int32_t len = seg_len_;
    seg_len_ = 0;
    if (len == 1 && seg_[0] < 0x80) {
      EmitByte(static_cast<char>(seg_[0]), seg_begin_, seg_end_);
      return true;
    }
    UErrorCode st = U_ZERO_ERROR;
    const UChar* src = seg_;
    int32_t src_len = len;
    if (!unorm2_isNormalized(nfkc_, seg_, len, &st)) {
      if (U_FAILURE(st)) return false;
      src = dest_;
      src_len = unorm2_normalize(nfkc_, seg_, len, dest_, kMaxSegmentOutput, &st);
      if (st == U_BUFFER_OVERFLOW_ERROR) {
        heap_.resize(static_cast<size_t>(src_len));
        st = U_ZERO_ERROR;
        src_len = unorm2_normalize(nfkc_, seg_, len, heap_.data(), src_len, &st);
        src = heap_.data();
      }
    }
    if (U_FAILURE(st)) return false;
    for (int32_t k = 0; k < src_len;) {
      UChar32 c;
      U16_NEXT(src, k, src_len, c);
      EmitCodePoint(static_cast<char32_t>(c), seg_begin_, seg_end_, options_.map_confusables);
    }
    return true;
  }

  void EmitAscii(const char* p, size_t from, size_t to) {
    if (from >= to) return;
    const size_t m = to - from;
    std::string& text = out_.text;
    const size_t old = text.size();
    // Bytes copied to where they were keep the identity map, and need no map entries.
    const bool identity = !out_.mapped && old == from;
    if (!out_.mapped && !identity) out_.MaterializeMap(input_size_);
    text.resize(old + m);
    char* t = text.data() + old;
    const char* src = p + from;
    for (size_t k = 0; k < m; ++k) {
      // Vertical tab and form feed are the only ASCII White_Space besides \t\n\r and ' '.
      // A select rather than a conditional store, so the loop vectorizes.
      const char c = src[k];
      t[k] = (c == '\v' || c == '\f') ? ' ' : c;
    }
    if (identity) return;
    out_.orig_begin.resize(old + m);
    out_.orig_end.resize(old + m);
    uint32_t* ob = out_.orig_begin.data() + old;
    uint32_t* oe = out_.orig_end.data() + old;
    const uint32_t base = static_cast<uint32_t>(from);
    for (size_t k = 0; k < m; ++k) {
      ob[k] = base + static_cast<uint32_t>(k);
      oe[k] = base + static_cast<uint32_t>(k) + 1;
    }
  }

  void EmitByte(char c, uint32_t b, uint32_t e) {
    if (!out_.mapped) {
      if (b == out_.text.size() && e == b + 1) {
        out_.text.push_back(c);
        return;
      }
      out_.MaterializeMap(input_size_);
    }
    out_.text.push_back(c);
    out_.orig_begin.push_back(b);
    out_.orig_end.push_back(e);
  }

  void EmitCodePoint(char32_t c, uint32_t b, uint32_t e, bool map_confusable) {
    char buf[4];
    int len;
    uint32_t packed = 0;
    if (c >= 0x80 && map_confusable && (packed = table_->Lookup(c)) != 0) {
      len = 0;
      while (len < 4 && (packed & 0xFF) != 0) {
        buf[len++] = static_cast<char>(packed & 0xFF);
        packed >>= 8;
      }
      ++out_.confusables_mapped;
    } else {
      len = EncodeUtf8(c, buf);
    }
    for (int k = 0; k < len; ++k) EmitByte(buf[k], b, e);
  }

  void RecordHidden(HiddenKind kind, char32_t c, uint32_t b, uint32_t e) {
    auto& hidden = out_.hidden;
    if (!hidden.empty() && hidden.back().kind == kind && hidden.back().span.end == b) {
      hidden.back().span.end = e;
      ++hidden.back().count;
    } else {
      hidden.push_back(HiddenRun{kind, Span{b, e}, 1});
    }
    if (c >= 0xE0020 && c <= 0xE007E) {
      if (out_.tag_payload.empty()) out_.tag_payload_span.begin = b;
      out_.tag_payload_span.end = e;
      out_.tag_payload.push_back(static_cast<char>(c - 0xE0000));
    }
  }

  const NormalizerOptions& options_;
  const UNormalizer2* nfkc_;
  const ConfusableTable* table_;
  const InertTable& inert_;
  NormalizedText& out_;
  size_t input_size_ = 0;
  size_t max_output_ = 0;

  UChar seg_[kMaxSegment];
  int32_t seg_len_ = 0;
  uint32_t seg_begin_ = 0;
  uint32_t seg_end_ = 0;
  UChar dest_[kMaxSegmentOutput];
  std::vector<UChar> heap_;
};

}  // namespace

std::string_view HiddenKindName(HiddenKind k) {
  switch (k) {
    case HiddenKind::kZeroWidth:
      return "zero_width";
    case HiddenKind::kBidiControl:
      return "bidi_control";
    case HiddenKind::kTagCharacter:
      return "tag_character";
    case HiddenKind::kVariationSelector:
      return "variation_selector";
    case HiddenKind::kOtherInvisible:
      return "other_invisible";
  }
  return "unknown";
}

void NormalizedText::Clear() {
  text.clear();
  orig_begin.clear();
  orig_end.clear();
  mapped = false;
  hidden.clear();
  tag_payload.clear();
  tag_payload_span = Span{};
  confusables_mapped = 0;
  invalid_utf8_sequences = 0;
}

Span NormalizedText::ToOriginal(uint32_t begin, uint32_t end) const {
  // The REQUIRES is the caller's duty, but a detector bug must not read out of bounds.
  const uint32_t size = static_cast<uint32_t>(text.size());
  if (end > size) end = size;
  if (begin >= end) {
    if (size == 0) return Span{};
    const uint32_t at = begin < size ? OriginalOf(begin).begin : OriginalOf(size - 1).end;
    return Span{at, at};
  }
  return Span{OriginalOf(begin).begin, OriginalOf(end - 1).end};
}

void NormalizedText::MaterializeMap(size_t capacity_hint) {
  if (mapped) return;
  const size_t n = text.size();
  orig_begin.reserve(std::max(capacity_hint, n));
  orig_end.reserve(std::max(capacity_hint, n));
  orig_begin.resize(n);
  orig_end.resize(n);
  for (size_t i = 0; i < n; ++i) {
    orig_begin[i] = static_cast<uint32_t>(i);
    orig_end[i] = static_cast<uint32_t>(i + 1);
  }
  mapped = true;
}

Normalizer::Normalizer(NormalizerOptions options) : options_(options) {
  // Build the process-wide table now, at configuration time, not on the first request.
  if (options_.map_confusables) ConfusableTable::Get();
  InertTable::Get();
}

absl::Status Normalizer::Normalize(std::string_view input, NormalizedText& out) const {
  out.Clear();
  if (input.size() > options_.max_input_bytes) {
    return absl::ResourceExhaustedError(
        absl::StrCat("input is ", input.size(), " bytes, limit is ", options_.max_input_bytes));
  }
  UErrorCode st = U_ZERO_ERROR;
  const UNormalizer2* nfkc = unorm2_getNFKCInstance(&st);
  if (U_FAILURE(st) || nfkc == nullptr) {
    return absl::InternalError("ICU NFKC data is unavailable");
  }
  const ConfusableTable* table = nullptr;
  if (options_.map_confusables) {
    table = &ConfusableTable::Get();
    // Fail closed: silently skipping the mapping would let look-alikes past the rules.
    if (!table->ok()) return absl::InternalError("ICU confusable data is unavailable");
  }
  out.text.reserve(input.size());
  Pass pass(options_, nfkc, table, out);
  absl::Status status = pass.Run(input);
  if (!status.ok()) {
    out.Clear();
    return status;
  }
  CapWhiteSpaceRuns(out);
  return status;
}

size_t CompleteUtf8Prefix(std::string_view s) {
  const size_t n = s.size();
  size_t i = n;
  size_t continuations = 0;
  while (i > 0 && continuations < 4 && (static_cast<uint8_t>(s[i - 1]) & 0xC0) == 0x80) {
    --i;
    ++continuations;
  }
  if (i == 0) return n;
  const uint8_t lead = static_cast<uint8_t>(s[i - 1]);
  // ASCII, a stray continuation byte or a byte that never starts a sequence: nothing pending.
  if (lead < 0xC2 || lead > 0xF4) return n;
  const size_t need = lead >= 0xF0 ? 3 : lead >= 0xE0 ? 2 : 1;
  return continuations >= need ? n : i - 1;
}

size_t FirstInvalidUtf8(std::string_view input) {
  const char* p = input.data();
  const size_t n = input.size();
  size_t i = 0;
  while (i < n) {
    i = AsciiRunEnd(p, i, n);
    if (i >= n) break;
    char32_t c;
    const int len = DecodeUtf8(reinterpret_cast<const uint8_t*>(p + i), n - i, c);
    if (len < 0) return i;
    i += static_cast<size_t>(len);
  }
  return n;
}

}  // namespace rampart::text
