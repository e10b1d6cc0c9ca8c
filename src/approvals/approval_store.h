// ApprovalStore: tool calls held for a human decision, persisted in SQLite (WAL).
//
// The tool_policy stage holds an assistant message whose tool calls include a high-risk tool;
// the server stores it here as a pending Approval. An operator lists and decides approvals
// through the admin API; the client re-sends its request with `X-Rampart-Approval: <id>` and,
// once approved, receives the held message exactly once (Redeem). The protocol is documented
// in docs/llm-defenses.md.
//
// Records carry the tool arguments and the held message: they are sensitive. The store keeps
// them for the admin API and the release, and nothing here logs them.
//
// Bounds: at most `max_pending` pending approvals (Create fails with ResourceExhausted over
// it); records that are no longer pending are deleted `retention_s` after they were created;
// held messages over kMaxHeldBytes are refused. A pending approval older than its expiry reads
// as expired.
//
// Ownership: the server owns the store; it outlives every configuration generation.
// Thread safety: every method may be called from any thread (one connection under a mutex).
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace rampart::approvals {

inline constexpr size_t kMaxHeldBytes = 1u << 20;

enum class Status { kPending, kApproved, kDenied, kExpired, kReleased };
std::string_view StatusName(Status s);
std::optional<Status> ParseStatus(std::string_view s);

struct Approval {
  std::string id;               // "apr_" + 32 hex digits (128 random bits)
  int64_t created_unix_ms = 0;  // when the call was held
  int64_t expires_unix_ms = 0;  // a pending approval after this reads as expired
  std::string principal;        // who asked; only this principal may redeem it
  std::string route;
  std::string model;
  std::string request_sha256;      // digest of the request body that produced the held call
  std::vector<std::string> tools;  // names of the tools the held message calls
  std::string message;             // the held assistant message (JSON: role, content, tool_calls)
  Status status = Status::kPending;
  std::string decided_by;       // "" until decided
  std::string note;             // the decider's note, "" when none
  int64_t decided_unix_ms = 0;  // 0 until decided
};

struct StoreOptions {
  std::string path;                      // SQLite file; created when missing
  uint64_t max_pending = 10'000;         // Default: 10000
  uint64_t retention_s = 7 * 24 * 3600;  // Default: 7 days for decided records
};

// A new unguessable approval id.
std::string NewApprovalId();

class ApprovalStore {
 public:
  static absl::StatusOr<std::unique_ptr<ApprovalStore>> Open(StoreOptions options);
  ~ApprovalStore();
  ApprovalStore(const ApprovalStore&) = delete;
  ApprovalStore& operator=(const ApprovalStore&) = delete;

  // Stores a new pending approval. Errors: AlreadyExists (id taken), ResourceExhausted (too
  // many pending), InvalidArgument (message too large or bad id), Internal (SQLite).
  absl::Status Create(const Approval& a);

  // The approval, with a pending one past its expiry turned into kExpired. NotFound if unknown.
  absl::StatusOr<Approval> Get(std::string_view id, int64_t now_unix_ms);

  // Up to `limit` approvals, newest first, optionally only those with `status`.
  absl::StatusOr<std::vector<Approval>> List(std::optional<Status> status, size_t limit,
                                             int64_t now_unix_ms);

  // Moves a pending approval to kApproved or kDenied. NotFound if unknown; FailedPrecondition
  // if it is no longer pending (already decided, expired or released).
  absl::StatusOr<Approval> Decide(std::string_view id, bool approve, std::string_view by,
                                  std::string_view note, int64_t now_unix_ms);

  // Marks an approved approval released (one use) and returns it as it was before. Returns the
  // approval unchanged when it is not approved (pending, denied, expired, released): the
  // caller answers from its status. NotFound if unknown.
  absl::StatusOr<Approval> Redeem(std::string_view id, int64_t now_unix_ms);

 private:
  ApprovalStore(sqlite3* db, StoreOptions options) : db_(db), options_(std::move(options)) {}
  absl::StatusOr<std::optional<Approval>> Load(std::string_view id, int64_t now_unix_ms);
  absl::Status Exec(const char* sql);
  std::mutex mu_;
  sqlite3* db_;
  StoreOptions options_;
};

}  // namespace rampart::approvals
