#include "state/store.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <mutex>
#include <string>
#include <unordered_map>

namespace rampart::state {

namespace {
constexpr size_t kShards = 16;
constexpr size_t kSweepEvery = 4096;  // takes per shard between sweeps of idle buckets
}  // namespace

struct InProcessStore::Impl {
  struct Bucket {
    double tokens = 0;
    Clock::time_point last;
    double full_after_s = 0;  // seconds from `last` until the bucket is full again
  };
  struct Shard {
    std::mutex mu;
    std::unordered_map<std::string, Bucket> buckets;
    size_t takes = 0;
  };
  std::function<Clock::time_point()> now;
  std::array<Shard, kShards> shards;
};

InProcessStore::InProcessStore() : InProcessStore(nullptr) {}

InProcessStore::InProcessStore(std::function<Clock::time_point()> now) : impl_(new Impl) {
  impl_->now = now ? std::move(now) : [] { return Clock::now(); };
}
InProcessStore::~InProcessStore() = default;

absl::StatusOr<TakeResult> InProcessStore::Take(std::string_view key, double capacity,
                                                double refill_per_s, double cost) {
  if (!(capacity > 0) || !(refill_per_s > 0) || cost < 0) {
    return absl::InvalidArgumentError("bucket needs capacity > 0, refill > 0, cost >= 0");
  }
  Clock::time_point now = impl_->now();
  Impl::Shard& shard = impl_->shards[std::hash<std::string_view>()(key) % kShards];
  std::lock_guard<std::mutex> lock(shard.mu);
  if (++shard.takes % kSweepEvery == 0) {
    for (auto it = shard.buckets.begin(); it != shard.buckets.end();) {
      double idle = std::chrono::duration<double>(now - it->second.last).count();
      it = idle >= it->second.full_after_s ? shard.buckets.erase(it) : std::next(it);
    }
  }
  auto [it, inserted] = shard.buckets.try_emplace(std::string(key));
  Impl::Bucket& b = it->second;
  if (inserted) {
    b.tokens = capacity;
  } else {
    double elapsed = std::chrono::duration<double>(now - b.last).count();
    b.tokens = std::min(capacity, b.tokens + std::max(0.0, elapsed) * refill_per_s);
  }
  b.last = now;
  TakeResult r;
  if (cost <= b.tokens) {
    b.tokens -= cost;
    r.allowed = true;
  } else {
    double need = std::min(cost, capacity) - b.tokens;
    if (cost > capacity) need = capacity - b.tokens + (cost - capacity);
    r.retry_after_s = static_cast<uint32_t>(std::max(1.0, std::ceil(need / refill_per_s)));
  }
  b.full_after_s = (capacity - b.tokens) / refill_per_s;
  return r;
}

size_t InProcessStore::size() const {
  size_t n = 0;
  for (auto& s : impl_->shards) {
    std::lock_guard<std::mutex> lock(s.mu);
    n += s.buckets.size();
  }
  return n;
}

}  // namespace rampart::state
