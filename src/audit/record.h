// Record: one audit record per gateway exchange, and its canonical serialization.
//
// A record never carries matched text: findings are ids and byte spans, bodies are SHA-256
// digests. Only the optional redacted prompt and response carry content, and only when the
// operator turned them on.
//
// The canonical form (EncodeRecord) is what the hash chain covers: JSON with a fixed key
// order, no whitespace, integers in decimal, strings escaped the same way every time, and
// optional members left out when absent. Format version 1 is documented in docs/audit.md.
//
// Thread safety: value types and stateless functions.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "rampart/finding.h"

namespace rampart::audit {

// The format version written into every record ("v").
inline constexpr int kRecordFormatVersion = 1;

// Largest canonical record accepted by DecodeRecord (and written by the sink).
inline constexpr size_t kMaxRecordBytes = 4u << 20;

// A finding as the audit log keeps it: where and what, never the matched bytes.
struct AuditFinding {
  std::string detector;  // "rules.injection"
  std::string rule;      // "pii.email"
  Category category = Category::kObfuscation;
  Severity severity = Severity::kInfo;
  std::string field;  // JSON Pointer into the request or response ("" for a plain text)
  uint32_t begin = 0;
  uint32_t end = 0;

  friend bool operator==(const AuditFinding&, const AuditFinding&) = default;
};

// Copies the auditable part of a detector finding (drops score, decoding chain and label).
AuditFinding FromFinding(const Finding& f);

struct Record {
  // Assigned by the sink when the record is written; ignored on Submit.
  uint64_t seq = 0;
  // When the exchange started, microseconds since the Unix epoch (UTC).
  int64_t time_us = 0;
  std::string request_id;
  std::string principal;  // authenticated principal id, "" when anonymous
  std::string route;
  std::string model;
  std::string client_ip;
  std::string verdict;      // "allow", "redact", "review", "block" (rampart::ActionName)
  std::string reason;       // stable reason code, "" when allowed
  int32_t http_status = 0;  // status returned to the client, 0 when unknown
  std::vector<AuditFinding> findings;
  // Latency per stage in microseconds ("total", "upstream", "pii", ...). Sorted by name in
  // the canonical form.
  std::map<std::string, int64_t> latency_us;
  uint64_t request_bytes = 0;
  uint64_t response_bytes = 0;
  std::string request_sha256;   // lower-case hex, "" when there was no body
  std::string response_sha256;  // lower-case hex, "" when there was no body
  std::optional<std::string> redacted_prompt;
  std::optional<std::string> redacted_response;

  friend bool operator==(const Record&, const Record&) = default;
};

// The canonical bytes of `r` (format version kRecordFormatVersion). Invalid UTF-8 in any
// string is replaced by U+FFFD so the output is always valid JSON.
std::string EncodeRecord(const Record& r);

// Parses bytes read back from storage or an export. Untrusted input: never crashes, rejects
// anything but a version-1 record object (unknown or mistyped members, values out of range,
// more than kMaxRecordBytes) with InvalidArgument naming the member.
absl::StatusOr<Record> DecodeRecord(std::string_view bytes);

}  // namespace rampart::audit
