#include "audit/verify.h"

#include "audit/chain.h"
#include "audit/record.h"
#include "audit/store.h"
#include "common/strings.h"

namespace rampart::audit {

std::string_view BreakKindName(BreakKind k) {
  switch (k) {
    case BreakKind::kNone:
      return "ok";
    case BreakKind::kEdited:
      return "edited";
    case BreakKind::kMissing:
      return "missing";
    case BreakKind::kReordered:
      return "reordered";
    case BreakKind::kBadMac:
      return "bad_mac";
    case BreakKind::kBadCheckpoint:
      return "bad_checkpoint";
    case BreakKind::kTruncated:
      return "truncated";
  }
  return "unknown";
}

namespace internal {
namespace {

VerifyReport& Broken(VerifyReport& r, uint64_t seq, BreakKind kind, std::string detail) {
  r.ok = false;
  r.broken_seq = seq;
  r.kind = kind;
  r.detail = std::move(detail);
  return r;
}

}  // namespace

absl::StatusOr<VerifyReport> VerifyDb(Db& db, std::string_view key) {
  auto stored_id = db.StoredKeyId();
  if (!stored_id.ok()) return stored_id.status();
  std::string key_id = KeyId(key);
  if (!stored_id->empty() && *stored_id != key_id) {
    return absl::FailedPreconditionError(StrCat("audit log ", db.path(),
                                                ": the key does not match the log (key id ", key_id,
                                                ", the log says ", *stored_id, ")"));
  }
  VerifyReport r;
  r.ok = true;
  uint64_t expected = 1;
  Sha256Digest prev = GenesisHash();
  auto cp = ReadLatestCheckpoint(db);
  if (!cp.ok()) return cp.status();
  if (cp->has_value()) {
    const SignedPoint& c = **cp;
    r.checkpoint_seq = c.seq;
    if (ToHex(CheckpointMac(key, c.seq, c.record_hash, c.created_us)) != c.mac_hex) {
      return Broken(r, c.seq, BreakKind::kBadCheckpoint,
                    StrCat("the checkpoint at seq ", c.seq, " fails its MAC check"));
    }
    expected = c.seq + 1;
    prev = c.record_hash;
  }
  auto stmt = db.Prepare(
      "SELECT seq, time_us, principal, reason, body, prev_hash, record_hash, mac "
      "FROM records WHERE seq >= ?1 ORDER BY seq");
  if (!stmt.ok()) return stmt.status();
  Stmt& s = **stmt;
  s.Bind(1, static_cast<int64_t>(expected));
  while (true) {
    auto row = s.Step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    uint64_t seq = static_cast<uint64_t>(s.Int(0));
    if (seq != expected) {
      return Broken(r, expected, BreakKind::kMissing,
                    StrCat("record ", expected, " is missing (the next present is ", seq, ")"));
    }
    std::string_view body = s.Text(4);
    auto rec = DecodeRecord(body);
    if (!rec.ok()) {
      return Broken(r, seq, BreakKind::kEdited,
                    StrCat("record ", seq, " has a body that is not a valid record"));
    }
    if (rec->seq != seq) {
      return Broken(r, seq, BreakKind::kReordered,
                    StrCat("the record at seq ", seq, " was written as seq ", rec->seq));
    }
    const char* column = nullptr;
    if (rec->time_us != s.Int(1)) column = "time_us";
    if (rec->principal != s.Text(2)) column = "principal";
    if (rec->reason != s.Text(3)) column = "reason";
    if (column != nullptr) {
      return Broken(r, seq, BreakKind::kEdited,
                    StrCat("record ", seq, ": column ", column, " differs from the signed body"));
    }
    auto stored_prev = DigestFromHex(s.Text(5));
    if (!stored_prev.ok()) {
      return Broken(r, seq, BreakKind::kEdited, StrCat("record ", seq, ": malformed prev_hash"));
    }
    Sha256Digest hash = RecordHash(*stored_prev, body);
    if (ToHex(hash) != s.Text(6)) {
      return Broken(r, seq, BreakKind::kEdited,
                    StrCat("record ", seq, " does not match its hash (edited)"));
    }
    if (ToHex(RecordMac(key, hash)) != s.Text(7)) {
      return Broken(r, seq, BreakKind::kBadMac, StrCat("record ", seq, " fails its MAC check"));
    }
    if (!DigestEqual(*stored_prev, prev)) {
      if (r.records_checked == 0 && r.checkpoint_seq != 0) {
        return Broken(
            r, r.checkpoint_seq, BreakKind::kBadCheckpoint,
            StrCat("record ", seq, " does not follow the checkpoint at seq ", r.checkpoint_seq));
      }
      return Broken(r, seq, BreakKind::kMissing,
                    StrCat("record ", seq, " is not chained to record ", seq - 1,
                           " (a record was removed or replaced)"));
    }
    prev = hash;
    if (r.records_checked == 0) r.first_seq = seq;
    r.last_seq = seq;
    ++r.records_checked;
    ++expected;
  }
  uint64_t last = expected - 1;
  r.head_hash = ToHex(prev);
  auto head = ReadHead(db);
  if (!head.ok()) return head.status();
  if (!head->has_value()) {
    if (last > 0) {
      return Broken(r, last + 1, BreakKind::kTruncated, "the signed head row is missing");
    }
    return r;
  }
  const SignedPoint& h = **head;
  if (ToHex(HeadMac(key, h.seq, h.record_hash)) != h.mac_hex) {
    return Broken(r, h.seq, BreakKind::kTruncated, "the signed head row fails its MAC check");
  }
  if (h.seq > last) {
    return Broken(r, last + 1, BreakKind::kTruncated,
                  StrCat("records ", last + 1, "..", h.seq, " were removed from the end"));
  }
  if (h.seq < last || !DigestEqual(h.record_hash, prev)) {
    return Broken(r, h.seq, BreakKind::kTruncated,
                  StrCat("the signed head (seq ", h.seq, ") does not match the last record (seq ",
                         last, ")"));
  }
  return r;
}

}  // namespace internal

absl::StatusOr<VerifyReport> Verify(const std::string& path, std::string_view key) {
  auto db = internal::Db::Open(path, internal::OpenMode::kExisting);
  if (!db.ok()) return db.status();
  // One read transaction: a consistent snapshot even while a sink appends.
  if (auto st = (*db)->Exec("BEGIN"); !st.ok()) return st;
  auto report = internal::VerifyDb(**db, key);
  (*db)->Exec("COMMIT").IgnoreError();
  return report;
}

}  // namespace rampart::audit
