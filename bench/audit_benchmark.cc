// Audit log throughput: records appended per second through SqliteSink (group commit), the
// same with one commit per record, with synchronous=FULL, verification speed, and the cost
// of encoding + hashing + signing one record. See docs/benchmarks.md.
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include "audit/chain.h"
#include "audit/record.h"
#include "audit/sqlite_sink.h"
#include "audit/verify.h"

namespace {

using namespace rampart::audit;

const std::string kKey = "benchmark-key-0123456789abcdef";

std::string TempDb(const std::string& name) {
  std::string dir = std::filesystem::temp_directory_path().string() + "/rampart_audit_bench_" +
                    std::to_string(getpid());
  std::filesystem::create_directories(dir);
  std::string path = dir + "/" + name;
  for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path + suffix);
  return path;
}

// A typical blocked exchange: two findings, four stage latencies, no redacted text.
Record TypicalRecord(int i) {
  Record r;
  r.time_us = 1'700'000'000'000'000 + i;
  r.request_id = "01HZX3T9Q4K7M2N8P5R6S0V1W" + std::to_string(i);
  r.principal = "team-analytics";
  r.route = "/v1/chat/completions";
  r.model = "gpt-4o-mini";
  r.client_ip = "203.0.113.17";
  r.verdict = "block";
  r.reason = "injection.blocked";
  r.http_status = 403;
  r.findings = {{"rules.injection", "injection.override", rampart::Category::kPromptInjection,
                 rampart::Severity::kHigh, "/messages/1/content", 120, 171},
                {"rules.pii", "pii.email", rampart::Category::kPii, rampart::Severity::kMedium,
                 "/messages/1/content", 300, 323}};
  r.latency_us = {{"auth", 4}, {"injection", 35}, {"pii", 18}, {"total", 80}};
  r.request_bytes = 2048;
  r.response_bytes = 0;
  r.request_sha256 = std::string(64, 'a');
  return r;
}

// Appends state.range(0) records per iteration and waits until all are durable.
void AppendBenchmark(benchmark::State& state, size_t max_batch, Durability durability) {
  SqliteSinkOptions o;
  o.path = TempDb("append.db");
  o.key = kKey;
  o.queue_capacity = 1 << 16;
  o.max_batch = max_batch;
  o.durability = durability;
  auto sink = SqliteSink::Open(o);
  if (!sink.ok()) {
    state.SkipWithError(sink.status().ToString().c_str());
    return;
  }
  const int n = static_cast<int>(state.range(0));
  int i = 0;
  for (auto _ : state) {
    for (int k = 0; k < n; ++k) {
      while (!(*sink)->Submit(TypicalRecord(i), nullptr).ok()) {
      }
      ++i;
    }
    (*sink)->Flush();
  }
  SinkStats s = (*sink)->Stats();
  state.counters["records_per_commit"] =
      s.batches ? static_cast<double>(s.written) / static_cast<double>(s.batches) : 0;
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * n);
  (*sink)->Close();
}

void BM_AuditAppendGroupCommit(benchmark::State& state) {
  AppendBenchmark(state, 512, Durability::kNormal);
}
BENCHMARK(BM_AuditAppendGroupCommit)->Arg(10000)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_AuditAppendCommitPerRecord(benchmark::State& state) {
  AppendBenchmark(state, 1, Durability::kNormal);
}
BENCHMARK(BM_AuditAppendCommitPerRecord)->Arg(2000)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_AuditAppendGroupCommitFull(benchmark::State& state) {
  AppendBenchmark(state, 512, Durability::kFull);
}
BENCHMARK(BM_AuditAppendGroupCommitFull)->Arg(10000)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_AuditVerify(benchmark::State& state) {
  std::string path = TempDb("verify.db");
  {
    SqliteSinkOptions o;
    o.path = path;
    o.key = kKey;
    o.queue_capacity = 1 << 17;
    auto sink = SqliteSink::Open(o);
    if (!sink.ok()) {
      state.SkipWithError(sink.status().ToString().c_str());
      return;
    }
    for (int i = 0; i < state.range(0); ++i) {
      while (!(*sink)->Submit(TypicalRecord(i), nullptr).ok()) {
      }
    }
    (*sink)->Close();
  }
  for (auto _ : state) {
    auto report = Verify(path, kKey);
    if (!report.ok() || !report->ok) state.SkipWithError("verify failed");
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * state.range(0));
}
BENCHMARK(BM_AuditVerify)->Arg(100000)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_EncodeHashSign(benchmark::State& state) {
  Record r = TypicalRecord(1);
  rampart::Sha256Digest prev = GenesisHash();
  for (auto _ : state) {
    ++r.seq;
    std::string body = EncodeRecord(r);
    prev = RecordHash(prev, body);
    benchmark::DoNotOptimize(RecordMac(kKey, prev));
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
BENCHMARK(BM_EncodeHashSign);

}  // namespace

BENCHMARK_MAIN();
