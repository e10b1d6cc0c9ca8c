// Runs the real `rampart audit` subcommands against logs written by the real SqliteSink.
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "audit/sqlite_sink.h"
#include "run_rampart.h"

namespace {

using rampart::testing::RunRampart;

constexpr char kKey[] = "cli-test-key-0123456789abcdef";

int64_t NowUs() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::vector<std::string> Lines(const std::string& s) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos < s.size()) {
    size_t nl = s.find('\n', pos);
    if (nl == std::string::npos) nl = s.size();
    out.push_back(s.substr(pos, nl - pos));
    pos = nl + 1;
  }
  return out;
}

class AuditCli : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::string(::testing::TempDir()) + "/rampart_audit_cli_" + std::to_string(getpid()) +
           "_" + ::testing::UnitTest::GetInstance()->current_test_info()->name();
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    db_ = dir_ + "/audit.db";
    key_ = dir_ + "/audit.key";
    std::ofstream(key_) << kKey << "\n";
    ::chmod(key_.c_str(), 0600);
    rampart::audit::SqliteSinkOptions o;
    o.path = db_;
    o.key = kKey;
    auto sink = rampart::audit::SqliteSink::Open(o);
    ASSERT_TRUE(sink.ok()) << sink.status();
    // Records 1-3 are 40 days old, 4-6 are recent; the even seqs are alice's and blocked.
    int64_t now = NowUs();
    for (int i = 0; i < 6; ++i) {
      rampart::audit::Record r;
      r.time_us = (i < 3 ? now - int64_t{40} * 86'400'000'000 : now) + i;
      r.request_id = "req-" + std::to_string(i);
      r.principal = i % 2 ? "alice" : "bob";
      r.route = "/v1/chat/completions";
      r.verdict = i % 2 ? "block" : "allow";
      r.reason = i % 2 ? "injection.blocked" : "";
      r.http_status = i % 2 ? 403 : 200;
      ASSERT_TRUE((*sink)->Submit(std::move(r), nullptr).ok());
    }
    (*sink)->Close();
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  void Sql(const std::string& sql) {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(db_.c_str(), &db), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr), SQLITE_OK);
    sqlite3_close(db);
  }

  std::string Flags() const { return "--db " + db_ + " --key-file " + key_; }

  std::string dir_, db_, key_;
};

TEST_F(AuditCli, VerifyExitsZeroOnAnIntactLog) {
  auto r = RunRampart("audit verify " + Flags());
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_NE(r.out.find("OK, 6 records checked (seq 1..6)"), std::string::npos) << r.out;
  r = RunRampart("audit verify --json " + Flags());
  EXPECT_EQ(r.exit_code, 0);
  auto doc = boost::json::parse(r.out).as_object();
  EXPECT_TRUE(doc["ok"].as_bool());
  EXPECT_EQ(doc["records_checked"].as_int64(), 6);
}

TEST_F(AuditCli, VerifyNamesTheFirstBrokenRecordAndExitsOne) {
  Sql("UPDATE records SET body = replace(body, 'req-4', 'req-X') WHERE seq = 5");
  Sql("DELETE FROM records WHERE seq = 3");
  auto r = RunRampart("audit verify --json " + Flags());
  EXPECT_EQ(r.exit_code, 1) << r.out;
  auto doc = boost::json::parse(r.out).as_object();
  EXPECT_FALSE(doc["ok"].as_bool());
  EXPECT_EQ(doc["broken_seq"].as_int64(), 3);
  EXPECT_EQ(doc["kind"].as_string(), "missing");
  r = RunRampart("audit verify " + Flags());
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.out.find("BROKEN at seq 3 (missing)"), std::string::npos) << r.out;
}

TEST_F(AuditCli, VerifyRefusesAWorldReadableKeyFile) {
  ::chmod(key_.c_str(), 0644);
  auto r = RunRampart("audit verify " + Flags(), /*with_stderr=*/true);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.out.find("chmod 600"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find(kKey), std::string::npos);
}

TEST_F(AuditCli, InputErrorsExitTwo) {
  EXPECT_EQ(RunRampart("audit verify --db " + dir_ + "/none.db --key-file " + key_).exit_code, 2);
  EXPECT_EQ(RunRampart("audit verify --db " + db_).exit_code, 2);  // no key
  std::ofstream(dir_ + "/other.key") << "another-key-of-good-length\n";
  ::chmod((dir_ + "/other.key").c_str(), 0600);
  auto r = RunRampart("audit verify --db " + db_ + " --key-file " + dir_ + "/other.key", true);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.out.find("key does not match"), std::string::npos) << r.out;
  EXPECT_EQ(RunRampart("audit query --db " + db_ + " --since yesterday").exit_code, 2);
  EXPECT_EQ(RunRampart("audit query --db " + dir_ + "/none.db").exit_code, 2);
}

TEST_F(AuditCli, QueryFiltersByPrincipalReasonAndTime) {
  auto r = RunRampart("audit query --json --db " + db_ + " --principal alice");
  EXPECT_EQ(r.exit_code, 0);
  auto lines = Lines(r.out);
  ASSERT_EQ(lines.size(), 3u) << r.out;
  for (const auto& l : lines) {
    EXPECT_EQ(boost::json::parse(l).as_object()["principal"].as_string(), "alice");
  }
  r = RunRampart("audit query --json --db " + db_ + " --reason '' --since 1d");
  ASSERT_EQ(Lines(r.out).size(), 1u) << r.out;  // the one recent, allowed exchange
  EXPECT_EQ(boost::json::parse(Lines(r.out)[0]).as_object()["seq"].as_int64(), 5);
  r = RunRampart("audit query --db " + db_ + " --reason injection.blocked --limit 2");
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find("2 records"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("injection.blocked"), std::string::npos);
  r = RunRampart("audit query --json --db " + db_ + " --until 2000-01-01");
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_TRUE(r.out.empty()) << r.out;
}

TEST_F(AuditCli, QueryEscapesTerminalControlsInStoredStrings) {
  rampart::audit::SqliteSinkOptions o;
  o.path = db_;
  o.key = kKey;
  auto sink = rampart::audit::SqliteSink::Open(o);
  ASSERT_TRUE(sink.ok());
  rampart::audit::Record rec;
  rec.principal = "evil\x1b[2J";
  ASSERT_TRUE((*sink)->Submit(rec, nullptr).ok());
  (*sink)->Close();
  auto r = RunRampart("audit query --db " + db_ + " --limit 10");
  EXPECT_EQ(r.out.find('\x1b'), std::string::npos);
  EXPECT_NE(r.out.find("evil\\x1b[2J"), std::string::npos) << r.out;
}

TEST_F(AuditCli, ExportWritesOneCanonicalRecordPerLine) {
  auto r = RunRampart("audit export --db " + db_);
  EXPECT_EQ(r.exit_code, 0);
  auto lines = Lines(r.out);
  ASSERT_EQ(lines.size(), 6u);
  for (size_t i = 0; i < lines.size(); ++i) {
    auto doc = boost::json::parse(lines[i]).as_object();
    EXPECT_EQ(doc["seq"].as_int64(), static_cast<int64_t>(i + 1));
    EXPECT_EQ(doc["v"].as_int64(), 1);
  }
  EXPECT_EQ(Lines(RunRampart("audit export --db " + db_ + " --since 7d").out).size(), 3u);
}

TEST_F(AuditCli, PruneKeepsTheLogVerifiable) {
  auto r = RunRampart("audit prune " + Flags() + " --older-than 30d");
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_NE(r.out.find("pruned 3 records; signed checkpoint at seq 3"), std::string::npos) << r.out;
  r = RunRampart("audit verify --json " + Flags());
  EXPECT_EQ(r.exit_code, 0) << r.out;
  auto doc = boost::json::parse(r.out).as_object();
  EXPECT_EQ(doc["checkpoint_seq"].as_int64(), 3);
  EXPECT_EQ(doc["records_checked"].as_int64(), 3);
  EXPECT_EQ(RunRampart("audit prune " + Flags() + " --older-than 30x").exit_code, 2);
  Sql("UPDATE checkpoints SET created_us = created_us + 1");
  EXPECT_EQ(RunRampart("audit verify " + Flags()).exit_code, 1);
  EXPECT_EQ(RunRampart("audit prune " + Flags() + " --older-than 1s").exit_code, 2);
}

}  // namespace
