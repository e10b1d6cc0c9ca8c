// Helpers shared by the subcommands: locating the shipped rule packs, exit codes.
#pragma once

#include <string>
#include <string_view>

#include "absl/status/status.h"

namespace rampart::cli {

// Exit codes are part of the interface (DESIGN.md section 5).
inline constexpr int kExitClean = 0;     // allowed / nothing at or above the fail level
inline constexpr int kExitFindings = 1;  // findings at or above the fail level
inline constexpr int kExitError = 2;     // usage or input error: never "clean"

// The rule-pack directory: `flag` when set, else $RAMPART_RULES_DIR, else rules/ next to or
// one level above the binary, else the source tree the binary was built from.
std::string ResolveRulesDir(const std::string& flag);

// Makes a string that came from untrusted input (a file or archive-member name, an import
// name read from a pickle) safe to print on a terminal: bytes outside printable ASCII become
// \xHH, and a backslash becomes \\, so escape sequences and bidi controls cannot rewrite
// what a person sees.
std::string ForTerminal(std::string_view s);

// Prints "rampart <cmd>: <status message>" to stderr and returns kExitError.
int ReportError(const char* cmd, const absl::Status& status);

}  // namespace rampart::cli
