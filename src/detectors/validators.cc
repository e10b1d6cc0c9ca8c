#include "detectors/validators.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <string>

namespace rampart::detectors {
namespace {

// Everything here works on bytes: the text is NFKC-normalized UTF-8, so the structures we
// validate (digits, ASCII letters, separators) are ASCII, and any byte >= 0x80 is simply
// "not one of ours".
bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsUpper(char c) { return c >= 'A' && c <= 'Z'; }
bool IsLower(char c) { return c >= 'a' && c <= 'z'; }
bool IsAlpha(char c) { return IsUpper(c) || IsLower(c); }
bool IsAlnum(char c) { return IsAlpha(c) || IsDigit(c); }
bool IsWordChar(char c) { return IsAlnum(c) || c == '_'; }
bool IsHex(char c) { return IsDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }
bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
char Lower(char c) { return IsUpper(c) ? static_cast<char>(c - 'A' + 'a') : c; }

std::string ToLower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = Lower(c);
  return out;
}

// Byte before `pos`, or '\0' at the start of the text.
char Before(std::string_view text, uint32_t pos) { return pos == 0 ? '\0' : text[pos - 1]; }
// Byte at `pos`, or '\0' past the end of the text.
char At(std::string_view text, uint32_t pos) { return pos < text.size() ? text[pos] : '\0'; }

uint32_t DigitCount(std::string_view s) {
  return static_cast<uint32_t>(std::count_if(s.begin(), s.end(), IsDigit));
}

std::string DigitsOf(std::string_view s) {
  std::string d;
  for (char c : s) {
    if (IsDigit(c)) d.push_back(c);
  }
  return d;
}

int ParseInt(std::string_view digits) {
  int v = 0;
  for (char c : digits) v = v * 10 + (c - '0');
  return v;
}

// Numbers are only findings when they stand alone: a digit run glued to letters or to more
// digits (possibly through one separator, as in "1234-5678-...-99") is some other token.
bool NumberBoundaryOk(std::string_view text, uint32_t begin, uint32_t end) {
  char b = Before(text, begin);
  if (IsAlnum(b) || b == '_' || b == '+') return false;
  if ((b == '-' || b == '.' || b == '/') && begin >= 2 && IsDigit(text[begin - 2])) return false;
  char a = At(text, end);
  if (IsAlnum(a) || a == '_') return false;
  if ((a == '-' || a == '.' || a == '/') && IsDigit(At(text, end + 1))) return false;
  return true;
}

// Trims separators that a pattern may have swallowed at either end.
void TrimSeparators(std::string_view text, uint32_t& begin, uint32_t& end) {
  auto is_sep = [](char c) { return c == ' ' || c == '-' || c == '.' || c == '\t'; };
  while (begin < end && is_sep(text[begin])) ++begin;
  while (end > begin && is_sep(text[end - 1])) --end;
}

// Separators between digit groups, in order ("4111 1111-..." -> " -").
std::string SeparatorsOf(std::string_view s) {
  std::string seps;
  for (char c : s) {
    if (!IsDigit(c)) seps.push_back(c);
  }
  return seps;
}

bool AllSame(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [&](char c) { return c == s[0]; });
}

// "1234567890123" and "9876543210..." are typed by people testing forms, not issued.
bool IsSequential(std::string_view digits) {
  if (digits.size() < 2) return false;
  bool up = true, down = true;
  for (size_t i = 1; i < digits.size(); ++i) {
    int d = (digits[i] - digits[i - 1] + 10) % 10;
    up = up && d == 1;
    down = down && d == 9;
  }
  return up || down;
}

// ---------------------------------------------------------------------------------------
// Payment cards.

bool CardPrefixOk(std::string_view d) {
  if (d.size() == 12) {
    // Only Maestro issues 12-digit cards; other 12-digit numbers are far likelier to be
    // phone numbers, order ids or account numbers.
    for (std::string_view p :
         {"5018", "5020", "5038", "56", "57", "58", "6304", "6390", "67", "0604"}) {
      if (d.substr(0, p.size()) == p) return true;
    }
    return false;
  }
  if (d.substr(0, 4) == "0604") return true;
  return d[0] >= '1' && d[0] <= '6';
}

bool ValidateLuhn(std::string_view text, uint32_t& begin, uint32_t& end,
                  const ValidatorArgs& /*args*/) {
  TrimSeparators(text, begin, end);
  if (begin >= end) return false;
  std::string_view cand = text.substr(begin, end - begin);
  if (!IsDigit(cand.front()) || !IsDigit(cand.back())) return false;
  if (!NumberBoundaryOk(text, begin, end)) return false;
  for (char c : cand) {
    if (!IsDigit(c) && c != ' ' && c != '-') return false;
  }
  // One kind of separator, used singly: "4111 1111 1111 1111" or "4111-1111-...", not a
  // sentence of numbers that happens to add up.
  std::string seps = SeparatorsOf(cand);
  if (!seps.empty() && !AllSame(seps)) return false;
  if (cand.find("  ") != std::string_view::npos || cand.find("--") != std::string_view::npos) {
    return false;
  }
  std::string digits = DigitsOf(cand);
  if (digits.size() < 12 || digits.size() > 19) return false;
  if (!seps.empty()) {
    // Grouped numbers use groups of 4 (16/19 digits), 4-6-4/5 (Amex, Diners) or 4-4-4-x.
    size_t first_group = cand.find(seps[0]);
    if (first_group != 4) return false;
  }
  if (AllSame(digits) || IsSequential(digits)) return false;
  if (!CardPrefixOk(digits)) return false;
  return LuhnValid(digits);
}

// ---------------------------------------------------------------------------------------
// IBAN.

struct IbanCountry {
  char code[3];
  uint8_t length;
};

// ISO 13616 registry lengths (SWIFT IBAN registry), SEPA and the common non-SEPA countries.
constexpr IbanCountry kIbanCountries[] = {
    {"AD", 24}, {"AE", 23}, {"AL", 28}, {"AT", 20}, {"AZ", 28}, {"BA", 20}, {"BE", 16}, {"BG", 22},
    {"BH", 22}, {"BI", 27}, {"BR", 29}, {"BY", 28}, {"CH", 21}, {"CR", 22}, {"CY", 28}, {"CZ", 24},
    {"DE", 22}, {"DJ", 27}, {"DK", 18}, {"DO", 28}, {"EE", 20}, {"EG", 29}, {"ES", 24}, {"FI", 18},
    {"FK", 18}, {"FO", 18}, {"FR", 27}, {"GB", 22}, {"GE", 22}, {"GI", 23}, {"GL", 18}, {"GR", 27},
    {"GT", 28}, {"HN", 28}, {"HR", 21}, {"HU", 28}, {"IE", 22}, {"IL", 23}, {"IQ", 23}, {"IS", 26},
    {"IT", 27}, {"JO", 30}, {"KW", 30}, {"KZ", 20}, {"LB", 28}, {"LC", 32}, {"LI", 21}, {"LT", 20},
    {"LU", 20}, {"LV", 21}, {"LY", 25}, {"MC", 27}, {"MD", 24}, {"ME", 22}, {"MK", 19}, {"MN", 20},
    {"MR", 27}, {"MT", 31}, {"MU", 30}, {"NI", 28}, {"NL", 18}, {"NO", 15}, {"OM", 23}, {"PK", 24},
    {"PL", 28}, {"PS", 29}, {"PT", 25}, {"QA", 29}, {"RO", 24}, {"RS", 22}, {"RU", 33}, {"SA", 24},
    {"SC", 31}, {"SD", 18}, {"SE", 24}, {"SI", 19}, {"SK", 24}, {"SM", 27}, {"SO", 23}, {"ST", 25},
    {"SV", 28}, {"TL", 23}, {"TN", 24}, {"TR", 26}, {"UA", 29}, {"VA", 22}, {"VG", 24}, {"XK", 20},
    {"YE", 30},
};

int IbanLength(std::string_view country) {
  for (const auto& c : kIbanCountries) {
    if (country == std::string_view(c.code, 2)) return c.length;
  }
  return -1;
}

bool ValidateIban(std::string_view text, uint32_t& begin, uint32_t& end,
                  const ValidatorArgs& /*args*/) {
  TrimSeparators(text, begin, end);
  if (end - begin < 15) return false;
  if (IsAlnum(Before(text, begin)) || IsAlnum(At(text, end))) return false;
  std::string compact;
  std::string_view cand = text.substr(begin, end - begin);
  for (size_t i = 0; i < cand.size(); ++i) {
    char c = cand[i];
    if (c == ' ') {
      // Printed IBANs group by four: a space anywhere else means we ran into the next word.
      if (compact.size() % 4 != 0 || (i + 1 < cand.size() && cand[i + 1] == ' ')) return false;
      continue;
    }
    if (!IsAlnum(c)) return false;
    compact.push_back(IsLower(c) ? static_cast<char>(c - 'a' + 'A') : c);
  }
  // Mixed case inside one IBAN ("Gb82West...") is a word, not a bank account.
  bool has_upper = std::any_of(cand.begin(), cand.end(), IsUpper);
  bool has_lower = std::any_of(cand.begin(), cand.end(), IsLower);
  if (has_upper && has_lower) return false;
  return IbanValid(compact);
}

// ---------------------------------------------------------------------------------------
// US Social Security numbers.

bool SsnLabelledBefore(std::string_view text, uint32_t begin) {
  constexpr uint32_t kWindow = 32;
  uint32_t from = begin > kWindow ? begin - kWindow : 0;
  std::string window = ToLower(text.substr(from, begin - from));
  for (std::string_view label :
       {"ssn", "social security", "soc sec", "ss#", "ss #", "ss no", "taxpayer id", "tin"}) {
    size_t pos = window.find(label);
    while (pos != std::string::npos) {
      // Whole word only: "tin" must not fire inside "Martin".
      bool left_ok = pos == 0 || !IsAlpha(window[pos - 1]);
      size_t after = pos + label.size();
      bool right_ok =
          after >= window.size() || !IsAlpha(window[after]) || label == "social security";
      if (left_ok && right_ok) return true;
      pos = window.find(label, pos + 1);
    }
  }
  return false;
}

bool ValidateSsn(std::string_view text, uint32_t& begin, uint32_t& end,
                 const ValidatorArgs& /*args*/) {
  TrimSeparators(text, begin, end);
  if (begin >= end) return false;
  std::string_view cand = text.substr(begin, end - begin);
  if (!NumberBoundaryOk(text, begin, end)) return false;
  std::string digits = DigitsOf(cand);
  if (digits.size() != 9) return false;
  if (cand.size() == 11) {
    char s1 = cand[3], s2 = cand[6];
    if (s1 != s2 || (s1 != '-' && s1 != ' ')) return false;
    if (DigitCount(cand.substr(0, 3)) != 3 || DigitCount(cand.substr(4, 2)) != 2 ||
        DigitCount(cand.substr(7, 4)) != 4) {
      return false;
    }
    // Space-separated 3-2-4 digits are common in other numbering plans; want a label.
    if (s1 == ' ' && !SsnLabelledBefore(text, begin)) return false;
  } else if (cand.size() == 9) {
    // Nine bare digits are anything (order ids, zip+4, phone fragments) unless labelled.
    if (!SsnLabelledBefore(text, begin)) return false;
  } else {
    return false;
  }
  int area = ParseInt(std::string_view(digits).substr(0, 3));
  int group = ParseInt(std::string_view(digits).substr(3, 2));
  int serial = ParseInt(std::string_view(digits).substr(5, 4));
  if (area == 0 || area == 666 || area >= 900) return false;
  if (group == 0 || serial == 0) return false;
  // Numbers printed in advertising and documentation, invalidated by the SSA, and the
  // ubiquitous form-filler sequence.
  for (std::string_view bad : {"078051120", "219099999", "457555462", "123456789"}) {
    if (digits == bad) return false;
  }
  if (AllSame(digits)) return false;
  return true;
}

// ---------------------------------------------------------------------------------------
// Dates (shared by phone rejection and date of birth).

bool ValidCalendarDate(int year, int month, int day) {
  if (month < 1 || month > 12 || day < 1) return false;
  static constexpr std::array<int, 12> kDays = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (day > kDays[month - 1]) return false;
  if (month == 2 && day == 29) {
    bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    if (!leap) return false;
  }
  return true;
}

// Splits "12/31/1999" style strings into digit groups and the separators between them.
struct NumericGroups {
  std::vector<std::string_view> groups;
  std::string seps;
};

NumericGroups SplitGroups(std::string_view s) {
  NumericGroups g;
  size_t i = 0;
  while (i < s.size()) {
    if (IsDigit(s[i])) {
      size_t j = i;
      while (j < s.size() && IsDigit(s[j])) ++j;
      g.groups.push_back(s.substr(i, j - i));
      i = j;
    } else {
      g.seps.push_back(s[i]);
      ++i;
    }
  }
  return g;
}

// True when a three-group number like 2024-01-31, 31.12.1999 or 1/2/85 reads as a date.
bool LooksLikeNumericDate(std::string_view s) {
  NumericGroups g = SplitGroups(s);
  if (g.groups.size() != 3 || g.seps.size() != 2 || g.seps[0] != g.seps[1]) return false;
  const auto& a = g.groups[0];
  const auto& b = g.groups[1];
  const auto& c = g.groups[2];
  if (a.size() == 4 && b.size() <= 2 && c.size() <= 2) {
    return ValidCalendarDate(ParseInt(a), ParseInt(b), ParseInt(c));
  }
  if (a.size() <= 2 && b.size() <= 2 && (c.size() == 4 || c.size() == 2)) {
    int y = ParseInt(c);
    return ValidCalendarDate(y, ParseInt(a), ParseInt(b)) ||
           ValidCalendarDate(y, ParseInt(b), ParseInt(a));
  }
  return false;
}

// ---------------------------------------------------------------------------------------
// IP addresses.

// Parses a dotted quad at the start of `s` strictly (0-255, no leading zeros) and returns
// its length, or 0.
size_t ParseIpv4(std::string_view s, std::array<int, 4>* octets) {
  size_t i = 0;
  for (int k = 0; k < 4; ++k) {
    if (k > 0) {
      if (i >= s.size() || s[i] != '.') return 0;
      ++i;
    }
    size_t j = i;
    while (j < s.size() && IsDigit(s[j]) && j - i < 4) ++j;
    size_t n = j - i;
    if (n == 0 || n > 3) return 0;
    if (n > 1 && s[i] == '0') return 0;
    int v = ParseInt(s.substr(i, n));
    if (v > 255) return 0;
    if (octets != nullptr) (*octets)[k] = v;
    i = j;
  }
  return i;
}

bool Ipv4BoundaryOk(std::string_view text, uint32_t begin, uint32_t end) {
  char b = Before(text, begin);
  if (IsWordChar(b)) return false;
  // "1.2.3.4.5" and "v1.2.3.4": part of a longer dotted string.
  if (b == '.' && begin >= 2 && IsAlnum(text[begin - 2])) return false;
  char a = At(text, end);
  if (IsWordChar(a)) return false;
  if (a == '.' && IsAlnum(At(text, end + 1))) return false;
  return true;
}

bool ValidateIpv4(std::string_view text, uint32_t& begin, uint32_t& end,
                  const ValidatorArgs& /*args*/) {
  std::string_view cand = text.substr(begin, end - begin);
  if (ParseIpv4(cand, nullptr) != cand.size()) return false;
  return Ipv4BoundaryOk(text, begin, end);
}

bool IsPublicIpv4(const std::array<int, 4>& o) {
  const int a = o[0], b = o[1], c = o[2];
  if (a == 0 || a == 10 || a == 127 || a >= 224) return false;  // this, private, loop, mcast
  if (a == 100 && b >= 64 && b <= 127) return false;            // carrier-grade NAT
  if (a == 169 && b == 254) return false;                       // link-local, cloud metadata
  if (a == 172 && b >= 16 && b <= 31) return false;             // private
  if (a == 192 && b == 168) return false;                       // private
  if (a == 192 && b == 0 && (c == 0 || c == 2)) return false;   // IETF, TEST-NET-1
  if (a == 198 && (b == 18 || b == 19)) return false;           // benchmarking
  if (a == 198 && b == 51 && c == 100) return false;            // TEST-NET-2
  if (a == 203 && b == 0 && c == 113) return false;             // TEST-NET-3
  return true;
}

// A public IPv4 address, optionally followed by ":port" (which is kept in the span).
bool ValidateIpv4Public(std::string_view text, uint32_t& begin, uint32_t& end,
                        const ValidatorArgs& /*args*/) {
  std::string_view cand = text.substr(begin, end - begin);
  std::array<int, 4> octets{};
  size_t n = ParseIpv4(cand, &octets);
  if (n == 0) return false;
  if (n < cand.size()) {
    // Only a port may follow.
    if (cand[n] != ':' || cand.size() - n < 2 || cand.size() - n > 6) return false;
    for (size_t i = n + 1; i < cand.size(); ++i) {
      if (!IsDigit(cand[i])) return false;
    }
    if (ParseInt(cand.substr(n + 1)) > 65535) return false;
  }
  if (!Ipv4BoundaryOk(text, begin, end)) return false;
  return IsPublicIpv4(octets);
}

// Full RFC 4291 text-form parser: eight 1-4 digit hex groups, at most one "::" standing for
// one or more zero groups, an optional trailing dotted quad counting as two groups. Fills
// the eight 16-bit groups; `explicit_groups` counts those written out.
bool ParseIpv6(std::string_view s, std::array<uint16_t, 8>* out, int* explicit_groups,
               bool* has_digit) {
  *explicit_groups = 0;
  *has_digit = false;
  if (s.size() < 2) return false;
  std::vector<uint16_t> head, tail;
  std::vector<uint16_t>* cur = &head;
  bool compressed = false;
  size_t i = 0;
  if (s.substr(0, 2) == "::") {
    compressed = true;
    cur = &tail;
    i = 2;
    if (i == s.size()) return false;  // bare "::" is everywhere in C++ and Rust code
  } else if (s[0] == ':') {
    return false;
  }
  while (i < s.size()) {
    size_t dot = s.find('.', i);
    size_t colon = s.find(':', i);
    if (dot != std::string_view::npos && (colon == std::string_view::npos || dot < colon)) {
      // Embedded IPv4 in the last position.
      std::string_view rest = s.substr(i);
      std::array<int, 4> o{};
      if (ParseIpv4(rest, &o) != rest.size()) return false;
      cur->push_back(static_cast<uint16_t>(o[0] << 8 | o[1]));
      cur->push_back(static_cast<uint16_t>(o[2] << 8 | o[3]));
      *has_digit = true;
      *explicit_groups += 2;
      break;
    }
    size_t j = i;
    while (j < s.size() && IsHex(s[j])) ++j;
    size_t n = j - i;
    if (n == 0 || n > 4) return false;
    uint16_t v = 0;
    for (size_t k = i; k < j; ++k) {
      *has_digit = *has_digit || IsDigit(s[k]);
      char c = Lower(s[k]);
      v = static_cast<uint16_t>(v * 16 + (IsDigit(c) ? c - '0' : c - 'a' + 10));
    }
    cur->push_back(v);
    ++*explicit_groups;
    if (j == s.size()) break;
    if (s[j] != ':') return false;
    if (j + 1 < s.size() && s[j + 1] == ':') {
      if (compressed) return false;  // two "::"
      compressed = true;
      cur = &tail;
      i = j + 2;
      if (i == s.size()) break;  // trailing "::"
    } else {
      i = j + 1;
      if (i == s.size()) return false;  // trailing single ':'
    }
  }
  size_t total = head.size() + tail.size();
  if (compressed ? total > 7 : total != 8) return false;
  out->fill(0);
  std::copy(head.begin(), head.end(), out->begin());
  std::copy(tail.begin(), tail.end(), out->end() - static_cast<std::ptrdiff_t>(tail.size()));
  return true;
}

// Global unicast only: loopback, link-local, unique-local, multicast, documentation and
// IPv4-mapped private addresses identify no one outside the local network.
bool IsGlobalIpv6(const std::array<uint16_t, 8>& g) {
  bool zero_prefix = g[0] == 0 && g[1] == 0 && g[2] == 0 && g[3] == 0 && g[4] == 0;
  if (zero_prefix && g[5] == 0xffff) {
    std::array<int, 4> o = {g[6] >> 8, g[6] & 0xff, g[7] >> 8, g[7] & 0xff};
    return IsPublicIpv4(o);
  }
  if (zero_prefix && g[5] == 0) return false;          // ::, ::1 and IPv4-compatible
  if ((g[0] & 0xffc0) == 0xfe80) return false;         // link-local
  if ((g[0] & 0xfe00) == 0xfc00) return false;         // unique-local
  if ((g[0] & 0xff00) == 0xff00) return false;         // multicast
  if (g[0] == 0x2001 && g[1] == 0x0db8) return false;  // documentation
  return true;
}

bool ValidateIpv6(std::string_view text, uint32_t& begin, uint32_t& end,
                  const ValidatorArgs& /*args*/) {
  // A sentence may end right after the address: "... at 2a00::1." (the dot is not ours).
  while (end > begin && text[end - 1] == '.') --end;
  if (begin >= end) return false;
  std::string_view cand = text.substr(begin, end - begin);
  std::array<uint16_t, 8> groups{};
  int explicit_groups = 0;
  bool has_digit = false;
  if (!ParseIpv6(cand, &groups, &explicit_groups, &has_digit)) return false;
  // "dead::beef" and "add::" are syntactically addresses, but words or code.
  if (explicit_groups < 2 || !has_digit) return false;
  char b = Before(text, begin);
  if (IsWordChar(b) || b == ':' || b == '.') return false;
  char a = At(text, end);
  if (IsWordChar(a) || a == ':') return false;
  return IsGlobalIpv6(groups);
}

// ---------------------------------------------------------------------------------------
// E-mail.

bool IsLocalChar(char c) {
  return IsAlnum(c) || c == '.' || c == '_' || c == '%' || c == '+' || c == '-' || c == '\'';
}

bool ValidateEmail(std::string_view text, uint32_t& begin, uint32_t& end,
                   const ValidatorArgs& /*args*/) {
  std::string_view cand = text.substr(begin, end - begin);
  size_t at = cand.find('@');
  if (at == std::string_view::npos || cand.find('@', at + 1) != std::string_view::npos) {
    return false;
  }
  // The local part may have swallowed leading punctuation ("..bob@x.org", "'bob@x.org").
  uint32_t local_begin = begin;
  while (local_begin < begin + at && !IsAlnum(text[local_begin])) ++local_begin;
  size_t dots = text.substr(local_begin, begin + at - local_begin).rfind("..");
  if (dots != std::string_view::npos) local_begin += static_cast<uint32_t>(dots) + 2;
  // Trailing dots or hyphens belong to the sentence, not to the domain.
  while (end > begin + at + 1 && (text[end - 1] == '.' || text[end - 1] == '-')) --end;
  std::string_view local = text.substr(local_begin, begin + at - local_begin);
  std::string_view domain = text.substr(begin + at + 1, end - (begin + at + 1));
  if (local.empty() || local.size() > 64 || local.back() == '.') return false;
  if (domain.size() < 4 || domain.size() > 253) return false;
  // Domain: dot-separated labels of letters, digits and inner hyphens; TLD of letters.
  size_t start = 0;
  std::string_view tld;
  int labels = 0;
  while (start <= domain.size()) {
    size_t dot = domain.find('.', start);
    if (dot == std::string_view::npos) dot = domain.size();
    std::string_view label = domain.substr(start, dot - start);
    if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-') {
      return false;
    }
    for (char c : label) {
      if (!IsAlnum(c) && c != '-') return false;
    }
    tld = label;
    ++labels;
    start = dot + 1;
  }
  if (labels < 2 || tld.size() < 2 || !std::all_of(tld.begin(), tld.end(), IsAlpha)) {
    return false;
  }
  if (IsLocalChar(Before(text, local_begin)) && Before(text, local_begin) != '.') return false;
  char a = At(text, end);
  if (IsAlnum(a) || a == '_' || a == '@') return false;
  begin = local_begin;
  return true;
}

// ---------------------------------------------------------------------------------------
// Phone numbers.

// "12 Main St": the next word after a space starts with a capital letter.
bool FollowedByCapitalizedWord(std::string_view text, uint32_t end) {
  return At(text, end) == ' ' && IsUpper(At(text, end + 1)) && IsLower(At(text, end + 2));
}

bool PrecededByAddressWord(std::string_view text, uint32_t begin) {
  constexpr uint32_t kWindow = 12;
  uint32_t from = begin > kWindow ? begin - kWindow : 0;
  std::string window = ToLower(text.substr(from, begin - from));
  for (std::string_view w :
       {"apt", "suite", "unit", "zip", "postal", "postcode", "box", "address"}) {
    if (window.find(w) != std::string::npos) return true;
  }
  return false;
}

bool ValidatePhone(std::string_view text, uint32_t& begin, uint32_t& end,
                   const ValidatorArgs& /*args*/) {
  // Drop a trailing separator or an unclosed parenthesis the pattern may have taken.
  while (end > begin && (text[end - 1] == ' ' || text[end - 1] == '-' || text[end - 1] == '.' ||
                         text[end - 1] == '(')) {
    --end;
  }
  while (begin < end && (text[begin] == ' ' || text[begin] == '-' || text[begin] == '.')) {
    ++begin;
  }
  if (begin >= end) return false;
  std::string_view cand = text.substr(begin, end - begin);

  // Split off an extension ("x123", "ext. 123") before counting.
  std::string_view number = cand;
  std::string lower = ToLower(cand);
  for (std::string_view ext : {" ext. ", " ext ", "ext.", "ext", " x", "x", "#"}) {
    size_t pos = lower.find(ext);
    if (pos != std::string::npos && pos > 0) {
      number = cand.substr(0, pos);
      break;
    }
  }
  while (!number.empty() && !IsDigit(number.back()) && number.back() != ')') {
    number.remove_suffix(1);
  }
  if (number.empty()) return false;
  uint32_t digits = DigitCount(number);
  // "+" or the international call prefix "00" introduces a country code.
  bool plus = number.front() == '+' ||
              (number.size() > 3 && number.substr(0, 2) == "00" && number[2] != '0');
  bool has_parens = number.find('(') != std::string_view::npos;
  if (digits < 7 || digits > 15) return false;

  // Balanced parentheses only.
  int depth = 0;
  for (char c : number) {
    if (c == '(') ++depth;
    if (c == ')') --depth;
    if (depth < 0 || depth > 1) return false;
  }
  if (depth != 0) return false;

  // Boundaries: not glued to words, longer numbers, times (12:30), decimals or versions.
  char b = Before(text, begin);
  if (IsWordChar(b) || b == '+' || b == '/' || b == ':' || b == '$' || b == '#') return false;
  if ((b == '.' || b == '-' || b == ',') && begin >= 2 && IsDigit(text[begin - 2])) return false;
  char a = At(text, end);
  if (IsWordChar(a) || a == '/' || a == '%') return false;
  if ((a == '.' || a == '-' || a == ':' || a == ',') && IsDigit(At(text, end + 1))) {
    return false;
  }
  if (a == ':' || Before(text, begin) == ':') return false;

  NumericGroups g = SplitGroups(number);
  // Without a country code or area-code parentheses, demand real grouping or a plausible
  // unbroken national number; long unbroken runs are ids or card numbers.
  if (!plus && g.groups.size() == 1 && (digits < 10 || digits > 11)) return false;
  if (!plus && digits > 12) return false;
  // Mixed separators such as "1.2-3 4" are lists of numbers, except around parentheses
  // ("(555) 123-4567") and a country code ("+44 20 7946 0958").
  std::string seps;
  for (char c : number) {
    if (c == ' ' || c == '-' || c == '.') seps.push_back(c);
  }
  if (number.find("  ") != std::string_view::npos) return false;
  bool has_dot = seps.find('.') != std::string::npos;
  bool has_other = seps.find_first_not_of('.') != std::string::npos;
  if (has_dot && has_other) return false;
  if (!plus && !has_parens) {
    if (seps.find(' ') != std::string::npos && seps.find('-') != std::string::npos) {
      return false;
    }
  }
  if (!plus && LooksLikeNumericDate(number)) return false;
  // Dotted quads of short groups are IP addresses, valid or not ("256.256.256.256").
  if (g.groups.size() == 4 && g.seps == "..." &&
      std::all_of(g.groups.begin(), g.groups.end(),
                  [](std::string_view x) { return x.size() <= 3; })) {
    return false;
  }
  // Decimal numbers ("20240305.1") and round figures ("8 000 000 000").
  const bool two_groups = !plus && !has_parens && g.groups.size() == 2 && !g.seps.empty();
  if (two_groups && g.seps[0] == '.') return false;
  if (std::count(g.groups.begin(), g.groups.end(), std::string_view("000")) >= 2) return false;
  if (two_groups) {
    // "90010-170" and "3610-114" are postal codes; "5521 119 Countess Close" and
    // "Apt. 675 62314 Mellemvej" are a house number and a postal code or street number.
    if (g.seps[0] == '-' && g.groups[0].size() >= 4) return false;
    if (FollowedByCapitalizedWord(text, end) || PrecededByAddressWord(text, begin)) return false;
  }
  // A 13+ digit number that passes Luhn and has no country code is a card.
  std::string all_digits = DigitsOf(number);
  if (!plus && digits >= 13 && LuhnValid(all_digits)) return false;
  if (AllSame(all_digits) || IsSequential(all_digits)) return false;
  // A long run after the first group is an id glued to a prefix, not a subscriber number.
  for (size_t i = 1; i < g.groups.size(); ++i) {
    if (g.groups[i].size() > 8) return false;
  }
  // Space-separated numbers with a one-digit group in the middle are counts in prose
  // ("in 2024 3 2024 reports"); national formats group digits in twos or more.
  if (!plus && !has_parens && seps.find_first_not_of(' ') == std::string::npos) {
    for (size_t i = 1; i + 1 < g.groups.size(); ++i) {
      if (g.groups[i].size() == 1) return false;
    }
  }
  // Two year-like groups separated by a space are years, not a subscriber number.
  if (!plus && !has_parens && g.groups.size() == 2 && g.seps == " " && g.groups[0].size() == 4 &&
      g.groups[1].size() == 4 &&
      (g.groups[0].substr(0, 2) == "19" || g.groups[0].substr(0, 2) == "20") &&
      (g.groups[1].substr(0, 2) == "19" || g.groups[1].substr(0, 2) == "20")) {
    return false;
  }
  return true;
}

// ---------------------------------------------------------------------------------------
// JSON Web Tokens.

int Base64UrlValue(char c) {
  if (IsUpper(c)) return c - 'A';
  if (IsLower(c)) return c - 'a' + 26;
  if (IsDigit(c)) return c - '0' + 52;
  if (c == '-' || c == '+') return 62;
  if (c == '_' || c == '/') return 63;
  return -1;
}

bool DecodeBase64Url(std::string_view in, std::string* out) {
  while (!in.empty() && in.back() == '=') in.remove_suffix(1);
  if (in.size() % 4 == 1) return false;
  out->clear();
  uint32_t acc = 0;
  int bits = 0;
  for (char c : in) {
    int v = Base64UrlValue(c);
    if (v < 0) return false;
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out->push_back(static_cast<char>((acc >> bits) & 0xFF));
    }
  }
  return true;
}

// Minimal strict JSON syntax checker (RFC 8259) with a depth bound, enough to tell a JWT
// header from random base64.
class JsonChecker {
 public:
  explicit JsonChecker(std::string_view s) : s_(s) {}
  bool ObjectDocument() {
    Ws();
    if (Peek() != '{') return false;
    if (!Value(0)) return false;
    Ws();
    return i_ == s_.size();
  }

 private:
  static constexpr int kMaxDepth = 32;
  char Peek() const { return i_ < s_.size() ? s_[i_] : '\0'; }
  void Ws() {
    while (i_ < s_.size() && IsSpace(s_[i_])) ++i_;
  }
  bool Literal(std::string_view lit) {
    if (s_.substr(i_, lit.size()) != lit) return false;
    i_ += lit.size();
    return true;
  }
  bool String() {
    if (Peek() != '"') return false;
    ++i_;
    while (i_ < s_.size()) {
      unsigned char c = static_cast<unsigned char>(s_[i_]);
      if (c == '"') {
        ++i_;
        return true;
      }
      if (c < 0x20) return false;
      if (c == '\\') {
        ++i_;
        if (i_ >= s_.size()) return false;
        char e = s_[i_];
        if (e == 'u') {
          for (int k = 0; k < 4; ++k) {
            ++i_;
            if (i_ >= s_.size() || !IsHex(s_[i_])) return false;
          }
        } else if (std::string_view("\"\\/bfnrt").find(e) == std::string_view::npos) {
          return false;
        }
      }
      ++i_;
    }
    return false;
  }
  bool Number() {
    size_t start = i_;
    if (Peek() == '-') ++i_;
    if (!IsDigit(Peek())) return false;
    while (IsDigit(Peek())) ++i_;
    if (Peek() == '.') {
      ++i_;
      if (!IsDigit(Peek())) return false;
      while (IsDigit(Peek())) ++i_;
    }
    if (Peek() == 'e' || Peek() == 'E') {
      ++i_;
      if (Peek() == '+' || Peek() == '-') ++i_;
      if (!IsDigit(Peek())) return false;
      while (IsDigit(Peek())) ++i_;
    }
    return i_ > start;
  }
  bool Value(int depth) {
    if (depth > kMaxDepth) return false;
    Ws();
    char c = Peek();
    if (c == '{') {
      ++i_;
      Ws();
      if (Peek() == '}') {
        ++i_;
        return true;
      }
      while (true) {
        Ws();
        if (!String()) return false;
        Ws();
        if (Peek() != ':') return false;
        ++i_;
        if (!Value(depth + 1)) return false;
        Ws();
        if (Peek() == ',') {
          ++i_;
          continue;
        }
        if (Peek() == '}') {
          ++i_;
          return true;
        }
        return false;
      }
    }
    if (c == '[') {
      ++i_;
      Ws();
      if (Peek() == ']') {
        ++i_;
        return true;
      }
      while (true) {
        if (!Value(depth + 1)) return false;
        Ws();
        if (Peek() == ',') {
          ++i_;
          continue;
        }
        if (Peek() == ']') {
          ++i_;
          return true;
        }
        return false;
      }
    }
    if (c == '"') return String();
    if (c == 't') return Literal("true");
    if (c == 'f') return Literal("false");
    if (c == 'n') return Literal("null");
    return Number();
  }

  std::string_view s_;
  size_t i_ = 0;
};

bool ValidateJwt(std::string_view text, uint32_t& begin, uint32_t& end,
                 const ValidatorArgs& /*args*/) {
  while (end > begin && text[end - 1] == '.') --end;
  std::string_view cand = text.substr(begin, end - begin);
  std::vector<std::string_view> parts;
  size_t start = 0;
  while (true) {
    size_t dot = cand.find('.', start);
    parts.push_back(cand.substr(start, dot == std::string_view::npos ? dot : dot - start));
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  if (parts.size() < 2 || parts.size() > 3) return false;
  std::string decoded;
  if (!DecodeBase64Url(parts[0], &decoded) || !JsonChecker(decoded).ObjectDocument()) {
    return false;
  }
  if (decoded.find("\"alg\"") == std::string::npos &&
      decoded.find("\"typ\"") == std::string::npos) {
    return false;
  }
  if (!DecodeBase64Url(parts[1], &decoded) || !JsonChecker(decoded).ObjectDocument()) {
    return false;
  }
  if (parts.size() == 3 && !parts[2].empty()) {
    if (!DecodeBase64Url(parts[2], &decoded)) return false;
  }
  char a = At(text, end);
  if (IsWordChar(a) || a == '-') return false;
  return true;
}

// ---------------------------------------------------------------------------------------
// Assignments: `password = "..."`, `api_key: ...`, `token=...`, `secret("...")`.

bool IsValueChar(char c) {
  return c > ' ' && c != '"' && c != '\'' && c != '`' && c != ',' && c != ';' && c != ')' &&
         c != '(' && c != '<' && c != '>' && static_cast<unsigned char>(c) < 0x7f;
}

// Narrows a `key <op> value` candidate to the value. `check_words` additionally rejects
// values made of placeholder words ("changeme", "a-fake-key").
bool NarrowToValue(std::string_view text, uint32_t& begin, uint32_t& end, bool check_words) {
  std::string_view cand = text.substr(begin, end - begin);
  // The operator is the first '=', ':' or '(' after the key.
  size_t op = cand.find_first_of("=:(");
  if (op == std::string_view::npos) return false;
  size_t i = op;
  while (i < cand.size() && (cand[i] == '=' || cand[i] == ':' || cand[i] == '(' || cand[i] == '>' ||
                             cand[i] == '!' || IsSpace(cand[i]))) {
    ++i;
  }
  if (i >= cand.size()) return false;
  uint32_t vb, ve;
  char q = cand[i];
  if (q == '"' || q == '\'' || q == '`') {
    size_t close = cand.find(q, i + 1);
    vb = begin + static_cast<uint32_t>(i) + 1;
    if (close == std::string_view::npos) {
      // The closing quote may sit just past the candidate.
      if (At(text, end) != q) return false;
      ve = end;
    } else {
      if (close + 1 != cand.size()) return false;  // something after the string
      ve = begin + static_cast<uint32_t>(close);
    }
    for (uint32_t k = vb; k < ve; ++k) {
      // Quoted prose ("doesnt start right") is not a credential.
      if (IsSpace(text[k])) return false;
    }
  } else {
    vb = begin + static_cast<uint32_t>(i);
    ve = end;
    for (uint32_t k = vb; k < ve; ++k) {
      if (!IsValueChar(text[k])) return false;
    }
    // A value cut short by the pattern would leak its tail; take whole values only.
    if (IsValueChar(At(text, end))) return false;
  }
  if (ve <= vb) return false;
  std::string_view value = text.substr(vb, ve - vb);
  if (value.size() < 6) return false;
  if (check_words ? LooksLikePlaceholder(value) : false) return false;
  // Template syntax is never the secret itself, even for keyed rules.
  if (value.front() == '$' || value.front() == '%' || value.find("{{") == 0 ||
      (value.front() == '<' && value.back() == '>')) {
    return false;
  }
  begin = vb;
  end = ve;
  return true;
}

bool ValidateAssignment(std::string_view text, uint32_t& begin, uint32_t& end,
                        const ValidatorArgs& /*args*/) {
  return NarrowToValue(text, begin, end, /*check_words=*/true);
}

bool ValidateKeyedValue(std::string_view text, uint32_t& begin, uint32_t& end,
                        const ValidatorArgs& /*args*/) {
  return NarrowToValue(text, begin, end, /*check_words=*/false);
}

// ---------------------------------------------------------------------------------------
// Credentials in URLs: scheme://user:password@host.

bool ValidateUrlCredentials(std::string_view text, uint32_t& begin, uint32_t& end,
                            const ValidatorArgs& /*args*/) {
  std::string_view cand = text.substr(begin, end - begin);
  size_t scheme_end = cand.find("://");
  if (scheme_end == std::string_view::npos) return false;
  size_t at = cand.find('@', scheme_end + 3);
  if (at == std::string_view::npos) return false;
  std::string_view userinfo = cand.substr(scheme_end + 3, at - scheme_end - 3);
  size_t colon = userinfo.find(':');
  if (colon == std::string_view::npos) return false;
  std::string_view password = userinfo.substr(colon + 1);
  if (password.empty()) return false;
  // Template syntax or quoting inside the password means we are looking at code or markup
  // around a URL, not at a credential.
  for (char c : password) {
    if (IsSpace(c) || c == '/' || c == '"' || c == '\'' || c == '{' || c == '}' || c == '<' ||
        c == '>') {
      return false;
    }
  }
  if (password.front() == '$' || password.front() == '%' || AllSame(password) ||
      password == "****" || password.find("xxx") != std::string_view::npos) {
    return false;
  }
  // Host after '@' must look like a host name or address.
  if (at + 1 >= cand.size() || !IsAlnum(cand[at + 1])) return false;
  uint32_t pb = begin + static_cast<uint32_t>(scheme_end + 3 + colon + 1);
  begin = pb;
  end = pb + static_cast<uint32_t>(password.size());
  return true;
}

// ---------------------------------------------------------------------------------------
// PEM private keys.

bool ValidatePrivateKey(std::string_view text, uint32_t& begin, uint32_t& end,
                        const ValidatorArgs& /*args*/) {
  std::string_view cand = text.substr(begin, end - begin);
  constexpr std::string_view kBegin = "-----BEGIN ";
  if (cand.substr(0, kBegin.size()) != kBegin) return false;
  size_t header_end = cand.find("-----", kBegin.size());
  if (header_end == std::string_view::npos) return false;
  std::string_view type = cand.substr(kBegin.size(), header_end - kBegin.size());
  if (type.find("PRIVATE KEY") == std::string_view::npos) return false;
  size_t after_header = header_end + 5;
  size_t end_marker = cand.find("-----END ", after_header);
  if (end_marker != std::string_view::npos) {
    std::string_view tail = cand.substr(end_marker + 9);
    // The END line must close the same kind of block.
    if (tail.substr(0, type.size()) != type || tail.substr(type.size()) != "-----") {
      return false;
    }
    return true;
  }
  // No END line: keep the header and the base64-looking lines that follow, so redaction
  // covers the key material without eating the prose after it.
  size_t keep = after_header;
  size_t pos = after_header;
  while (pos < cand.size()) {
    size_t nl = cand.find('\n', pos);
    size_t line_end = nl == std::string_view::npos ? cand.size() : nl;
    std::string_view line = cand.substr(pos, line_end - pos);
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.remove_suffix(1);
    bool key_line =
        !line.empty() && line.find(' ') == std::string_view::npos &&
        std::all_of(line.begin(), line.end(), [](char c) {
          return IsAlnum(c) || c == '+' || c == '/' || c == '=' || c == ':' || c == '-' || c == ',';
        });
    if (line.empty() && pos == after_header) {
      pos = line_end + 1;
      continue;
    }
    if (!key_line) break;
    keep = pos + line.size();
    if (nl == std::string_view::npos) break;
    pos = nl + 1;
  }
  end = begin + static_cast<uint32_t>(keep);
  return true;
}

// ---------------------------------------------------------------------------------------
// Dates of birth, only when labelled.

int MonthFromName(std::string_view word) {
  static constexpr std::array<std::string_view, 12> kMonths = {
      "january", "february", "march",     "april",   "may",      "june",
      "july",    "august",   "september", "october", "november", "december"};
  std::string w = ToLower(word);
  if (w.size() < 3) return 0;
  // "Mar", "Sept" and "March" are months; "Marseille" and "Mayor" are not.
  for (size_t m = 0; m < kMonths.size(); ++m) {
    if (kMonths[m].substr(0, w.size()) == w) return static_cast<int>(m) + 1;
  }
  return 0;
}

int FullYear(std::string_view digits) {
  int y = ParseInt(digits);
  if (digits.size() == 2) y += y <= 30 ? 2000 : 1900;
  return y;
}

// Parses the whole of `s` as a date; true when it is a real calendar date of a plausible
// birth year.
bool ParseBirthDate(std::string_view s) {
  int year = 0, month = 0, day = 0;
  NumericGroups g = SplitGroups(s);
  bool numeric = std::all_of(s.begin(), s.end(),
                             [](char c) { return IsDigit(c) || c == '/' || c == '-' || c == '.'; });
  if (numeric) {
    if (g.groups.size() != 3 || g.seps.size() != 2 || g.seps[0] != g.seps[1]) return false;
    auto a = g.groups[0], b = g.groups[1], c = g.groups[2];
    if (a.size() == 4 && b.size() <= 2 && c.size() <= 2) {
      year = ParseInt(a);
      month = ParseInt(b);
      day = ParseInt(c);
    } else if (a.size() <= 2 && b.size() <= 2 && (c.size() == 4 || c.size() == 2)) {
      year = FullYear(c);
      // Month-first (US) when that reads as a date, else day-first.
      if (ValidCalendarDate(year, ParseInt(a), ParseInt(b))) {
        month = ParseInt(a);
        day = ParseInt(b);
      } else {
        day = ParseInt(a);
        month = ParseInt(b);
      }
    } else {
      return false;
    }
  } else {
    // "March 5, 1990", "5 March 1990", "Mar 5th 1990", "5th of March, 1990".
    std::vector<std::string_view> words;
    size_t i = 0;
    while (i < s.size()) {
      while (i < s.size() && !IsAlnum(s[i])) ++i;
      size_t j = i;
      while (j < s.size() && IsAlnum(s[j])) ++j;
      if (j > i) words.push_back(s.substr(i, j - i));
      i = j;
    }
    for (auto w : words) {
      if (ToLower(w) == "of") continue;
      if (IsDigit(w[0])) {
        size_t n = 0;
        while (n < w.size() && IsDigit(w[n])) ++n;
        std::string suffix = ToLower(w.substr(n));
        if (n == 4 && suffix.empty() && year == 0) {
          year = ParseInt(w);
        } else if (n <= 2 && day == 0 &&
                   (suffix.empty() || suffix == "st" || suffix == "nd" || suffix == "rd" ||
                    suffix == "th")) {
          day = ParseInt(w.substr(0, n));
        } else {
          return false;
        }
      } else {
        int m = MonthFromName(w);
        if (m == 0 || month != 0) return false;
        month = m;
      }
    }
  }
  if (year < 1900 || year > 2030) return false;
  return ValidCalendarDate(year, month, day);
}

bool ValidateDob(std::string_view text, uint32_t& begin, uint32_t& end,
                 const ValidatorArgs& /*args*/) {
  std::string_view cand = text.substr(begin, end - begin);
  // The pattern is "<label> <filler> <date>": the date starts at the first digit or at the
  // first month name after the label.
  std::string lower = ToLower(cand);
  size_t label_end = 0;
  for (std::string_view label : {"date of birth", "birth date", "birthdate", "birthday", "born on",
                                 "born", "d.o.b.", "d.o.b", "dob"}) {
    size_t pos = lower.find(label);
    if (pos == 0 || (pos != std::string::npos && pos < 4)) {
      label_end = pos + label.size();
      break;
    }
  }
  if (label_end == 0) return false;
  if (IsAlpha(Before(text, begin))) return false;
  size_t i = label_end;
  size_t date_start = std::string::npos;
  while (i < cand.size()) {
    if (IsDigit(cand[i])) {
      date_start = i;
      break;
    }
    if (IsAlpha(cand[i]) && (i == 0 || !IsAlpha(cand[i - 1]))) {
      size_t j = i;
      while (j < cand.size() && IsAlpha(cand[j])) ++j;
      std::string_view word = cand.substr(i, j - i);
      if (MonthFromName(word) != 0) {
        date_start = i;
        break;
      }
      i = j;
      continue;
    }
    ++i;
  }
  if (date_start == std::string::npos) return false;
  uint32_t db = begin + static_cast<uint32_t>(date_start);
  uint32_t de = end;
  while (de > db && !IsAlnum(text[de - 1])) --de;
  if (de <= db) return false;
  if (IsAlnum(At(text, de)) || (At(text, de) == '/' && IsDigit(At(text, de + 1)))) return false;
  if (!ParseBirthDate(text.substr(db, de - db))) return false;
  begin = db;
  end = de;
  return true;
}

// ---------------------------------------------------------------------------------------
// Boundary-only and entropy-only validators.

// Tokens recognized by prefix must not be glued to more word characters on either side:
// "testAKC..." or "...token_long_" are other strings.
// A long run of one character ("glpat-XXXXXXXX...") is a masked example, not a token.
bool ValidateBounded(std::string_view text, uint32_t& begin, uint32_t& end,
                     const ValidatorArgs& /*args*/) {
  if (IsWordChar(Before(text, begin)) || IsWordChar(At(text, end))) return false;
  constexpr uint32_t kMaskRun = 12;
  uint32_t run = 1;
  for (uint32_t i = begin + 1; i < end; ++i) {
    run = text[i] == text[i - 1] ? run + 1 : 1;
    if (run >= kMaskRun) return false;
  }
  return true;
}

// Only the rule's min_entropy applies (checked by the engine on the span).
bool ValidateEntropy(std::string_view /*text*/, uint32_t& /*begin*/, uint32_t& /*end*/,
                     const ValidatorArgs& /*args*/) {
  return true;
}

struct NamedValidator {
  std::string_view name;
  ValidatorFn fn;
};

constexpr NamedValidator kValidators[] = {
    {"assignment", ValidateAssignment},
    {"bounded", ValidateBounded},
    {"dob", ValidateDob},
    {"email", ValidateEmail},
    {"entropy", ValidateEntropy},
    {"iban", ValidateIban},
    {"ipv4", ValidateIpv4},
    {"ipv4_public", ValidateIpv4Public},
    {"ipv6", ValidateIpv6},
    {"jwt", ValidateJwt},
    {"keyed_value", ValidateKeyedValue},
    {"luhn", ValidateLuhn},
    {"phone", ValidatePhone},
    {"private_key", ValidatePrivateKey},
    {"ssn", ValidateSsn},
    {"url_credentials", ValidateUrlCredentials},
};

}  // namespace

ValidatorFn FindValidator(std::string_view name) {
  for (const auto& v : kValidators) {
    if (v.name == name) return v.fn;
  }
  return nullptr;
}

std::vector<std::string_view> ValidatorNames() {
  std::vector<std::string_view> names;
  for (const auto& v : kValidators) names.push_back(v.name);
  return names;
}

bool LuhnValid(std::string_view digits) {
  if (digits.empty()) return false;
  int sum = 0;
  bool dbl = false;
  for (auto it = digits.rbegin(); it != digits.rend(); ++it) {
    if (!IsDigit(*it)) return false;
    int d = *it - '0';
    if (dbl) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    dbl = !dbl;
  }
  return sum % 10 == 0;
}

bool IbanValid(std::string_view iban) {
  if (iban.size() < 15 || iban.size() > 34) return false;
  if (!IsUpper(iban[0]) || !IsUpper(iban[1]) || !IsDigit(iban[2]) || !IsDigit(iban[3])) {
    return false;
  }
  int expected = IbanLength(iban.substr(0, 2));
  if (expected < 0 || static_cast<size_t>(expected) != iban.size()) return false;
  // Check digits 00, 01 and 99 are never issued.
  int check = ParseInt(iban.substr(2, 2));
  if (check < 2 || check > 98) return false;
  // Move the first four characters to the end, letters to 10..35, and take mod 97
  // incrementally so no big integers are needed.
  int rem = 0;
  for (size_t k = 0; k < iban.size(); ++k) {
    char c = iban[(k + 4) % iban.size()];
    if (IsDigit(c)) {
      rem = (rem * 10 + (c - '0')) % 97;
    } else if (IsUpper(c)) {
      rem = (rem * 100 + (c - 'A' + 10)) % 97;
    } else {
      return false;
    }
  }
  return rem == 1;
}

double ShannonEntropy(std::string_view s) {
  if (s.empty()) return 0.0;
  std::array<uint32_t, 256> counts{};
  for (char c : s) ++counts[static_cast<unsigned char>(c)];
  double h = 0.0;
  const double n = static_cast<double>(s.size());
  for (uint32_t c : counts) {
    if (c == 0) continue;
    double p = c / n;
    h -= p * std::log2(p);
  }
  return h;
}

bool LooksLikePlaceholder(std::string_view value) {
  // Surrounding quotes or whitespace do not change what the value is.
  while (!value.empty() &&
         (value.front() == '"' || value.front() == '\'' || IsSpace(value.front()))) {
    value.remove_prefix(1);
  }
  while (!value.empty() && (value.back() == '"' || value.back() == '\'' || IsSpace(value.back()))) {
    value.remove_suffix(1);
  }
  if (value.empty()) return true;
  // Template and variable syntax: ${VAR}, {{ var }}, $VAR, %s, %(name)s, <token>.
  if (value.substr(0, 2) == "${" || value.substr(0, 2) == "{{" || value.substr(0, 2) == "$(" ||
      value.substr(0, 2) == "%(" || value.substr(0, 2) == "#{") {
    return true;
  }
  if (value.front() == '<' && value.back() == '>') return true;
  if (value.front() == '$' && value.size() > 1 &&
      std::all_of(value.begin() + 1, value.end(), [](char c) { return IsWordChar(c); })) {
    return true;
  }
  if (value == "%s" || value == "%d" || value == "%r") return true;
  // Masked or filler values: "xxxx", "****", "0000", "........".
  std::string lower = ToLower(value);
  if (std::all_of(lower.begin(), lower.end(), [](char c) {
        return c == 'x' || c == '*' || c == '.' || c == '-' || c == '_' || c == '#' || c == '0';
      })) {
    return true;
  }
  if (lower.find("xxxx") != std::string::npos || lower.find("****") != std::string::npos ||
      lower.find("....") != std::string::npos) {
    return true;
  }
  if (AllSame(lower)) return true;
  for (std::string_view word : {"null", "none", "nil", "true", "false", "undefined", "empty",
                                "string", "password", "secret", "token", "apikey", "api_key"}) {
    if (lower == word) return true;
  }
  for (std::string_view word :
       {"changeme",  "change_me",   "change-me", "example",  "sample", "dummy",
        "fake",      "placeholder", "insert",    "your_",    "your-",  "yourkey",
        "yourtoken", "yourpass",    "replace",   "redacted", "todo",   "fixme",
        "notreal",   "not_real",    "not-real",  "foobar",   "lorem"}) {
    if (lower.find(word) != std::string::npos) return true;
  }
  // Short values that spell the kind of thing they stand for ("mypassword", "real_secret").
  if (lower.size() < 16) {
    for (std::string_view word : {"password", "passwd", "secret", "token", "apikey"}) {
      if (lower.find(word) != std::string::npos) return true;
    }
  }
  return false;
}

}  // namespace rampart::detectors
