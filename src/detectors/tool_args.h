// Checks of an agent's tool-call arguments (OpenAI-style `tool_calls[].function.arguments`,
// a JSON object): the values a model filled in are untrusted, because injected content can
// steer them. Every string value (at any depth, bounded) is checked for
//
//   tool.url    — a URL whose host is not on the allowlist (data leaves through a fetch)
//   tool.shell  — shell that destroys, escalates or opens a remote shell (`rm -rf /`,
//                 `mkfs`, `dd of=/dev/...`, `curl ... | sh`, `bash -i >& /dev/tcp/...`,
//                 `nc -e`, fork bombs, `chmod -R 777 /`, `shutdown` ...)
//   tool.sql    — SQL that destroys or exfiltrates (`DROP TABLE`, `TRUNCATE`, `DELETE` or
//                 `UPDATE` without `WHERE`, `GRANT ALL`, `INTO OUTFILE`, `xp_cmdshell`,
//                 `COPY ... TO PROGRAM`, `LOAD_FILE`, stacked `; DROP`)
//
// Secrets and PII in arguments are the scanner's job (detectors/scanner.h); the tool-call
// stage runs both. Findings name the JSON Pointer of the argument and never its value.
//
// Thread safety: a ToolArgChecker is immutable after construction and may be shared.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "rampart/finding.h"

namespace rampart::detectors {

struct ToolArgOptions {
  // Hosts tool arguments may name (a domain allows its subdomains). Default: none.
  std::vector<std::string> allowed_domains;
  // JSON nesting read in the arguments. Default: 32.
  uint32_t max_depth = 32;
  // Bytes of arguments read. Default: 1 MiB.
  size_t max_bytes = 1 << 20;
};

struct ToolArgFinding {
  std::string id;  // "tool.url", "tool.shell", "tool.sql"
  Severity severity = Severity::kHigh;
  std::string pointer;  // JSON Pointer of the argument ("/query", "/urls/0")
  std::string what;     // the host, or the name of the pattern ("rm -rf", "DROP TABLE")
};

class ToolArgChecker {
 public:
  explicit ToolArgChecker(ToolArgOptions options);

  // `arguments` is the JSON text the model produced. Errors: not JSON / not an object, too
  // deep or too large (the stage turns these into a block: a tool call it cannot read).
  absl::StatusOr<std::vector<ToolArgFinding>> Check(std::string_view arguments) const;

  // The checks on one string value (for arguments that are not JSON).
  void CheckValue(std::string_view value, std::string_view pointer,
                  std::vector<ToolArgFinding>* out) const;

 private:
  ToolArgOptions options_;
};

}  // namespace rampart::detectors
