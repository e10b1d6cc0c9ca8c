#include "detectors/leetspeak.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace rampart::detectors {
namespace {

bool IsAlpha(unsigned char c) { return (c | 0x20) >= 'a' && (c | 0x20) <= 'z'; }
bool IsLeet(unsigned char c) {
  return c == '0' || c == '1' || c == '3' || c == '4' || c == '5' || c == '7' || c == '@' ||
         c == '$';
}
bool IsWordChar(unsigned char c) { return IsAlpha(c) || (c >= '0' && c <= '9') || IsLeet(c); }

// Number of bytes IsLeet accepts; 16 at a time where SSE2 is available.
size_t CountLeetBytes(std::string_view t) {
  size_t count = 0, i = 0;
#if defined(__SSE2__)
  const __m128i lo = _mm_set1_epi8('0'), hi = _mm_set1_epi8('7');
  const __m128i two = _mm_set1_epi8('2'), six = _mm_set1_epi8('6');
  const __m128i at = _mm_set1_epi8('@'), dollar = _mm_set1_epi8('$');
  // Per-lane counts (a matching lane is -1, so subtracting adds one), summed into `count`
  // before any lane can overflow: at most 255 blocks at a time.
  __m128i lanes = _mm_setzero_si128();
  size_t blocks = 0;
  auto drain = [&] {
    const __m128i sums = _mm_sad_epu8(lanes, _mm_setzero_si128());
    count += static_cast<size_t>(_mm_cvtsi128_si32(sums)) +
             static_cast<size_t>(_mm_cvtsi128_si32(_mm_unpackhi_epi64(sums, sums)));
    lanes = _mm_setzero_si128();
    blocks = 0;
  };
  for (; i + 16 <= t.size(); i += 16) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(t.data() + i));
    // '0'..'7' except '2' and '6': v == max(v, '0') and v == min(v, '7') as unsigned bytes.
    const __m128i in_digits = _mm_and_si128(_mm_cmpeq_epi8(_mm_max_epu8(v, lo), v),
                                            _mm_cmpeq_epi8(_mm_min_epu8(v, hi), v));
    const __m128i excluded = _mm_or_si128(_mm_cmpeq_epi8(v, two), _mm_cmpeq_epi8(v, six));
    const __m128i leet =
        _mm_or_si128(_mm_andnot_si128(excluded, in_digits),
                     _mm_or_si128(_mm_cmpeq_epi8(v, at), _mm_cmpeq_epi8(v, dollar)));
    lanes = _mm_sub_epi8(lanes, leet);
    if (++blocks == 255) drain();
  }
  drain();
#endif
  for (; i < t.size(); ++i) count += IsLeet(static_cast<unsigned char>(t[i]));
  return count;
}

// Calls fn(begin, end, has_alpha, has_leet, all_leet) for every word.
template <typename Fn>
void ForEachWord(std::string_view t, Fn fn) {
  size_t i = 0;
  while (i < t.size()) {
    if (!IsWordChar(static_cast<unsigned char>(t[i]))) {
      ++i;
      continue;
    }
    size_t j = i;
    bool alpha = false, leet = false, all_leet = true;
    while (j < t.size() && IsWordChar(static_cast<unsigned char>(t[j]))) {
      unsigned char c = static_cast<unsigned char>(t[j]);
      alpha |= IsAlpha(c);
      leet |= IsLeet(c);
      all_leet &= IsLeet(c);
      ++j;
    }
    fn(i, j, alpha, leet, all_leet);
    i = j;
  }
}

}  // namespace

bool LooksLikeLeetspeak(std::string_view text) {
  // Three leet words need three leet bytes; most text has fewer, and counting them is a
  // branch-free pass the compiler vectorizes, cheaper than splitting the text into words.
  if (CountLeetBytes(text) < 3) return false;
  size_t words = 0, leet = 0;
  ForEachWord(text, [&](size_t, size_t, bool alpha, bool has_leet, bool) {
    if (!alpha) return;
    ++words;
    leet += has_leet;
  });
  return leet >= 3 && leet * 5 >= words;
}

void FoldLeetspeak(std::string_view text, std::string& out) {
  out.assign(text.data(), text.size());
  ForEachWord(text, [&](size_t b, size_t e, bool alpha, bool, bool all_leet) {
    if (!alpha && !(all_leet && e - b <= 2)) return;
    for (size_t k = b; k < e; ++k) out[k] = UnleetChar(static_cast<unsigned char>(text[k]));
  });
}

}  // namespace rampart::detectors
