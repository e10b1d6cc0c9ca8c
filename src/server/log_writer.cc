#include "server/log_writer.h"

#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>

#include "common/strings.h"

namespace rampart::server {

LogWriter::LogWriter(int fd, size_t capacity_bytes)
    : fd_(fd), capacity_(capacity_bytes), thread_([this] { Run(); }) {}

LogWriter::~LogWriter() {
  Flush(2'000);
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  wake_.notify_one();
  thread_.join();
}

void LogWriter::Write(std::string_view line) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (queue_.size() + line.size() + 1 > capacity_) {
      ++dropped_;
      ++unreported_;
      return;
    }
    if (unreported_ > 0) {
      std::string note = StrCat(
          "{\"level\":\"warn\",\"event\":\"log_lines_dropped\",\"count\":", unreported_, "}\n");
      if (queue_.size() + note.size() + line.size() + 1 > capacity_) {
        ++dropped_;
        ++unreported_;
        return;
      }
      queue_ += note;
      queued_total_ += note.size();
      unreported_ = 0;
    }
    queue_.append(line);
    queue_ += '\n';
    queued_total_ += line.size() + 1;
  }
  wake_.notify_one();
}

bool LogWriter::Flush(uint64_t timeout_ms) {
  std::unique_lock<std::mutex> lock(mu_);
  const uint64_t target = queued_total_;
  return written_.wait_for(lock, std::chrono::milliseconds(timeout_ms),
                           [&] { return written_total_ >= target; });
}

uint64_t LogWriter::dropped() const {
  std::lock_guard<std::mutex> lock(mu_);
  return dropped_;
}

void LogWriter::Run() {
  std::string batch;
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    wake_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
    if (queue_.empty() && stopping_) return;
    batch.swap(queue_);
    lock.unlock();
    // Whole lines, in order; a descriptor that fails (closed, EPIPE) loses the batch rather
    // than spinning on it.
    size_t off = 0;
    while (off < batch.size()) {
      ssize_t n = ::write(fd_, batch.data() + off, batch.size() - off);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      off += static_cast<size_t>(n);
    }
    const size_t done = batch.size();
    batch.clear();
    lock.lock();
    written_total_ += done;
    written_.notify_all();
  }
}

LogWriter& ProcessLog() {
  // Never destroyed, so usable until the end; what is queued at exit() is written first.
  static LogWriter* log = [] {
    auto* l = new LogWriter(2);
    std::atexit([] { ProcessLog().Flush(2'000); });
    return l;
  }();
  return *log;
}

}  // namespace rampart::server
