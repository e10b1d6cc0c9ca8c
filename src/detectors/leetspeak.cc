#include "detectors/leetspeak.h"

namespace rampart::detectors {
namespace {

bool IsAlpha(unsigned char c) { return (c | 0x20) >= 'a' && (c | 0x20) <= 'z'; }
bool IsLeet(unsigned char c) {
  return c == '0' || c == '1' || c == '3' || c == '4' || c == '5' || c == '7' || c == '@' ||
         c == '$';
}
bool IsWordChar(unsigned char c) { return IsAlpha(c) || (c >= '0' && c <= '9') || IsLeet(c); }

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
  size_t leet_bytes = 0;
  for (char ch : text) leet_bytes += IsLeet(static_cast<unsigned char>(ch));
  if (leet_bytes < 3) return false;
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
