#include "cli_common.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>

namespace rampart::cli {

std::string ResolveRulesDir(const std::string& flag) {
  if (!flag.empty()) return flag;
  if (const char* env = std::getenv("RAMPART_RULES_DIR"); env != nullptr && *env != '\0') {
    return env;
  }
  std::error_code ec;
  std::filesystem::path exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    for (const auto& candidate :
         {exe.parent_path() / "rules", exe.parent_path().parent_path() / "rules",
          exe.parent_path().parent_path() / "share" / "rampart" / "rules"}) {
      if (std::filesystem::is_directory(candidate, ec)) return candidate.string();
    }
  }
  return RAMPART_INSTALL_RULES_DIR;
}

std::string ForTerminal(std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(s.size());
  for (unsigned char c : s) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c >= 0x20 && c < 0x7f) {
      out.push_back(static_cast<char>(c));
    } else {
      out += "\\x";
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

int ReportError(const char* cmd, const absl::Status& status) {
  std::fprintf(stderr, "rampart %s: %.*s\n", cmd, static_cast<int>(status.message().size()),
               status.message().data());
  return kExitError;
}

}  // namespace rampart::cli
