#include "audit/retention.h"

#include <chrono>

#include "audit/chain.h"
#include "audit/store.h"
#include "common/strings.h"

namespace rampart::audit {

absl::StatusOr<PruneResult> Prune(const std::string& path, std::string_view key,
                                  int64_t cutoff_us) {
  auto opened = internal::Db::Open(path, internal::OpenMode::kExisting);
  if (!opened.ok()) return opened.status();
  internal::Db& db = **opened;
  if (auto st = db.Exec("BEGIN IMMEDIATE"); !st.ok()) return st;
  auto body = [&]() -> absl::StatusOr<PruneResult> {
    auto report = internal::VerifyDb(db, key);
    if (!report.ok()) return report.status();
    if (!report->ok) {
      return absl::FailedPreconditionError(
          StrCat("audit log ", path, " does not verify (", BreakKindName(report->kind), " at seq ",
                 report->broken_seq, ": ", report->detail, "); not pruning"));
    }
    PruneResult result;
    if (report->records_checked == 0) return result;
    auto first_kept = db.Prepare("SELECT MIN(seq) FROM records WHERE time_us >= ?1");
    if (!first_kept.ok()) return first_kept.status();
    (*first_kept)->Bind(1, cutoff_us);
    if (auto row = (*first_kept)->Step(); !row.ok()) return row.status();
    uint64_t prune_to = (*first_kept)->IsNull(0) ? report->last_seq
                                                 : static_cast<uint64_t>((*first_kept)->Int(0)) - 1;
    if (prune_to < report->first_seq) return result;
    auto hash_stmt = db.Prepare("SELECT record_hash FROM records WHERE seq = ?1");
    if (!hash_stmt.ok()) return hash_stmt.status();
    (*hash_stmt)->Bind(1, static_cast<int64_t>(prune_to));
    if (auto row = (*hash_stmt)->Step(); !row.ok() || !*row) {
      return row.ok() ? absl::InternalError("audit prune: record vanished") : row.status();
    }
    auto hash = DigestFromHex((*hash_stmt)->Text(0));
    if (!hash.ok()) return hash.status();
    int64_t now_us = std::chrono::duration_cast<std::chrono::microseconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
    auto ins = db.Prepare(
        "INSERT INTO checkpoints(seq, record_hash, created_us, mac) VALUES(?1, ?2, ?3, ?4)");
    if (!ins.ok()) return ins.status();
    (*ins)->Bind(1, static_cast<int64_t>(prune_to));
    (*ins)->Bind(2, ToHex(*hash));
    (*ins)->Bind(3, now_us);
    (*ins)->Bind(4, ToHex(CheckpointMac(key, prune_to, *hash, now_us)));
    if (auto st = (*ins)->Step(); !st.ok()) return st.status();
    auto del = db.Prepare("DELETE FROM records WHERE seq <= ?1");
    if (!del.ok()) return del.status();
    (*del)->Bind(1, static_cast<int64_t>(prune_to));
    if (auto st = (*del)->Step(); !st.ok()) return st.status();
    result.pruned = static_cast<uint64_t>(sqlite3_changes(db.raw()));
    auto old = db.Prepare("DELETE FROM checkpoints WHERE seq < ?1");
    if (!old.ok()) return old.status();
    (*old)->Bind(1, static_cast<int64_t>(prune_to));
    if (auto st = (*old)->Step(); !st.ok()) return st.status();
    result.checkpoint_seq = prune_to;
    return result;
  }();
  if (!body.ok()) {
    db.Exec("ROLLBACK").IgnoreError();
    return body.status();
  }
  if (auto st = db.Exec("COMMIT"); !st.ok()) return st;
  return body;
}

}  // namespace rampart::audit
