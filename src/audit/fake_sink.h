// FakeSink: an in-memory AuditSink for tests of code that submits records (the gateway's
// pipeline). It acknowledges at once, keeps what it was given, and refuses or fails on cue,
// so the "audit queue full" and "audit write failed" paths can be tested without SQLite.
//
// Thread safety: every method may be called from any thread.
#pragma once

#include <mutex>
#include <utility>
#include <vector>

#include "audit/sink.h"

namespace rampart::audit {

class FakeSink : public AuditSink {
 public:
  // While set, Submit returns ResourceExhausted (and counts a refusal), as a full queue does.
  void set_full(bool full) {
    std::lock_guard lock(mu_);
    full_ = full;
  }
  // While not OK, accepted records are "written" with this error passed to their callback.
  void set_write_error(absl::Status error) {
    std::lock_guard lock(mu_);
    write_error_ = std::move(error);
  }

  absl::Status Submit(Record record, DurableCallback on_durable) override {
    absl::StatusOr<uint64_t> result;
    {
      std::lock_guard lock(mu_);
      if (closed_) return absl::FailedPreconditionError("audit sink is closed");
      if (full_) {
        ++stats_.refused;
        return absl::ResourceExhaustedError("audit queue is full");
      }
      ++stats_.queued;
      if (write_error_.ok()) {
        record.seq = ++last_seq_;
        records_.push_back(std::move(record));
        ++stats_.written;
        ++stats_.batches;
        result = last_seq_;
      } else {
        ++stats_.failed;
        result = write_error_;
      }
    }
    if (on_durable) on_durable(std::move(result));
    return absl::OkStatus();
  }

  void Flush() override {}
  void Close() override {
    std::lock_guard lock(mu_);
    closed_ = true;
  }
  SinkStats Stats() const override {
    std::lock_guard lock(mu_);
    return stats_;
  }

  // The records written so far, with their seqs.
  std::vector<Record> records() const {
    std::lock_guard lock(mu_);
    return records_;
  }

 private:
  mutable std::mutex mu_;
  bool full_ = false;
  bool closed_ = false;
  absl::Status write_error_;
  uint64_t last_seq_ = 0;
  std::vector<Record> records_;
  SinkStats stats_;
};

}  // namespace rampart::audit
