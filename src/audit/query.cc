#include "audit/query.h"

#include "audit/store.h"
#include "common/strings.h"

namespace rampart::audit {

absl::Status Query(const std::string& path, const QueryFilter& filter,
                   const std::function<bool(const Record&, std::string_view)>& fn) {
  auto db = internal::Db::Open(path, internal::OpenMode::kReadOnly);
  if (!db.ok()) return db.status();
  std::string sql = "SELECT seq, body FROM records WHERE 1";
  if (filter.principal) sql += " AND principal = ?1";
  if (filter.reason) sql += " AND reason = ?2";
  if (filter.since_us) sql += " AND time_us >= ?3";
  if (filter.until_us) sql += " AND time_us < ?4";
  sql += " ORDER BY seq";
  if (filter.limit > 0) sql += " LIMIT ?5";
  auto stmt = (*db)->Prepare(sql.c_str());
  if (!stmt.ok()) return stmt.status();
  internal::Stmt& s = **stmt;
  if (filter.principal) s.Bind(1, *filter.principal);
  if (filter.reason) s.Bind(2, *filter.reason);
  if (filter.since_us) s.Bind(3, *filter.since_us);
  if (filter.until_us) s.Bind(4, *filter.until_us);
  if (filter.limit > 0)
    s.Bind(5, static_cast<int64_t>(std::min<uint64_t>(filter.limit, INT64_MAX)));
  while (true) {
    auto row = s.Step();
    if (!row.ok()) return row.status();
    if (!*row) return absl::OkStatus();
    std::string_view body = s.Text(1);
    auto rec = DecodeRecord(body);
    if (!rec.ok()) {
      return absl::DataLossError(StrCat("audit log ", path, ": record ", s.Int(0),
                                        " does not decode; run rampart audit verify"));
    }
    if (!fn(*rec, body)) return absl::OkStatus();
  }
}

}  // namespace rampart::audit
