#include "audit/verify.h"

#include <gtest/gtest.h>

#include "audit/chain.h"
#include "audit/query.h"
#include "audit/retention.h"
#include "audit/test_util.h"

namespace rampart::audit {
namespace {

using testing::Append;
using testing::kKey;
using testing::OpenSink;
using testing::SampleRecord;
using testing::Sql;
using testing::TempDir;

class VerifyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    db_ = dir_.File("audit.db");
    auto sink = OpenSink(db_);
    Append(*sink, 10);
  }

  VerifyReport Check() {
    auto report = Verify(db_, kKey);
    EXPECT_TRUE(report.ok()) << report.status();
    return report.ok() ? *report : VerifyReport{};
  }

  void ExpectBroken(uint64_t seq, BreakKind kind) {
    VerifyReport r = Check();
    EXPECT_FALSE(r.ok);
    EXPECT_EQ(r.broken_seq, seq) << r.detail;
    EXPECT_EQ(BreakKindName(r.kind), BreakKindName(kind)) << r.detail;
    EXPECT_FALSE(r.detail.empty());
  }

  // Seconds since the first sample record, as a time_us cutoff.
  static int64_t At(int i) { return SampleRecord(i).time_us; }

  TempDir dir_;
  std::string db_;
};

TEST_F(VerifyTest, IntactChainVerifies) {
  VerifyReport r = Check();
  EXPECT_TRUE(r.ok) << r.detail;
  EXPECT_EQ(r.records_checked, 10u);
  EXPECT_EQ(r.first_seq, 1u);
  EXPECT_EQ(r.last_seq, 10u);
  EXPECT_EQ(r.head_hash.size(), 64u);
}

TEST_F(VerifyTest, EditedBodyIsNamed) {
  Sql(db_, "UPDATE records SET body = replace(body, 'gpt-test', 'gpt-evil') WHERE seq = 4");
  ExpectBroken(4, BreakKind::kEdited);
}

TEST_F(VerifyTest, EditedIndexedColumnIsNamed) {
  Sql(db_, "UPDATE records SET principal = 'mallory' WHERE seq = 6");
  ExpectBroken(6, BreakKind::kEdited);
}

TEST_F(VerifyTest, DeletedRowIsNamed) {
  Sql(db_, "DELETE FROM records WHERE seq = 5");
  ExpectBroken(5, BreakKind::kMissing);
}

TEST_F(VerifyTest, SwappedRowsAreNamed) {
  Sql(db_,
      "UPDATE records SET seq = 1000 WHERE seq = 3; UPDATE records SET seq = 3 WHERE seq = 7;"
      "UPDATE records SET seq = 7 WHERE seq = 1000;");
  ExpectBroken(3, BreakKind::kReordered);
}

TEST_F(VerifyTest, EditedMacIsNamed) {
  Sql(db_, "UPDATE records SET mac = (SELECT mac FROM records WHERE seq = 2) WHERE seq = 8");
  ExpectBroken(8, BreakKind::kBadMac);
}

TEST_F(VerifyTest, EditWithRecomputedHashStillFailsTheMac) {
  // An attacker without the key can redo the hash but not the MAC.
  Record r = SampleRecord(8);
  r.seq = 9;
  r.http_status = 200;
  r.verdict = "allow-edited";
  std::string body = EncodeRecord(r);
  Sql(db_, "UPDATE records SET body = '" + body + "' WHERE seq = 9");
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(db_.c_str(), &db), SQLITE_OK);
  sqlite3_stmt* s = nullptr;
  sqlite3_prepare_v2(db, "SELECT prev_hash FROM records WHERE seq = 9", -1, &s, nullptr);
  ASSERT_EQ(sqlite3_step(s), SQLITE_ROW);
  auto prev = DigestFromHex(reinterpret_cast<const char*>(sqlite3_column_text(s, 0)));
  sqlite3_finalize(s);
  sqlite3_close(db);
  ASSERT_TRUE(prev.ok());
  Sql(db_,
      "UPDATE records SET record_hash = '" + ToHex(RecordHash(*prev, body)) + "' WHERE seq = 9");
  ExpectBroken(9, BreakKind::kBadMac);
}

TEST_F(VerifyTest, RemovedTailIsNamed) {
  Sql(db_, "DELETE FROM records WHERE seq >= 9");
  ExpectBroken(9, BreakKind::kTruncated);
}

TEST_F(VerifyTest, RemovedHeadRowIsNamed) {
  Sql(db_, "DELETE FROM head");
  ExpectBroken(11, BreakKind::kTruncated);
}

TEST_F(VerifyTest, TheFirstOfSeveralBreaksIsNamed) {
  Sql(db_, "UPDATE records SET body = replace(body, 'gpt-test', 'gpt-evil') WHERE seq = 7");
  Sql(db_, "DELETE FROM records WHERE seq = 3");
  ExpectBroken(3, BreakKind::kMissing);
}

TEST_F(VerifyTest, WrongKeyIsAnInputError) {
  auto r = Verify(db_, "some-other-key-0123456789");
  EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST_F(VerifyTest, NotAnAuditLogIsAnInputError) {
  std::string other = dir_.File("other.db");
  Sql(other, "CREATE TABLE t(x)");
  EXPECT_EQ(Verify(other, kKey).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Verify(dir_.File("missing.db"), kKey).status().code(), absl::StatusCode::kNotFound);
}

TEST_F(VerifyTest, PruneThenVerifyPasses) {
  auto pruned = Prune(db_, kKey, At(4));
  ASSERT_TRUE(pruned.ok()) << pruned.status();
  EXPECT_EQ(pruned->pruned, 4u);
  EXPECT_EQ(pruned->checkpoint_seq, 4u);
  VerifyReport r = Check();
  EXPECT_TRUE(r.ok) << r.detail;
  EXPECT_EQ(r.checkpoint_seq, 4u);
  EXPECT_EQ(r.first_seq, 5u);
  EXPECT_EQ(r.records_checked, 6u);

  // Appending and pruning again keep the log verifiable.
  {
    auto sink = OpenSink(db_);
    ASSERT_NE(sink, nullptr);
    Append(*sink, 5, 10);
  }
  ASSERT_TRUE(Prune(db_, kKey, At(8)).ok());
  r = Check();
  EXPECT_TRUE(r.ok) << r.detail;
  EXPECT_EQ(r.checkpoint_seq, 8u);
  EXPECT_EQ(r.records_checked, 7u);
}

TEST_F(VerifyTest, PruningEverythingLeavesAVerifiableLog) {
  ASSERT_TRUE(Prune(db_, kKey, At(1000)).ok());
  VerifyReport r = Check();
  EXPECT_TRUE(r.ok) << r.detail;
  EXPECT_EQ(r.records_checked, 0u);
  EXPECT_EQ(r.checkpoint_seq, 10u);
  auto sink = OpenSink(db_);
  ASSERT_NE(sink, nullptr);
  Append(*sink, 2);
  EXPECT_EQ(sink->last_seq(), 12u);
  sink->Close();
  EXPECT_TRUE(Check().ok);
}

TEST_F(VerifyTest, PruneWithNothingOldIsANoOp) {
  auto pruned = Prune(db_, kKey, At(0));
  ASSERT_TRUE(pruned.ok());
  EXPECT_EQ(pruned->pruned, 0u);
  EXPECT_EQ(Check().records_checked, 10u);
}

TEST_F(VerifyTest, TamperedCheckpointIsNamed) {
  ASSERT_TRUE(Prune(db_, kKey, At(4)).ok());
  Sql(db_, "UPDATE checkpoints SET seq = 3");
  ExpectBroken(3, BreakKind::kBadCheckpoint);
}

TEST_F(VerifyTest, CheckpointHashSwapIsNamed) {
  ASSERT_TRUE(Prune(db_, kKey, At(4)).ok());
  Sql(db_, "UPDATE checkpoints SET record_hash = (SELECT record_hash FROM records WHERE seq = 6)");
  ExpectBroken(4, BreakKind::kBadCheckpoint);
}

TEST_F(VerifyTest, DeletedCheckpointIsNamed) {
  ASSERT_TRUE(Prune(db_, kKey, At(4)).ok());
  Sql(db_, "DELETE FROM checkpoints");
  ExpectBroken(1, BreakKind::kMissing);
}

TEST_F(VerifyTest, PruneRefusesABrokenLog) {
  Sql(db_, "UPDATE records SET body = replace(body, 'gpt-test', 'gpt-evil') WHERE seq = 2");
  auto pruned = Prune(db_, kKey, At(5));
  ASSERT_FALSE(pruned.ok());
  EXPECT_EQ(pruned.status().code(), absl::StatusCode::kFailedPrecondition);
  ExpectBroken(2, BreakKind::kEdited);  // nothing was deleted
}

TEST_F(VerifyTest, QueryFiltersByPrincipalReasonAndTime) {
  auto seqs = [&](const QueryFilter& f) {
    std::vector<uint64_t> out;
    EXPECT_TRUE(Query(db_, f, [&](const Record& r, std::string_view) {
                  out.push_back(r.seq);
                  return true;
                }).ok());
    return out;
  };
  QueryFilter f;
  f.principal = "alice";  // odd sample indices: seq 2, 4, ...
  EXPECT_EQ(seqs(f), (std::vector<uint64_t>{2, 4, 6, 8, 10}));
  f = {};
  f.reason = "injection.blocked";  // sample indices 0, 3, 6, 9
  EXPECT_EQ(seqs(f), (std::vector<uint64_t>{1, 4, 7, 10}));
  f = {};
  f.since_us = At(2);
  f.until_us = At(5);
  EXPECT_EQ(seqs(f), (std::vector<uint64_t>{3, 4, 5}));
  f.limit = 2;
  EXPECT_EQ(seqs(f), (std::vector<uint64_t>{3, 4}));
}

}  // namespace
}  // namespace rampart::audit
