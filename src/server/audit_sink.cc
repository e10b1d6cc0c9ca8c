#include "server/audit_sink.h"

#include <chrono>
#include <utility>

#include "audit/chain.h"
#include "audit/sqlite_sink.h"
#include "common/strings.h"

namespace rampart::server {

audit::Record ToAuditRecord(const pipeline::ExchangeRecord& r) {
  audit::Record a;
  a.time_us = r.start_unix_ms * 1000;
  a.request_id = r.request_id;
  a.principal = r.principal;
  a.route = r.route;
  a.model = r.model;
  a.client_ip = r.client_ip;
  a.verdict = std::string(ActionName(r.action));
  a.reason = r.reason;
  a.http_status = r.status;
  a.findings.reserve(r.findings.size());
  for (const auto& f : r.findings) a.findings.push_back(audit::FromFinding(f));
  a.latency_us["total"] = static_cast<int64_t>(r.duration_ms * 1000);
  for (const auto& s : r.stages) {
    a.latency_us[StrCat(s.stage, ".", s.phase)] += static_cast<int64_t>(s.latency_us);
  }
  a.request_bytes = r.request_bytes;
  a.response_bytes = r.response_bytes;
  a.request_sha256 = r.request_sha256;
  a.response_sha256 = r.response_sha256;
  a.redacted_prompt = r.redacted_prompt;
  a.redacted_response = r.redacted_response;
  return a;
}

AuditExchangeSink::AuditExchangeSink(std::shared_ptr<audit::AuditSink> sink, size_t queue_capacity,
                                     bool refuse_when_full)
    : sink_(std::move(sink)),
      queue_capacity_(queue_capacity),
      refuse_when_full_(refuse_when_full) {}

void AuditExchangeSink::Record(const pipeline::ExchangeRecord& record) {
  Submit(record, [](bool) {});
}

void AuditExchangeSink::Submit(const pipeline::ExchangeRecord& record,
                               std::function<void(bool durable)> done) {
  auto st = sink_->Submit(ToAuditRecord(record),
                          [done](absl::StatusOr<uint64_t> seq) { done(seq.ok()); });
  if (!st.ok()) done(false);
}

bool AuditExchangeSink::Accepting() const {
  if (!refuse_when_full_) return true;
  return sink_->Stats().queue_depth < queue_capacity_;
}

std::string AuditExchangeSink::MetricsText() const {
  audit::SinkStats s = sink_->Stats();
  auto counter = [](const char* name, const char* help, uint64_t v) {
    return StrCat("# HELP ", name, " ", help, "\n# TYPE ", name, " counter\n", name, " ", v, "\n");
  };
  auto gauge = [](const char* name, const char* help, uint64_t v) {
    return StrCat("# HELP ", name, " ", help, "\n# TYPE ", name, " gauge\n", name, " ", v, "\n");
  };
  return StrCat(
      gauge("rampart_audit_enabled", "1 when exchanges are audited", 1),
      counter("rampart_audit_queued_total", "Audit records accepted", s.queued),
      counter("rampart_audit_written_total", "Audit records committed", s.written),
      counter("rampart_audit_refused_total", "Audit records refused (queue full)", s.refused),
      counter("rampart_audit_failed_total", "Audit records whose write failed", s.failed),
      counter("rampart_audit_batches_total", "Audit commits", s.batches),
      gauge("rampart_audit_queue_depth", "Audit records waiting", s.queue_depth),
      gauge("rampart_audit_queue_capacity", "Audit queue capacity", queue_capacity_));
}

void AuditExchangeSink::Flush() { sink_->Flush(); }

absl::StatusOr<std::shared_ptr<AuditExchangeSink>> OpenAuditSink(
    const config::AuditStoreConfig& audit) {
  auto key = audit::LoadKeyFile(audit.key_file);
  if (!key.ok()) {
    return absl::Status(key.status().code(),
                        StrCat("stores.audit.key_file: ", key.status().message()));
  }
  audit::SqliteSinkOptions o;
  o.path = audit.path;
  o.key = std::move(*key);
  o.queue_capacity = audit.queue_capacity;
  o.on_full =
      audit.on_full == config::AuditOnFull::kBlock ? audit::OnFull::kBlock : audit::OnFull::kRefuse;
  o.block_timeout = std::chrono::milliseconds(audit.block_timeout_ms);
  o.durability = audit.durability == config::AuditDurability::kFull ? audit::Durability::kFull
                                                                    : audit::Durability::kNormal;
  auto sink = audit::SqliteSink::Open(std::move(o));
  if (!sink.ok()) {
    return absl::Status(sink.status().code(),
                        StrCat("stores.audit.path: ", sink.status().message()));
  }
  return std::make_shared<AuditExchangeSink>(std::shared_ptr<audit::AuditSink>(std::move(*sink)),
                                             audit.queue_capacity,
                                             audit.on_full == config::AuditOnFull::kRefuse);
}

}  // namespace rampart::server
