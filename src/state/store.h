// Store: shared mutable state behind one interface (quotas now; blocklists and monitors
// later). The in-process store is the default; a Redis store can implement the same interface
// so several replicas share quotas (DESIGN.md section 6).
//
// Thread safety: every method may be called concurrently.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace rampart::state {

struct TakeResult {
  bool allowed = false;
  // When refused: seconds until `cost` tokens will be available (at least 1).
  uint32_t retry_after_s = 0;
};

class Store {
 public:
  virtual ~Store() = default;
  // Token bucket `key` holding at most `capacity` tokens, refilled continuously at
  // `refill_per_s`, starting full. Takes `cost` tokens when that many are there.
  // A cost above capacity can never be granted: refused with the time to refill fully.
  virtual absl::StatusOr<TakeResult> Take(std::string_view key, double capacity,
                                          double refill_per_s, double cost) = 0;
  // Whether the store can serve now (for /readyz). In-process stores always can.
  virtual absl::Status Check() { return absl::OkStatus(); }
};

// Buckets in this process: sharded maps under mutexes; buckets idle long enough to be full
// again are dropped, so memory is bounded by the keys active in one refill period.
class InProcessStore : public Store {
 public:
  using Clock = std::chrono::steady_clock;
  InProcessStore();
  // `now` lets tests drive time.
  explicit InProcessStore(std::function<Clock::time_point()> now);
  ~InProcessStore() override;
  absl::StatusOr<TakeResult> Take(std::string_view key, double capacity, double refill_per_s,
                                  double cost) override;
  size_t size() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace rampart::state
