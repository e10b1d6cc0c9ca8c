// RedisStore: the Store interface on a Redis server, so several gateway replicas share token
// buckets (rate limits, quotas). DESIGN.md section 6; docs/gateway.md "Shared state".
//
// Each Take is one round trip: a Lua script run atomically by Redis (EVALSHA, falling back to
// EVAL when the server answers NOSCRIPT) reads the bucket, refills it using the Redis
// server's own clock (TIME inside the script, so replicas with skewed clocks agree), takes
// the tokens and sets a TTL so idle buckets expire once they would be full again. Keys are
// `<prefix><key>` (default prefix "rampart:").
//
// Connections: blocking hiredis contexts in a small pool; a caller takes an idle one or opens
// a new one (connect timeout), runs its command (command timeout) and gives it back. A pooled
// connection the server closed while idle is replaced once, transparently. Any other failed
// connection is dropped together with the idle ones; new connections are then tried no
// sooner than an exponential backoff (50 ms doubling to 2 s) allows, and in between Take
// fails fast. Every failure is an error Status (the pipeline runner's on_error policy decides
// what the request gets) and is counted in the optional error counter.
//
// Thread safety: every method may be called concurrently.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "state/store.h"

namespace rampart::state {

// `redis://[:password@]host[:port][/db]` or `unix:///path/to/socket[?db=N]`.
struct RedisUrl {
  std::string host;       // TCP host (empty for a unix socket)
  uint16_t port = 6379;   // Default: 6379
  std::string unix_path;  // unix socket path (empty for TCP)
  std::string username;   // AUTH user password (Redis 6 ACL) when not empty
  std::string password;   // AUTH when not empty
  uint32_t db = 0;        // SELECT when not 0
};
absl::StatusOr<RedisUrl> ParseRedisUrl(std::string_view url);

struct RedisStoreOptions {
  RedisUrl url;
  std::string prefix = "rampart:";
  uint32_t connect_timeout_ms = 200;
  uint32_t command_timeout_ms = 50;
  size_t max_idle_connections = 32;
  // Incremented once per Take that returns an error (not by Check); may be null.
  std::atomic<uint64_t>* errors = nullptr;
};

class RedisStore : public Store {
 public:
  // Does not connect: the first Take (or Check) does.
  explicit RedisStore(RedisStoreOptions options);
  ~RedisStore() override;
  RedisStore(const RedisStore&) = delete;
  RedisStore& operator=(const RedisStore&) = delete;

  absl::StatusOr<TakeResult> Take(std::string_view key, double capacity, double refill_per_s,
                                  double cost) override;
  // PING on a pooled connection (opening one if needed, within the backoff).
  absl::Status Check() override;

  // The Lua script and its SHA-1 (hex), for tests.
  static std::string_view Script();
  const std::string& script_sha() const;

 private:
  absl::StatusOr<TakeResult> TakeOnce(std::string_view key, double capacity, double refill_per_s,
                                      double cost);
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace rampart::state
