// AuditExchangeSink: the gateway's ExchangeSink that stores one audit::Record per exchange in
// an audit::AuditSink (the hash-chained SQLite log by default, docs/audit.md).
//
// ToAuditRecord keeps what the audit log may keep: ids, verdict, reason, findings as detector
// and rule ids with byte spans (never the matched text), latencies, sizes and SHA-256 digests.
// Submit calls back with `true` only after the sink reports the record committed; Accepting is
// false while a `refuse` queue is full, so the server refuses new exchanges instead of serving
// them unrecorded.
//
// Ownership: shares the AuditSink; Close() is the owner's job (after the server stopped).
// Thread safety: every method may be called from any thread.
#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "audit/record.h"
#include "audit/sink.h"
#include "config/config.h"
#include "pipeline/exchange_record.h"

namespace rampart::server {

// The auditable part of an exchange. Stage latencies are keyed "<stage>.<phase>" (summed when
// a stage runs twice in one phase) beside "total".
audit::Record ToAuditRecord(const pipeline::ExchangeRecord& r);

class AuditExchangeSink : public pipeline::ExchangeSink {
 public:
  // `queue_capacity` and `refuse_when_full` mirror the sink's own options (Accepting uses
  // them). REQUIRES: sink != nullptr.
  AuditExchangeSink(std::shared_ptr<audit::AuditSink> sink, size_t queue_capacity,
                    bool refuse_when_full);

  void Record(const pipeline::ExchangeRecord& record) override;
  void Submit(const pipeline::ExchangeRecord& record,
              std::function<void(bool durable)> done) override;
  bool Accepting() const override;
  std::string MetricsText() const override;
  void Flush() override;

  audit::AuditSink& sink() { return *sink_; }

 private:
  std::shared_ptr<audit::AuditSink> sink_;
  size_t queue_capacity_;
  bool refuse_when_full_;
};

// Opens the log that `stores.audit` names (loading its key file) and wraps it. Errors name the
// config field: `stores.audit.key_file: ...`, `stores.audit.path: ...`.
// REQUIRES: audit.enabled.
absl::StatusOr<std::shared_ptr<AuditExchangeSink>> OpenAuditSink(
    const config::AuditStoreConfig& audit);

}  // namespace rampart::server
