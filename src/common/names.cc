#include "rampart/finding.h"
#include "rampart/verdict.h"

namespace rampart {
namespace {

constexpr std::string_view kSeverityNames[] = {"info", "low", "medium", "high", "critical"};
constexpr std::string_view kCategoryNames[] = {"prompt_injection",
                                               "jailbreak",
                                               "prompt_extraction",
                                               "role_injection",
                                               "obfuscation",
                                               "pii",
                                               "secret"};
constexpr std::string_view kActionNames[] = {"allow", "redact", "review", "block"};

template <typename E, size_t N>
std::optional<E> ParseName(const std::string_view (&names)[N], std::string_view name) {
  for (size_t i = 0; i < N; ++i) {
    if (names[i] == name) return static_cast<E>(i);
  }
  return std::nullopt;
}

}  // namespace

std::string_view SeverityName(Severity s) { return kSeverityNames[static_cast<size_t>(s)]; }
std::optional<Severity> ParseSeverity(std::string_view name) {
  return ParseName<Severity>(kSeverityNames, name);
}
std::string_view CategoryName(Category c) { return kCategoryNames[static_cast<size_t>(c)]; }
std::optional<Category> ParseCategory(std::string_view name) {
  return ParseName<Category>(kCategoryNames, name);
}
std::string_view ActionName(Action a) { return kActionNames[static_cast<size_t>(a)]; }
std::optional<Action> ParseAction(std::string_view name) {
  return ParseName<Action>(kActionNames, name);
}

}  // namespace rampart
