// Verification of an audit log: walks the records in sequence order with bounded memory and
// names the first record where the chain is broken.
//
// Thread safety: stateless; safe to run while a sink appends (it reads one snapshot).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace rampart::audit {

enum class BreakKind {
  kNone,
  kEdited,         // a record's body or an indexed column no longer matches its hash
  kMissing,        // a sequence number is absent, or a record's predecessor is not the one
                   // it was chained to
  kReordered,      // a record sits at a sequence number other than the one it was written at
  kBadMac,         // hash consistent but the MAC is wrong (rewritten without the key)
  kBadCheckpoint,  // a retention checkpoint fails its MAC or does not match the records
  kTruncated,      // records after the last one present were removed (signed head says so)
};

// Stable lower-case names: "ok", "edited", "missing", "reordered", "bad_mac",
// "bad_checkpoint", "truncated".
std::string_view BreakKindName(BreakKind k);

struct VerifyReport {
  bool ok = false;
  uint64_t records_checked = 0;
  uint64_t first_seq = 0;  // first record present (0 when none)
  uint64_t last_seq = 0;   // last record present (0 when none)
  // Sequence number the chain started after: a checkpoint's seq, or 0.
  uint64_t checkpoint_seq = 0;
  // When !ok: the first broken sequence number, what is wrong, and a sentence saying so.
  uint64_t broken_seq = 0;
  BreakKind kind = BreakKind::kNone;
  std::string detail;
  // record_hash of the last record (hex): an anchor to keep elsewhere.
  std::string head_hash;
};

// Verifies the log at `path` under `key`. An intact log and a broken one are both OK
// results (see VerifyReport::ok); errors are for logs that cannot be checked: NotFound,
// InvalidArgument (not an audit log), FailedPrecondition (the key is not the log's key).
absl::StatusOr<VerifyReport> Verify(const std::string& path, std::string_view key);

}  // namespace rampart::audit
