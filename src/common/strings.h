// String helpers. Debian's abseil is built without std::string_view interop, so its StrCat
// rejects std::string_view; these fmt-based equivalents accept anything fmt can format.
#pragma once

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <iterator>
#include <string>
#include <string_view>
#include <type_traits>

#include "absl/strings/string_view.h"

// absl::Status::message() returns absl::string_view; let fmt print it.
template <>
struct fmt::formatter<absl::string_view> : fmt::formatter<std::string_view> {
  template <typename Ctx>
  auto format(absl::string_view s, Ctx& ctx) const {
    return fmt::formatter<std::string_view>::format(std::string_view(s.data(), s.size()), ctx);
  }
};

namespace rampart {

namespace strings_internal {

// One piece of StrCat/StrAppend: text and integers are appended directly (these sit on the
// gateway's per-request path); anything else goes through fmt.
template <typename T>
void AppendPiece(std::string& out, const T& v) {
  if constexpr (std::is_pointer_v<T> && std::is_convertible_v<const T&, std::string_view>) {
    if (v != nullptr) out.append(v);
  } else if constexpr (std::is_convertible_v<const T&, std::string_view>) {
    out.append(std::string_view(v));
  } else if constexpr (std::is_same_v<T, char>) {
    out.push_back(v);
  } else if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>) {
    fmt::format_int f(v);
    out.append(f.data(), f.size());
  } else {
    fmt::format_to(std::back_inserter(out), "{}", v);
  }
}

}  // namespace strings_internal

template <typename... Args>
std::string StrCat(const Args&... args) {
  std::string out;
  (strings_internal::AppendPiece(out, args), ...);
  return out;
}

template <typename... Args>
void StrAppend(std::string* out, const Args&... args) {
  (strings_internal::AppendPiece(*out, args), ...);
}

template <typename Range>
std::string StrJoin(const Range& range, std::string_view sep) {
  return fmt::format("{}", fmt::join(range, sep));
}

}  // namespace rampart
