// LogWriter: the gateway's structured log (one JSON line per event or exchange) written to a
// file descriptor, standard error by default, by a background thread, so that a slow or
// stopped log reader (a full pipe, a stalled terminal) never stalls an event loop.
//
// Lines wait in a bounded buffer. When it is full, new lines are dropped and counted; once
// there is room again a {"event":"log_lines_dropped"} line says how many were lost. The log
// is operational: the record of what passed is the audit log, which never drops (see
// docs/audit.md).
//
// Thread safety: every method may be called from any thread.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

namespace rampart::server {

class LogWriter {
 public:
  // Writes to `fd` (not owned). Default capacity: 4 MiB of queued lines.
  explicit LogWriter(int fd, size_t capacity_bytes = size_t{4} << 20);
  // Writes what is queued, waiting at most 2 s for a blocked reader, then stops.
  ~LogWriter();
  LogWriter(const LogWriter&) = delete;
  LogWriter& operator=(const LogWriter&) = delete;

  // Queues `line` plus a newline; never blocks on the descriptor.
  void Write(std::string_view line);
  // Waits until every line queued before the call is written, or `timeout_ms` passed.
  // Returns false on timeout.
  bool Flush(uint64_t timeout_ms);
  uint64_t dropped() const;

 private:
  void Run();

  const int fd_;
  const size_t capacity_;
  mutable std::mutex mu_;
  std::condition_variable wake_;     // the writer: lines queued or stopping
  std::condition_variable written_;  // Flush(): a batch went out
  std::string queue_;                // guarded by mu_
  uint64_t queued_total_ = 0;        // bytes ever queued (guarded)
  uint64_t written_total_ = 0;       // bytes of those written or given up on (guarded)
  uint64_t dropped_ = 0;             // lines dropped, ever (guarded)
  uint64_t unreported_ = 0;          // dropped lines not yet reported in the log (guarded)
  bool stopping_ = false;            // guarded
  std::thread thread_;
};

// The process's log on standard error, created on first use.
LogWriter& ProcessLog();

}  // namespace rampart::server
