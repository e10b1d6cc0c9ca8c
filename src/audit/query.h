// Reading an audit log back: filtered queries and export, oldest first.
//
// Thread safety: stateless; safe to run while a sink appends.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "audit/record.h"

namespace rampart::audit {

struct QueryFilter {
  std::optional<std::string> principal;  // exact match
  std::optional<std::string> reason;     // exact match ("" selects allowed exchanges)
  std::optional<int64_t> since_us;       // time_us >= since_us
  std::optional<int64_t> until_us;       // time_us < until_us
  uint64_t limit = 0;                    // 0: no limit
};

// Calls `fn(record, canonical_bytes)` for each matching record in sequence order, reading
// one row at a time. Stops early when `fn` returns false. A stored body that does not
// decode is an error (DataLoss naming the seq): run Verify. Does not check the chain.
absl::Status Query(const std::string& path, const QueryFilter& filter,
                   const std::function<bool(const Record&, std::string_view)>& fn);

}  // namespace rampart::audit
