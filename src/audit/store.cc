#include "audit/store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "audit/chain.h"
#include "common/strings.h"

namespace rampart::audit::internal {
namespace {

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS records(
  seq INTEGER PRIMARY KEY,
  time_us INTEGER NOT NULL,
  principal TEXT NOT NULL,
  reason TEXT NOT NULL,
  body TEXT NOT NULL,
  prev_hash TEXT NOT NULL,
  record_hash TEXT NOT NULL,
  mac TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS records_time ON records(time_us);
CREATE INDEX IF NOT EXISTS records_principal ON records(principal, time_us);
CREATE TABLE IF NOT EXISTS checkpoints(
  seq INTEGER PRIMARY KEY,
  record_hash TEXT NOT NULL,
  created_us INTEGER NOT NULL,
  mac TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS head(
  id INTEGER PRIMARY KEY CHECK (id = 1),
  seq INTEGER NOT NULL,
  record_hash TEXT NOT NULL,
  mac TEXT NOT NULL);
)sql";

absl::StatusOr<std::optional<SignedPoint>> ReadPoint(Db& db, const char* sql, bool created) {
  auto stmt = db.Prepare(sql);
  if (!stmt.ok()) return stmt.status();
  auto row = (*stmt)->Step();
  if (!row.ok()) return row.status();
  if (!*row) return std::optional<SignedPoint>();
  SignedPoint p;
  p.seq = static_cast<uint64_t>((*stmt)->Int(0));
  auto hash = DigestFromHex((*stmt)->Text(1));
  if (!hash.ok()) {
    return absl::DataLossError(StrCat(db.path(), ": malformed hash in signed row ", p.seq));
  }
  p.record_hash = *hash;
  p.mac_hex = std::string((*stmt)->Text(2));
  if (created) p.created_us = (*stmt)->Int(3);
  return std::optional<SignedPoint>(p);
}

}  // namespace

absl::StatusOr<std::unique_ptr<Db>> Db::Open(const std::string& path, OpenMode mode,
                                             bool synchronous_full, int busy_timeout_ms) {
  if (mode != OpenMode::kCreate) {
    struct stat st;
    if (::stat(path.c_str(), &st) != 0) {
      return absl::NotFoundError(StrCat("audit log ", path, ": no such file"));
    }
  }
  if (mode == OpenMode::kCreate) {
    // Records name principals and client addresses: create the file private (SQLite gives
    // the -wal and -shm files the same mode). An existing file keeps the mode it has.
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd >= 0) ::close(fd);
  }
  int flags = mode == OpenMode::kReadOnly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE;
  if (mode == OpenMode::kCreate) flags |= SQLITE_OPEN_CREATE;
  flags |= SQLITE_OPEN_NOMUTEX;
  sqlite3* raw = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &raw, flags, nullptr);
  std::unique_ptr<Db> db(new Db(raw, path));
  if (rc != SQLITE_OK) return db->Error("open");
  sqlite3_busy_timeout(raw, busy_timeout_ms);
  sqlite3_extended_result_codes(raw, 1);
  if (mode == OpenMode::kCreate) {
    if (auto st = db->Exec("PRAGMA journal_mode=WAL"); !st.ok()) return st;
    if (auto st =
            db->Exec(synchronous_full ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL");
        !st.ok()) {
      return st;
    }
    if (auto st = db->Exec("BEGIN IMMEDIATE"); !st.ok()) return st;
    auto st = db->Exec(kSchema);
    if (st.ok()) {
      auto ins = db->Prepare("INSERT OR IGNORE INTO meta(key, value) VALUES('format', ?1)");
      if (!ins.ok()) return ins.status();
      (*ins)->Bind(1, kFormat);
      if (auto r = (*ins)->Step(); !r.ok()) st = r.status();
    }
    if (!st.ok()) {
      db->Exec("ROLLBACK").IgnoreError();
      return st;
    }
    if (auto c = db->Exec("COMMIT"); !c.ok()) return c;
  } else if (mode == OpenMode::kExisting) {
    if (auto st =
            db->Exec(synchronous_full ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL");
        !st.ok()) {
      return st;
    }
  }
  // Every mode checks that this is an audit log of a format it understands.
  auto fmt_stmt = db->Prepare("SELECT value FROM meta WHERE key = 'format'");
  if (!fmt_stmt.ok()) {
    return absl::InvalidArgumentError(StrCat("audit log ", path, ": not a Rampart audit log"));
  }
  auto row = (*fmt_stmt)->Step();
  if (!row.ok()) return row.status();
  if (!*row || (*fmt_stmt)->Text(0) != kFormat) {
    return absl::InvalidArgumentError(
        StrCat("audit log ", path, ": not a Rampart audit log of format ", kFormat));
  }
  return db;
}

Db::~Db() { sqlite3_close_v2(db_); }

absl::Status Db::Error(std::string_view what) const {
  int code = db_ ? sqlite3_extended_errcode(db_) : SQLITE_NOMEM;
  std::string msg =
      StrCat("audit log ", path_, ": ", what, ": ", db_ ? sqlite3_errmsg(db_) : "out of memory");
  switch (code & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return absl::UnavailableError(msg);
    case SQLITE_FULL:
      return absl::ResourceExhaustedError(msg);
    case SQLITE_CANTOPEN:
      return absl::NotFoundError(msg);
    case SQLITE_PERM:
    case SQLITE_READONLY:
    case SQLITE_AUTH:
      return absl::PermissionDeniedError(msg);
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return absl::DataLossError(msg);
    default:
      return absl::InternalError(msg);
  }
}

absl::Status Db::Exec(const char* sql) {
  char* err = nullptr;
  int rc = sqlite3_exec(db_, sql, nullptr, nullptr, &err);
  sqlite3_free(err);
  if (rc != SQLITE_OK) return Error("exec");
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<Stmt>> Db::Prepare(const char* sql) {
  sqlite3_stmt* s = nullptr;
  if (sqlite3_prepare_v2(db_, sql, -1, &s, nullptr) != SQLITE_OK) return Error("prepare");
  return std::make_unique<Stmt>(s, this);
}

absl::StatusOr<std::string> Db::StoredKeyId() {
  auto stmt = Prepare("SELECT value FROM meta WHERE key = 'key_id'");
  if (!stmt.ok()) return stmt.status();
  auto row = (*stmt)->Step();
  if (!row.ok()) return row.status();
  return *row ? std::string((*stmt)->Text(0)) : std::string();
}

absl::Status Db::CheckOrStoreKeyId(const std::string& key_id) {
  auto stored = StoredKeyId();
  if (!stored.ok()) return stored.status();
  if (stored->empty()) {
    auto ins = Prepare("INSERT OR IGNORE INTO meta(key, value) VALUES('key_id', ?1)");
    if (!ins.ok()) return ins.status();
    (*ins)->Bind(1, key_id);
    return (*ins)->Step().status();
  }
  if (*stored != key_id) {
    return absl::FailedPreconditionError(StrCat("audit log ", path_,
                                                ": the key does not match the log (key id ", key_id,
                                                ", the log was written with ", *stored, ")"));
  }
  return absl::OkStatus();
}

absl::StatusOr<bool> Stmt::Step() {
  int rc = sqlite3_step(s_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return db_->Error("step");
}

absl::StatusOr<std::optional<SignedPoint>> ReadHead(Db& db) {
  return ReadPoint(db, "SELECT seq, record_hash, mac FROM head WHERE id = 1", false);
}

absl::StatusOr<std::optional<SignedPoint>> ReadLatestCheckpoint(Db& db) {
  return ReadPoint(db,
                   "SELECT seq, record_hash, mac, created_us FROM checkpoints "
                   "ORDER BY seq DESC LIMIT 1",
                   true);
}

}  // namespace rampart::audit::internal
