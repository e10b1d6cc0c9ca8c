#include "audit/sqlite_sink.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>
#include <vector>

#include "audit/query.h"
#include "audit/test_util.h"
#include "audit/verify.h"

namespace rampart::audit {
namespace {

using testing::Append;
using testing::kKey;
using testing::OpenSink;
using testing::SampleRecord;
using testing::Sql;
using testing::TempDir;

TEST(SqliteSink, AcknowledgesEachRecordWithIncreasingSeq) {
  TempDir dir;
  auto sink = OpenSink(dir.File("a.db"));
  std::mutex mu;
  std::vector<uint64_t> seqs;
  for (int i = 0; i < 100; ++i) {
    ASSERT_TRUE(sink->Submit(SampleRecord(i),
                             [&](absl::StatusOr<uint64_t> seq) {
                               ASSERT_TRUE(seq.ok());
                               std::lock_guard lock(mu);
                               seqs.push_back(*seq);
                             })
                    .ok());
  }
  sink->Flush();
  ASSERT_EQ(seqs.size(), 100u);
  for (size_t i = 0; i < seqs.size(); ++i) EXPECT_EQ(seqs[i], i + 1);
  SinkStats s = sink->Stats();
  EXPECT_EQ(s.queued, 100u);
  EXPECT_EQ(s.written, 100u);
  EXPECT_EQ(s.refused, 0u);
  EXPECT_EQ(s.failed, 0u);
  EXPECT_EQ(s.queue_depth, 0u);
  EXPECT_GE(s.batches, 1u);
  EXPECT_LE(s.batches, 100u);
  EXPECT_EQ(sink->last_seq(), 100u);
}

TEST(SqliteSink, CreatesAPrivateFile) {
  TempDir dir;
  std::string db = dir.File("a.db");
  auto sink = OpenSink(db);
  Append(*sink, 1);
  struct stat st;
  ASSERT_EQ(::stat(db.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_EQ(::stat((db + "-wal").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0077, 0u);
}

TEST(SqliteSink, StoresTheRecordItWasGiven) {
  TempDir dir;
  std::string db = dir.File("a.db");
  auto sink = OpenSink(db);
  Append(*sink, 3);
  sink->Close();
  std::vector<Record> got;
  ASSERT_TRUE(Query(db, {}, [&](const Record& r, std::string_view) {
                got.push_back(r);
                return true;
              }).ok());
  ASSERT_EQ(got.size(), 3u);
  Record want = SampleRecord(0);
  want.seq = 1;
  EXPECT_EQ(got[0], want);
}

TEST(SqliteSink, ReopeningContinuesTheChain) {
  TempDir dir;
  std::string db = dir.File("a.db");
  {
    auto sink = OpenSink(db);
    Append(*sink, 10);
  }
  {
    auto sink = OpenSink(db);
    ASSERT_NE(sink, nullptr);
    EXPECT_EQ(sink->last_seq(), 10u);
    Append(*sink, 5, 10);
    EXPECT_EQ(sink->last_seq(), 15u);
  }
  auto report = Verify(db, kKey);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_TRUE(report->ok) << report->detail;
  EXPECT_EQ(report->records_checked, 15u);
}

TEST(SqliteSink, RefusesToOpenWithAnotherKey) {
  TempDir dir;
  std::string db = dir.File("a.db");
  { Append(*OpenSink(db), 2); }
  SqliteSinkOptions o;
  o.path = db;
  o.key = "another-key-of-enough-length";
  auto sink = SqliteSink::Open(o);
  ASSERT_FALSE(sink.ok());
  EXPECT_EQ(sink.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(sink.status().message().find("another-key"), absl::string_view::npos);
}

TEST(SqliteSink, RefusesToOpenWhenTheTailRecordWasTamperedWith) {
  TempDir dir;
  std::string db = dir.File("a.db");
  { Append(*OpenSink(db), 4); }
  Sql(db, "UPDATE records SET body = replace(body, 'gpt-test', 'gpt-evil') WHERE seq = 4");
  SqliteSinkOptions o;
  o.path = db;
  o.key = kKey;
  auto sink = SqliteSink::Open(o);
  ASSERT_FALSE(sink.ok());
  EXPECT_EQ(sink.status().code(), absl::StatusCode::kDataLoss);
}

TEST(SqliteSink, OnlyOneSinkWritesALogAtATime) {
  TempDir dir;
  std::string db = dir.File("a.db");
  auto first = OpenSink(db);
  SqliteSinkOptions o;
  o.path = db;
  o.key = kKey;
  auto second = SqliteSink::Open(o);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), absl::StatusCode::kFailedPrecondition);
  first->Close();
  second = SqliteSink::Open(o);
  ASSERT_TRUE(second.ok()) << second.status();
}

TEST(SqliteSink, RejectsBadOptions) {
  SqliteSinkOptions o;
  EXPECT_EQ(SqliteSink::Open(o).status().code(), absl::StatusCode::kInvalidArgument);
  o.path = "/nonexistent-dir/a.db";
  o.key = "short";
  EXPECT_EQ(SqliteSink::Open(o).status().code(), absl::StatusCode::kInvalidArgument);
}

// Holds SQLite's write lock from another connection so the writer stalls on its first batch.
class WriteLock {
 public:
  explicit WriteLock(const std::string& path) {
    sqlite3_open(path.c_str(), &db_);
    EXPECT_EQ(sqlite3_exec(db_, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr), SQLITE_OK);
  }
  void Release() {
    if (db_ == nullptr) return;
    sqlite3_exec(db_, "COMMIT", nullptr, nullptr, nullptr);
    sqlite3_close(db_);
    db_ = nullptr;
  }
  ~WriteLock() { Release(); }

 private:
  sqlite3* db_ = nullptr;
};

TEST(SqliteSink, FullQueueRefusesAndCountsUnderTheDefaultPolicy) {
  TempDir dir;
  std::string db = dir.File("a.db");
  SqliteSinkOptions o;
  o.path = db;
  o.key = kKey;
  o.queue_capacity = 2;
  o.max_batch = 1;
  auto sink = SqliteSink::Open(o);
  ASSERT_TRUE(sink.ok());
  WriteLock lock(db);
  int accepted = 0, refused = 0;
  std::atomic<int> durable{0};
  for (int i = 0; i < 10; ++i) {
    absl::Status st = (*sink)->Submit(SampleRecord(i), [&](absl::StatusOr<uint64_t> seq) {
      if (seq.ok()) ++durable;
    });
    if (st.ok()) {
      ++accepted;
    } else {
      EXPECT_EQ(st.code(), absl::StatusCode::kResourceExhausted);
      ++refused;
    }
  }
  // The writer holds at most one record (max_batch) while it waits for the lock.
  EXPECT_GE(accepted, 2);
  EXPECT_LE(accepted, 3);
  EXPECT_EQ((*sink)->Stats().refused, static_cast<uint64_t>(refused));
  EXPECT_EQ((*sink)->Stats().queued, static_cast<uint64_t>(accepted));
  lock.Release();
  (*sink)->Flush();
  EXPECT_EQ(durable.load(), accepted);
  EXPECT_EQ((*sink)->Stats().written, static_cast<uint64_t>(accepted));
  (*sink)->Close();
  auto report = Verify(db, kKey);
  ASSERT_TRUE(report.ok());
  EXPECT_TRUE(report->ok);
  EXPECT_EQ(report->records_checked, static_cast<uint64_t>(accepted));
}

TEST(SqliteSink, BlockPolicyWaitsThenGivesUp) {
  TempDir dir;
  std::string db = dir.File("a.db");
  SqliteSinkOptions o;
  o.path = db;
  o.key = kKey;
  o.queue_capacity = 1;
  o.max_batch = 1;
  o.on_full = OnFull::kBlock;
  o.block_timeout = std::chrono::milliseconds(30);
  auto sink = SqliteSink::Open(o);
  ASSERT_TRUE(sink.ok());
  WriteLock lock(db);
  absl::Status last;
  for (int i = 0; i < 4 && last.ok(); ++i) last = (*sink)->Submit(SampleRecord(i), nullptr);
  EXPECT_EQ(last.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ((*sink)->Stats().refused, 1u);
  lock.Release();
  (*sink)->Close();
  EXPECT_EQ((*sink)->Stats().failed, 0u);
}

TEST(SqliteSink, BlockPolicyResumesWhenRoomFrees) {
  TempDir dir;
  std::string db = dir.File("a.db");
  SqliteSinkOptions o;
  o.path = db;
  o.key = kKey;
  o.queue_capacity = 1;
  o.max_batch = 1;
  o.on_full = OnFull::kBlock;
  o.block_timeout = std::chrono::milliseconds(10000);
  auto sink = SqliteSink::Open(o);
  ASSERT_TRUE(sink.ok());
  WriteLock lock(db);
  std::vector<absl::Status> results(4);
  std::thread submitter([&] {
    for (size_t i = 0; i < results.size(); ++i) {
      results[i] = (*sink)->Submit(SampleRecord(static_cast<int>(i)), nullptr);
    }
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  lock.Release();
  submitter.join();
  for (const auto& st : results) EXPECT_TRUE(st.ok()) << st;
  (*sink)->Close();
  EXPECT_EQ((*sink)->Stats().written, 4u);
  EXPECT_EQ((*sink)->Stats().refused, 0u);
}

TEST(SqliteSink, FailedCommitReportsErrorsAndKeepsTheChainWhole) {
  TempDir dir;
  std::string db = dir.File("a.db");
  SqliteSinkOptions o;
  o.path = db;
  o.key = kKey;
  o.busy_timeout_ms = 10;
  auto sink = SqliteSink::Open(o);
  ASSERT_TRUE(sink.ok());
  Append(**sink, 2);
  absl::Status got;
  {
    WriteLock lock(db);
    ASSERT_TRUE(
        (*sink)
            ->Submit(SampleRecord(5), [&](absl::StatusOr<uint64_t> seq) { got = seq.status(); })
            .ok());
    (*sink)->Flush();
  }
  EXPECT_EQ(got.code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ((*sink)->Stats().failed, 1u);
  Append(**sink, 2, 10);
  EXPECT_EQ((*sink)->last_seq(), 4u);
  (*sink)->Close();
  auto report = Verify(db, kKey);
  ASSERT_TRUE(report.ok());
  EXPECT_TRUE(report->ok) << report->detail;
}

TEST(SqliteSink, SubmitAfterCloseFails) {
  TempDir dir;
  auto sink = OpenSink(dir.File("a.db"));
  sink->Close();
  sink->Close();
  EXPECT_EQ(sink->Submit(SampleRecord(0), nullptr).code(), absl::StatusCode::kFailedPrecondition);
}

TEST(SqliteSink, CloseDrainsTheQueue) {
  TempDir dir;
  std::string db = dir.File("a.db");
  auto sink = OpenSink(db);
  std::atomic<int> durable{0};
  for (int i = 0; i < 500; ++i) {
    ASSERT_TRUE(
        sink->Submit(SampleRecord(i), [&](absl::StatusOr<uint64_t> s) { durable += s.ok(); }).ok());
  }
  sink->Close();
  EXPECT_EQ(durable.load(), 500);
  EXPECT_EQ(Verify(db, kKey)->records_checked, 500u);
}

// An acknowledged record survives kill -9 of the writing process.
TEST(SqliteSink, AcknowledgedRecordsSurviveKill9) {
  TempDir dir;
  std::string db = dir.File("crash.db");
  std::string key_file = dir.File("key");
  testing::WriteFile(key_file, kKey, 0600);
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    dup2(fds[1], 1);
    close(fds[0]);
    close(fds[1]);
    execl(AUDIT_CRASH_HELPER, AUDIT_CRASH_HELPER, db.c_str(), key_file.c_str(), nullptr);
    _exit(127);
  }
  close(fds[1]);
  std::string out;
  char buf[4096];
  size_t lines = 0;
  bool killed = false;
  ssize_t n;
  while ((n = read(fds[0], buf, sizeof buf)) > 0) {
    out.append(buf, static_cast<size_t>(n));
    lines += static_cast<size_t>(std::count(buf, buf + n, '\n'));
    if (!killed && lines >= 2000) {
      kill(pid, SIGKILL);
      killed = true;
    }
  }
  close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  ASSERT_TRUE(killed) << "helper exited early: " << out.substr(0, 200);
  ASSERT_TRUE(WIFSIGNALED(status));

  std::set<uint64_t> printed;
  std::istringstream in(out.substr(0, out.rfind('\n') + 1));
  for (std::string line; std::getline(in, line);) printed.insert(std::stoull(line));
  ASSERT_GE(printed.size(), 2000u);

  auto report = Verify(db, kKey);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_TRUE(report->ok) << report->detail;
  std::set<uint64_t> stored;
  ASSERT_TRUE(Query(db, {}, [&](const Record& r, std::string_view) {
                stored.insert(r.seq);
                return true;
              }).ok());
  for (uint64_t seq : printed) ASSERT_TRUE(stored.count(seq)) << "acknowledged seq " << seq;
  EXPECT_GE(report->last_seq, *printed.rbegin());

  // The log is usable after the crash: a new sink continues the chain.
  auto sink = OpenSink(db);
  ASSERT_NE(sink, nullptr);
  Append(*sink, 3);
  sink->Close();
  EXPECT_TRUE(Verify(db, kKey)->ok);
}

}  // namespace
}  // namespace rampart::audit
