#include "server/timed_socket.h"

namespace rampart::server {

DeadlineSweeper::~DeadlineSweeper() {
  // At shutdown the io_context (and the sessions' sockets in its pending handlers) may
  // outlive the sweeper: detach them so none of them reaches it.
  for (TimedSocket* s = head_; s != nullptr;) {
    TimedSocket* next = s->next_;
    s->prev_ = s->next_ = nullptr;
    s->sweeper_ = nullptr;
    s->armed_ = false;
    s = next;
  }
}

void DeadlineSweeper::Link(TimedSocket* s) {
  s->prev_ = nullptr;
  s->next_ = head_;
  if (head_ != nullptr) head_->prev_ = s;
  head_ = s;
}

void DeadlineSweeper::Unlink(TimedSocket* s) {
  if (s->prev_ != nullptr) {
    s->prev_->next_ = s->next_;
  } else if (head_ == s) {
    head_ = s->next_;
  }
  if (s->next_ != nullptr) s->next_->prev_ = s->prev_;
  s->prev_ = s->next_ = nullptr;
}

void DeadlineSweeper::Armed() {
  ++armed_;
  if (!running_) StartTimer();
}

void DeadlineSweeper::Disarmed() { --armed_; }

void DeadlineSweeper::StartTimer() {
  running_ = true;
  timer_.expires_after(kPeriod);
  timer_.async_wait([this](const boost::system::error_code& ec) {
    running_ = false;
    if (!ec) Sweep();
  });
}

void DeadlineSweeper::Sweep() {
  const Clock::time_point now = Clock::now();
  for (TimedSocket* s = head_; s != nullptr && armed_ > 0; s = s->next_) {
    if (s->armed_ && s->deadline_ <= now) {
      s->Fire();
      --armed_;
    }
  }
  if (armed_ > 0) StartTimer();  // sleeps (no timer) while no deadline is set
}

}  // namespace rampart::server
