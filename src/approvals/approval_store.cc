#include "approvals/approval_store.h"

#include <openssl/rand.h>
#include <sys/stat.h>

#include <array>
#include <boost/json.hpp>
#include <cerrno>
#include <cstring>

#include "common/crypto.h"
#include "common/strings.h"

namespace rampart::approvals {
namespace {

namespace json = boost::json;

constexpr const char* kSchema =
    "CREATE TABLE IF NOT EXISTS approvals ("
    " id TEXT PRIMARY KEY, created INTEGER NOT NULL, expires INTEGER NOT NULL,"
    " principal TEXT NOT NULL, route TEXT NOT NULL, model TEXT NOT NULL,"
    " request_sha256 TEXT NOT NULL, tools TEXT NOT NULL, message TEXT NOT NULL,"
    " status TEXT NOT NULL, decided_by TEXT NOT NULL, note TEXT NOT NULL,"
    " decided INTEGER NOT NULL);"
    "CREATE INDEX IF NOT EXISTS approvals_status ON approvals(status, expires);"
    "CREATE INDEX IF NOT EXISTS approvals_created ON approvals(created);";

constexpr const char* kColumns =
    "id, created, expires, principal, route, model, request_sha256, tools, message, status,"
    " decided_by, note, decided";

// A prepared statement that finalizes itself.
class Stmt {
 public:
  Stmt(sqlite3* db, const char* sql) { rc_ = sqlite3_prepare_v2(db, sql, -1, &s_, nullptr); }
  ~Stmt() { sqlite3_finalize(s_); }
  bool ok() const { return rc_ == SQLITE_OK; }
  void Text(int i, std::string_view v) {
    sqlite3_bind_text(s_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
  }
  void Int(int i, int64_t v) { sqlite3_bind_int64(s_, i, v); }
  int Step() { return sqlite3_step(s_); }
  std::string ColText(int i) {
    const auto* p = sqlite3_column_text(s_, i);
    return p == nullptr
               ? std::string()
               : std::string(reinterpret_cast<const char*>(p), sqlite3_column_bytes(s_, i));
  }
  int64_t ColInt(int i) { return sqlite3_column_int64(s_, i); }

 private:
  sqlite3_stmt* s_ = nullptr;
  int rc_;
};

absl::Status SqlError(sqlite3* db, std::string_view what) {
  return absl::InternalError(StrCat("approval store: ", what, ": ", sqlite3_errmsg(db)));
}

bool ValidId(std::string_view id) {
  if (id.size() != 36 || id.substr(0, 4) != "apr_") return false;
  for (char c : id.substr(4)) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

Approval Row(Stmt& s) {
  Approval a;
  a.id = s.ColText(0);
  a.created_unix_ms = s.ColInt(1);
  a.expires_unix_ms = s.ColInt(2);
  a.principal = s.ColText(3);
  a.route = s.ColText(4);
  a.model = s.ColText(5);
  a.request_sha256 = s.ColText(6);
  boost::system::error_code ec;
  json::value tools = json::parse(s.ColText(7), ec);
  if (!ec && tools.is_array()) {
    for (const auto& t : tools.get_array()) {
      if (t.is_string()) a.tools.emplace_back(t.get_string());
    }
  }
  a.message = s.ColText(8);
  a.status = ParseStatus(s.ColText(9)).value_or(Status::kExpired);
  a.decided_by = s.ColText(10);
  a.note = s.ColText(11);
  a.decided_unix_ms = s.ColInt(12);
  return a;
}

}  // namespace

std::string_view StatusName(Status s) {
  switch (s) {
    case Status::kPending:
      return "pending";
    case Status::kApproved:
      return "approved";
    case Status::kDenied:
      return "denied";
    case Status::kExpired:
      return "expired";
    case Status::kReleased:
      return "released";
  }
  return "expired";
}

std::optional<Status> ParseStatus(std::string_view s) {
  for (Status st : {Status::kPending, Status::kApproved, Status::kDenied, Status::kExpired,
                    Status::kReleased}) {
    if (StatusName(st) == s) return st;
  }
  return std::nullopt;
}

std::string NewApprovalId() {
  std::array<uint8_t, 16> bytes{};
  if (RAND_bytes(bytes.data(), static_cast<int>(bytes.size())) != 1) {
    // RAND_bytes only fails when the CSPRNG cannot be seeded; never hand out a guessable id.
    std::abort();
  }
  return StrCat("apr_", ToHex(bytes.data(), bytes.size()));
}

absl::StatusOr<std::unique_ptr<ApprovalStore>> ApprovalStore::Open(StoreOptions options) {
  if (options.path.empty()) return absl::InvalidArgumentError("approval store: path is empty");
  sqlite3* db = nullptr;
  int rc =
      sqlite3_open_v2(options.path.c_str(), &db,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    std::string msg = db != nullptr ? sqlite3_errmsg(db) : "out of memory";
    sqlite3_close(db);
    return absl::UnavailableError(StrCat("cannot open ", options.path, ": ", msg));
  }
  // The file holds tool arguments: readable by the gateway's user only (SQLite gives the -wal
  // and -shm files the same mode).
  if (::chmod(options.path.c_str(), S_IRUSR | S_IWUSR) != 0) {
    sqlite3_close(db);
    return absl::UnavailableError(
        StrCat("cannot restrict ", options.path, " to its owner: ", std::strerror(errno)));
  }
  sqlite3_busy_timeout(db, 2000);
  auto store = std::unique_ptr<ApprovalStore>(new ApprovalStore(db, std::move(options)));
  for (const char* sql : {"PRAGMA journal_mode=WAL;", "PRAGMA synchronous=FULL;", kSchema}) {
    if (auto st = store->Exec(sql); !st.ok()) return st;
  }
  return store;
}

ApprovalStore::~ApprovalStore() { sqlite3_close(db_); }

absl::Status ApprovalStore::Exec(const char* sql) {
  char* err = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    std::string msg = err != nullptr ? err : "unknown error";
    sqlite3_free(err);
    return absl::InternalError(StrCat("approval store: ", msg));
  }
  return absl::OkStatus();
}

absl::Status ApprovalStore::Create(const Approval& a) {
  if (!ValidId(a.id)) return absl::InvalidArgumentError("approval id is malformed");
  if (a.message.size() > kMaxHeldBytes) {
    return absl::InvalidArgumentError("the held message is too large to store");
  }
  std::lock_guard<std::mutex> lock(mu_);
  {
    // Retention: decided records go after retention_s; expired ones too.
    Stmt del(db_, "DELETE FROM approvals WHERE status != 'pending' AND created < ?1");
    if (!del.ok()) return SqlError(db_, "prepare");
    del.Int(1, a.created_unix_ms - static_cast<int64_t>(options_.retention_s) * 1000);
    if (del.Step() != SQLITE_DONE) return SqlError(db_, "retention");
  }
  {
    Stmt exp(db_,
             "UPDATE approvals SET status = 'expired' WHERE status = 'pending' AND expires < ?1");
    if (!exp.ok()) return SqlError(db_, "prepare");
    exp.Int(1, a.created_unix_ms);
    if (exp.Step() != SQLITE_DONE) return SqlError(db_, "expire");
  }
  {
    Stmt count(db_, "SELECT COUNT(*) FROM approvals WHERE status = 'pending'");
    if (!count.ok() || count.Step() != SQLITE_ROW) return SqlError(db_, "count");
    if (static_cast<uint64_t>(count.ColInt(0)) >= options_.max_pending) {
      return absl::ResourceExhaustedError("too many approvals are pending");
    }
  }
  json::array tools;
  for (const auto& t : a.tools) tools.emplace_back(t);
  Stmt ins(db_, StrCat("INSERT INTO approvals (", kColumns,
                       ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, 'pending', '', '', 0)")
                    .c_str());
  if (!ins.ok()) return SqlError(db_, "prepare");
  ins.Text(1, a.id);
  ins.Int(2, a.created_unix_ms);
  ins.Int(3, a.expires_unix_ms);
  ins.Text(4, a.principal);
  ins.Text(5, a.route);
  ins.Text(6, a.model);
  ins.Text(7, a.request_sha256);
  ins.Text(8, json::serialize(tools));
  ins.Text(9, a.message);
  int rc = ins.Step();
  if (rc == SQLITE_CONSTRAINT) return absl::AlreadyExistsError("approval id already exists");
  if (rc != SQLITE_DONE) return SqlError(db_, "insert");
  return absl::OkStatus();
}

absl::StatusOr<std::optional<Approval>> ApprovalStore::Load(std::string_view id,
                                                            int64_t now_unix_ms) {
  if (!ValidId(id)) return std::optional<Approval>();
  {
    Stmt exp(db_,
             "UPDATE approvals SET status = 'expired' WHERE id = ?1 AND status = 'pending'"
             " AND expires < ?2");
    if (!exp.ok()) return SqlError(db_, "prepare");
    exp.Text(1, id);
    exp.Int(2, now_unix_ms);
    if (exp.Step() != SQLITE_DONE) return SqlError(db_, "expire");
  }
  Stmt s(db_, StrCat("SELECT ", kColumns, " FROM approvals WHERE id = ?1").c_str());
  if (!s.ok()) return SqlError(db_, "prepare");
  s.Text(1, id);
  int rc = s.Step();
  if (rc == SQLITE_DONE) return std::optional<Approval>();
  if (rc != SQLITE_ROW) return SqlError(db_, "select");
  return std::optional<Approval>(Row(s));
}

absl::StatusOr<Approval> ApprovalStore::Get(std::string_view id, int64_t now_unix_ms) {
  std::lock_guard<std::mutex> lock(mu_);
  auto a = Load(id, now_unix_ms);
  if (!a.ok()) return a.status();
  if (!a->has_value()) return absl::NotFoundError("no such approval");
  return std::move(**a);
}

absl::StatusOr<std::vector<Approval>> ApprovalStore::List(std::optional<Status> status,
                                                          size_t limit, int64_t now_unix_ms) {
  std::lock_guard<std::mutex> lock(mu_);
  {
    Stmt exp(db_,
             "UPDATE approvals SET status = 'expired' WHERE status = 'pending' AND expires < ?1");
    if (!exp.ok()) return SqlError(db_, "prepare");
    exp.Int(1, now_unix_ms);
    if (exp.Step() != SQLITE_DONE) return SqlError(db_, "expire");
  }
  std::string sql =
      StrCat("SELECT ", kColumns, " FROM approvals", status ? " WHERE status = ?1" : "",
             " ORDER BY created DESC LIMIT ", limit);
  Stmt s(db_, sql.c_str());
  if (!s.ok()) return SqlError(db_, "prepare");
  if (status) s.Text(1, StatusName(*status));
  std::vector<Approval> out;
  int rc;
  while ((rc = s.Step()) == SQLITE_ROW) out.push_back(Row(s));
  if (rc != SQLITE_DONE) return SqlError(db_, "select");
  return out;
}

absl::StatusOr<Approval> ApprovalStore::Decide(std::string_view id, bool approve,
                                               std::string_view by, std::string_view note,
                                               int64_t now_unix_ms) {
  std::lock_guard<std::mutex> lock(mu_);
  auto a = Load(id, now_unix_ms);
  if (!a.ok()) return a.status();
  if (!a->has_value()) return absl::NotFoundError("no such approval");
  if ((*a)->status != Status::kPending) {
    return absl::FailedPreconditionError(
        StrCat("the approval is already ", StatusName((*a)->status)));
  }
  Stmt up(db_,
          "UPDATE approvals SET status = ?2, decided_by = ?3, note = ?4, decided = ?5"
          " WHERE id = ?1 AND status = 'pending'");
  if (!up.ok()) return SqlError(db_, "prepare");
  Status next = approve ? Status::kApproved : Status::kDenied;
  up.Text(1, id);
  up.Text(2, StatusName(next));
  up.Text(3, by);
  up.Text(4, note);
  up.Int(5, now_unix_ms);
  if (up.Step() != SQLITE_DONE) return SqlError(db_, "update");
  if (sqlite3_changes(db_) != 1) return absl::FailedPreconditionError("the approval changed");
  Approval out = std::move(**a);
  out.status = next;
  out.decided_by = std::string(by);
  out.note = std::string(note);
  out.decided_unix_ms = now_unix_ms;
  return out;
}

absl::StatusOr<Approval> ApprovalStore::Redeem(std::string_view id, int64_t now_unix_ms) {
  std::lock_guard<std::mutex> lock(mu_);
  auto a = Load(id, now_unix_ms);
  if (!a.ok()) return a.status();
  if (!a->has_value()) return absl::NotFoundError("no such approval");
  if ((*a)->status != Status::kApproved) return std::move(**a);
  Stmt up(db_, "UPDATE approvals SET status = 'released' WHERE id = ?1 AND status = 'approved'");
  if (!up.ok()) return SqlError(db_, "prepare");
  up.Text(1, id);
  if (up.Step() != SQLITE_DONE) return SqlError(db_, "update");
  if (sqlite3_changes(db_) != 1) {
    // Another exchange released it first: this one reads it as released.
    (*a)->status = Status::kReleased;
  }
  return std::move(**a);
}

}  // namespace rampart::approvals
