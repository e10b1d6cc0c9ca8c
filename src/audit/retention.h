// Retention: deleting old records without breaking verification.
//
// Thread safety: stateless; safe to run while a sink appends to the same file (the prune is
// one write transaction; the sink waits for it, up to its busy timeout).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace rampart::audit {

struct PruneResult {
  uint64_t pruned = 0;          // records deleted
  uint64_t checkpoint_seq = 0;  // seq of the checkpoint written (0 when nothing was pruned)
};

// Deletes the records older than `cutoff_us` (microseconds since the epoch): the longest
// prefix of the chain whose records all have time_us < cutoff_us. First it verifies the
// whole log (a broken log is not pruned: FailedPrecondition naming the break, so a prune
// cannot launder tampering), then writes a signed checkpoint holding the seq and
// record_hash of the last pruned record, then deletes, all in one transaction.
absl::StatusOr<PruneResult> Prune(const std::string& path, std::string_view key, int64_t cutoff_us);

}  // namespace rampart::audit
