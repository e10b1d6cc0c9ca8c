// AuditSink: where the gateway sends one Record per exchange.
//
// Submit never blocks the request path for I/O: it queues the record and returns at once
// (or, under the `block` overflow policy, waits at most a configured time for room). The
// callback runs once the record is durable, or failed, on the sink's writer thread; it must
// be quick and must not call back into the sink.
//
// Thread safety: every method may be called from any thread.
#pragma once

#include <cstdint>
#include <functional>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "audit/record.h"

namespace rampart::audit {

// Called with the record's sequence number once it is committed (durable against a crash of
// the process), or with the error that kept it from being written.
using DurableCallback = std::function<void(absl::StatusOr<uint64_t> seq)>;

// Counters for the metrics endpoint (rampart_audit_*), read without locking.
struct SinkStats {
  uint64_t queued = 0;       // records accepted by Submit
  uint64_t written = 0;      // records committed
  uint64_t refused = 0;      // Submit calls refused because the queue was full
  uint64_t failed = 0;       // records whose write failed (callback got an error)
  uint64_t batches = 0;      // commits (group commit: many records per commit)
  uint64_t queue_depth = 0;  // records waiting now
};

class AuditSink {
 public:
  virtual ~AuditSink() = default;

  // Queues `record` (its seq is assigned by the sink). Returns OK when queued: `on_durable`
  // will be called exactly once. ResourceExhausted when the queue is full (the caller should
  // refuse the exchange: the default policy loses no records), FailedPrecondition after
  // Close. `on_durable` is not called when Submit returns an error.
  virtual absl::Status Submit(Record record, DurableCallback on_durable) = 0;

  // Waits until every record queued before the call is written (or failed).
  virtual void Flush() = 0;

  // Drains the queue, stops the writer and closes the store. Later Submits fail. Idempotent.
  virtual void Close() = 0;

  virtual SinkStats Stats() const = 0;
};

}  // namespace rampart::audit
