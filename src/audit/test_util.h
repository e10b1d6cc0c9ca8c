// Helpers shared by the audit tests: temp directories, sample records, raw SQL edits.
#pragma once

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <string>

#include "audit/record.h"
#include "audit/sqlite_sink.h"

namespace rampart::audit::testing {

inline const std::string kKey = "0123456789abcdef-test-key-material";

// A directory removed when the object dies.
class TempDir {
 public:
  TempDir() {
    static std::atomic<int> counter{0};
    path_ = std::string(::testing::TempDir()) + "/rampart_audit_" + std::to_string(getpid()) + "_" +
            std::to_string(counter++);
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  std::string File(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

inline Record SampleRecord(int i) {
  Record r;
  r.time_us = 1'700'000'000'000'000 + int64_t{i} * 1'000'000;
  r.request_id = "req-" + std::to_string(i);
  r.principal = i % 2 ? "alice" : "bob";
  r.route = "/v1/chat/completions";
  r.model = "gpt-test";
  r.client_ip = "10.0.0." + std::to_string(i % 250);
  r.verdict = i % 3 == 0 ? "block" : "allow";
  r.reason = i % 3 == 0 ? "injection.blocked" : "";
  r.http_status = i % 3 == 0 ? 403 : 200;
  if (i % 3 == 0) {
    r.findings.push_back(AuditFinding{"rules.injection", "injection.override",
                                      Category::kPromptInjection, Severity::kHigh,
                                      "/messages/0/content", 3, 40});
  }
  r.latency_us = {{"total", 1200 + i}, {"upstream", 900}};
  r.request_bytes = 512;
  r.response_bytes = 1024;
  r.request_sha256 = std::string(64, 'a');
  r.response_sha256 = std::string(64, 'b');
  return r;
}

inline std::unique_ptr<SqliteSink> OpenSink(const std::string& path, size_t capacity = 4096) {
  SqliteSinkOptions o;
  o.path = path;
  o.key = kKey;
  o.queue_capacity = capacity;
  auto sink = SqliteSink::Open(o);
  EXPECT_TRUE(sink.ok()) << sink.status();
  return sink.ok() ? *std::move(sink) : nullptr;
}

// Appends `n` sample records (starting at sample index `first`) and waits for them.
inline void Append(SqliteSink& sink, int n, int first = 0) {
  for (int i = 0; i < n; ++i) {
    ASSERT_TRUE(sink.Submit(SampleRecord(first + i), nullptr).ok());
  }
  sink.Flush();
}

// Runs raw SQL against the file, as an attacker with write access would.
inline void Sql(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  char* err = nullptr;
  int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err);
  EXPECT_EQ(rc, SQLITE_OK) << (err ? err : "") << " in: " << sql;
  sqlite3_free(err);
  sqlite3_close(db);
}

inline void WriteFile(const std::string& path, const std::string& data, mode_t mode) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << data;
  ::chmod(path.c_str(), mode);
}

}  // namespace rampart::audit::testing
