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

int ReportError(const char* cmd, const absl::Status& status) {
  std::fprintf(stderr, "rampart %s: %.*s\n", cmd, static_cast<int>(status.message().size()),
               status.message().data());
  return kExitError;
}

}  // namespace rampart::cli
