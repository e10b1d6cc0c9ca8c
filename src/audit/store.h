// Internal: the SQLite layer of the audit log (schema, statements, the head row). Not part
// of the public API; the sink, verification, queries and retention share it.
//
// Schema (format 1):
//   meta(key PRIMARY KEY, value)              format, key_id
//   records(seq PRIMARY KEY, time_us, principal, reason, body, prev_hash, record_hash, mac)
//   checkpoints(seq PRIMARY KEY, record_hash, created_us, mac)
//   head(id = 1, seq, record_hash, mac)
// body is the canonical record; time_us, principal and reason are copies for indexed
// queries, which verification checks against the body.
//
// Thread safety: a Db and its statements belong to one thread at a time.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "audit/verify.h"
#include "common/crypto.h"

namespace rampart::audit::internal {

inline constexpr std::string_view kFormat = "rampart.audit.v1";

enum class OpenMode {
  kCreate,    // create the file and schema when missing (the sink)
  kExisting,  // the file must exist and be an audit log (verify, prune)
  kReadOnly,  // query and export
};

class Stmt;

class Db {
 public:
  // Opens `path`, sets WAL and busy_timeout, and creates or checks the schema.
  // `synchronous_full` selects synchronous=FULL instead of NORMAL.
  static absl::StatusOr<std::unique_ptr<Db>> Open(const std::string& path, OpenMode mode,
                                                  bool synchronous_full = false,
                                                  int busy_timeout_ms = 5000);
  ~Db();
  Db(const Db&) = delete;
  Db& operator=(const Db&) = delete;

  absl::Status Exec(const char* sql);
  absl::StatusOr<std::unique_ptr<Stmt>> Prepare(const char* sql);
  // The key fingerprint stored in meta, or "" when none was stored yet.
  absl::StatusOr<std::string> StoredKeyId();
  // Stores `key_id` when none is stored; FailedPrecondition when a different one is.
  absl::Status CheckOrStoreKeyId(const std::string& key_id);
  absl::Status Error(std::string_view what) const;
  sqlite3* raw() { return db_; }
  const std::string& path() const { return path_; }

 private:
  Db(sqlite3* db, std::string path) : db_(db), path_(std::move(path)) {}
  sqlite3* db_;
  std::string path_;
};

class Stmt {
 public:
  Stmt(sqlite3_stmt* s, Db* db) : s_(s), db_(db) {}
  ~Stmt() { sqlite3_finalize(s_); }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;

  void Bind(int i, int64_t v) { sqlite3_bind_int64(s_, i, v); }
  void Bind(int i, std::string_view v) {
    sqlite3_bind_text(s_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
  }
  // True when a row is available, false when done.
  absl::StatusOr<bool> Step();
  void Reset() {
    sqlite3_reset(s_);
    sqlite3_clear_bindings(s_);
  }
  int64_t Int(int col) { return sqlite3_column_int64(s_, col); }
  bool IsNull(int col) { return sqlite3_column_type(s_, col) == SQLITE_NULL; }
  std::string_view Text(int col) {
    const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(s_, col));
    return p ? std::string_view(p, static_cast<size_t>(sqlite3_column_bytes(s_, col)))
             : std::string_view();
  }

 private:
  sqlite3_stmt* s_;
  Db* db_;
};

struct SignedPoint {
  uint64_t seq = 0;
  Sha256Digest record_hash{};
  int64_t created_us = 0;  // checkpoints only
  std::string mac_hex;
};

// The head row, nullopt when the log has no record yet.
absl::StatusOr<std::optional<SignedPoint>> ReadHead(Db& db);
// The newest checkpoint, nullopt when the log was never pruned.
absl::StatusOr<std::optional<SignedPoint>> ReadLatestCheckpoint(Db& db);

// Verify over an open connection, inside whatever transaction the caller holds.
absl::StatusOr<VerifyReport> VerifyDb(Db& db, std::string_view key);

}  // namespace rampart::audit::internal
