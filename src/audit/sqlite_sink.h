// SqliteSink: the default audit sink, a hash-chained SQLite file in WAL mode.
//
// One writer thread takes records from a bounded queue in batches and commits each batch in
// one transaction (group commit), assigning sequence numbers, chaining hashes and signing
// each record. A record is acknowledged (its DurableCallback gets the seq) only after its
// transaction committed. Opening an existing log continues its chain from the signed head,
// after checking the last record's hash and MAC; a log that fails that check, or was written
// with another key, is refused. Only one sink may write a log at a time (an flock on
// "<path>-writer.lock", released by the kernel if the process dies); readers, verify and
// prune may run beside it.
//
// Ownership: owns the SQLite connection and the writer thread; the destructor calls Close.
// Thread safety: Submit, Flush, Stats and Close may be called from any thread.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "audit/sink.h"

namespace rampart::audit {

// What Submit does when the queue is full.
enum class OnFull {
  kRefuse,  // return ResourceExhausted at once (the gateway refuses the request)
  kBlock,   // wait up to block_timeout for room, then ResourceExhausted
};

enum class Durability {
  // synchronous=NORMAL: a committed record survives the process being killed (kill -9,
  // crash); the last commits before a power loss or kernel crash may be lost.
  kNormal,
  // synchronous=FULL: every commit is fsynced; survives power loss, costs an fsync per batch.
  kFull,
};

struct SqliteSinkOptions {
  // Path of the SQLite file; created with its schema when missing. REQUIRES: not empty.
  std::string path;
  // The HMAC key (raw bytes, at least kMinKeyBytes). See LoadKeyFile. Never logged.
  std::string key;
  // Records waiting to be written. Default: 4096.
  size_t queue_capacity = 4096;
  // Default: kRefuse.
  OnFull on_full = OnFull::kRefuse;
  // How long Submit waits for room under kBlock. Default: 100 ms.
  std::chrono::milliseconds block_timeout{100};
  // Most records committed in one transaction. Default: 512.
  size_t max_batch = 512;
  // Default: kNormal.
  Durability durability = Durability::kNormal;
  // How long a commit waits for another process's lock (prune, a reader checkpointing the
  // WAL) before the batch fails. Default: 5000 ms.
  int busy_timeout_ms = 5000;
};

class SqliteSink : public AuditSink {
 public:
  // Opens (or creates) the log and starts the writer. Errors: InvalidArgument for bad
  // options or a file that is not an audit log, FailedPrecondition when the key does not
  // match the log or another sink has it open, DataLoss when the last record fails its hash
  // or MAC check.
  static absl::StatusOr<std::unique_ptr<SqliteSink>> Open(SqliteSinkOptions options);
  ~SqliteSink() override;

  absl::Status Submit(Record record, DurableCallback on_durable) override;
  void Flush() override;
  void Close() override;
  SinkStats Stats() const override;

  // Sequence number of the last committed record (0 for an empty log).
  uint64_t last_seq() const;

 private:
  struct Impl;
  explicit SqliteSink(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace rampart::audit
