#include "state/redis_store.h"

#include <hiredis/hiredis.h>
#include <openssl/evp.h>
#include <sys/time.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <mutex>
#include <vector>

#include "common/crypto.h"
#include "common/strings.h"

namespace rampart::state {

namespace {

using SteadyClock = std::chrono::steady_clock;

constexpr size_t kMaxUrlBytes = 2048;
constexpr uint32_t kMaxDb = 1'000'000;
constexpr size_t kMaxErrorBytes = 200;  // of a Redis error message quoted in a Status
constexpr auto kBackoffMin = std::chrono::milliseconds(50);
constexpr auto kBackoffMax = std::chrono::milliseconds(2000);

// KEYS[1]: the bucket; ARGV: capacity, refill per second, cost. Returns {allowed, retry_s}.
// The bucket is a hash {tokens, s, us}: tokens left and the Redis TIME of the last take.
// Same arithmetic as InProcessStore::Take.
constexpr std::string_view kScript = R"lua(
if redis.replicate_commands then redis.replicate_commands() end
local cap = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
if cap == nil or rate == nil or cost == nil or cap <= 0 or rate <= 0 or cost < 0 then
  return redis.error_reply('ERR rampart bucket: bad arguments')
end
local now = redis.call('TIME')
local b = redis.call('HMGET', KEYS[1], 'tokens', 's', 'us')
local tokens = tonumber(b[1])
local s = tonumber(b[2])
local us = tonumber(b[3])
if tokens == nil or s == nil or us == nil then
  tokens = cap
else
  local elapsed = (tonumber(now[1]) - s) + (tonumber(now[2]) - us) / 1000000
  if elapsed < 0 then elapsed = 0 end
  tokens = math.min(cap, tokens + elapsed * rate)
end
local allowed = 0
local retry = 0
if cost <= tokens then
  tokens = tokens - cost
  allowed = 1
else
  retry = math.min(4294967295, math.max(1, math.ceil((cost - tokens) / rate)))
end
local ttl = math.min(1000000000, math.ceil((cap - tokens) / rate) + 1)
redis.call('HSET', KEYS[1], 'tokens', string.format('%.17g', tokens), 's', now[1], 'us', now[2])
redis.call('EXPIRE', KEYS[1], string.format('%d', ttl))
return {allowed, retry}
)lua";

std::string Sha1Hex(std::string_view data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  if (EVP_Digest(data.data(), data.size(), md, &n, EVP_sha1(), nullptr) != 1) return "";
  return ToHex(md, n);
}

timeval ToTimeval(uint32_t ms) {
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(ms / 1000);
  tv.tv_usec = static_cast<suseconds_t>((ms % 1000) * 1000);
  return tv;
}

std::string FormatDouble(double v) {
  char buf[64];
  int n = std::snprintf(buf, sizeof buf, "%.17g", v);
  return std::string(buf, n > 0 ? static_cast<size_t>(n) : 0);
}

bool ParseUint(std::string_view s, uint64_t max, uint64_t* out) {
  if (s.empty() || s.size() > 20) return false;
  uint64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || v > max) return false;
  *out = v;
  return true;
}

// %XX decoding of the user and password parts of a URL.
bool PercentDecode(std::string_view in, std::string* out) {
  out->clear();
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '%') {
      out->push_back(in[i]);
      continue;
    }
    if (i + 2 >= in.size()) return false;
    uint8_t v = 0;
    auto [p, ec] = std::from_chars(in.data() + i + 1, in.data() + i + 3, v, 16);
    if (ec != std::errc() || p != in.data() + i + 3) return false;
    out->push_back(static_cast<char>(v));
    i += 2;
  }
  return true;
}

struct FreeContext {
  void operator()(redisContext* c) const {
    if (c != nullptr) redisFree(c);
  }
};
using Context = std::unique_ptr<redisContext, FreeContext>;

struct FreeReply {
  void operator()(redisReply* r) const {
    if (r != nullptr) freeReplyObject(r);
  }
};
using Reply = std::unique_ptr<redisReply, FreeReply>;

std::string ReplyError(const redisReply& r) {
  std::string_view msg(r.str != nullptr ? r.str : "", r.str != nullptr ? r.len : 0);
  if (msg.size() > kMaxErrorBytes) msg = msg.substr(0, kMaxErrorBytes);
  return std::string(msg);
}

}  // namespace

absl::StatusOr<RedisUrl> ParseRedisUrl(std::string_view url) {
  auto bad = [&](std::string_view why) {
    return absl::InvalidArgumentError(
        StrCat("bad Redis URL (", why,
               "); expected redis://[[user]:password@]host[:port][/db] or unix:///path[?db=N]"));
  };
  if (url.size() > kMaxUrlBytes) return bad("too long");
  RedisUrl out;
  constexpr std::string_view kUnix = "unix://";
  constexpr std::string_view kRedis = "redis://";
  if (url.substr(0, kUnix.size()) == kUnix) {
    std::string_view rest = url.substr(kUnix.size());
    size_t q = rest.find('?');
    std::string_view path = rest.substr(0, q);
    if (path.empty() || path[0] != '/') return bad("the socket path must be absolute");
    out.unix_path = std::string(path);
    out.host.clear();
    if (q != std::string_view::npos) {
      std::string_view query = rest.substr(q + 1);
      uint64_t db = 0;
      if (query.substr(0, 3) != "db=" || !ParseUint(query.substr(3), kMaxDb, &db)) {
        return bad("the only query parameter is db=N");
      }
      out.db = static_cast<uint32_t>(db);
    }
    return out;
  }
  if (url.substr(0, 9) == "rediss://") return bad("TLS (rediss://) is not supported");
  if (url.substr(0, kRedis.size()) != kRedis) return bad("unknown scheme");
  std::string_view rest = url.substr(kRedis.size());
  size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  if (slash != std::string_view::npos) {
    std::string_view db = rest.substr(slash + 1);
    uint64_t v = 0;
    if (!db.empty()) {
      if (!ParseUint(db, kMaxDb, &v)) return bad("the database must be a number");
      out.db = static_cast<uint32_t>(v);
    }
  }
  size_t at = authority.rfind('@');
  if (at != std::string_view::npos) {
    std::string_view userinfo = authority.substr(0, at);
    authority = authority.substr(at + 1);
    size_t colon = userinfo.find(':');
    if (colon == std::string_view::npos) return bad("credentials must be [user]:password");
    if (!PercentDecode(userinfo.substr(0, colon), &out.username) ||
        !PercentDecode(userinfo.substr(colon + 1), &out.password)) {
      return bad("bad %-escape in the credentials");
    }
    if (out.password.empty()) return bad("empty password");
  }
  std::string_view host = authority;
  std::string_view port;
  if (!authority.empty() && authority[0] == '[') {
    size_t close = authority.find(']');
    if (close == std::string_view::npos) return bad("unclosed [ in the host");
    host = authority.substr(1, close - 1);
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after[0] != ':') return bad("junk after the host");
      port = after.substr(1);
      if (port.empty()) return bad("empty port");
    }
  } else {
    size_t colon = authority.rfind(':');
    if (colon != std::string_view::npos) {
      host = authority.substr(0, colon);
      port = authority.substr(colon + 1);
      if (port.empty()) return bad("empty port");
    }
  }
  if (host.empty()) return bad("no host");
  for (char ch : host) {
    if (static_cast<unsigned char>(ch) <= ' ' || ch == '/' || ch == '?' || ch == '#') {
      return bad("bad character in the host");
    }
  }
  out.host = std::string(host);
  if (!port.empty()) {
    uint64_t p = 0;
    if (!ParseUint(port, 65535, &p) || p == 0) return bad("the port must be 1-65535");
    out.port = static_cast<uint16_t>(p);
  }
  return out;
}

struct RedisStore::Impl {
  RedisStoreOptions o;
  std::string sha;
  std::string where;  // "redis 127.0.0.1:6379" for messages (never the password)

  std::mutex mu;
  std::vector<Context> idle;
  uint64_t epoch = 0;       // bumped on each failure: older connections are not pooled again
  uint32_t failures = 0;    // consecutive connection failures
  bool connecting = false;  // a reconnect is in progress (only tracked while failing)
  SteadyClock::time_point next_attempt{};
  std::string last_error;

  absl::Status Fail(std::string_view message) const {
    return absl::UnavailableError(StrCat(where, ": ", message));
  }

  // Marks the server down: drops pooled connections and delays the next connect.
  void MarkDown(const std::string& message) {
    std::vector<Context> dropped;
    {
      std::lock_guard<std::mutex> lock(mu);
      ++epoch;
      dropped.swap(idle);
      ++failures;
      auto backoff = kBackoffMin * (1u << std::min<uint32_t>(failures - 1, 10));
      next_attempt = SteadyClock::now() + std::min<SteadyClock::duration>(backoff, kBackoffMax);
      last_error = message;
    }
  }

  absl::StatusOr<Context> Connect() {
    timeval ct = ToTimeval(o.connect_timeout_ms);
    Context c(o.url.unix_path.empty() ? redisConnectWithTimeout(o.url.host.c_str(), o.url.port, ct)
                                      : redisConnectUnixWithTimeout(o.url.unix_path.c_str(), ct));
    if (c == nullptr) return absl::ResourceExhaustedError("cannot allocate a Redis context");
    if (c->err != 0) return absl::UnavailableError(StrCat("cannot connect: ", c->errstr));
    if (redisSetTimeout(c.get(), ToTimeval(o.command_timeout_ms)) != REDIS_OK) {
      return absl::UnavailableError(StrCat("cannot set the command timeout: ", c->errstr));
    }
    auto simple = [&](Reply r, const char* what) -> absl::Status {
      if (r == nullptr) return absl::UnavailableError(StrCat(what, " failed: ", c->errstr));
      if (r->type == REDIS_REPLY_ERROR) {
        return absl::PermissionDeniedError(StrCat(what, " refused: ", ReplyError(*r)));
      }
      return absl::OkStatus();
    };
    if (!o.url.password.empty()) {
      const auto& u = o.url;
      Reply r(static_cast<redisReply*>(
          u.username.empty()
              ? redisCommand(c.get(), "AUTH %b", u.password.data(), u.password.size())
              : redisCommand(c.get(), "AUTH %b %b", u.username.data(), u.username.size(),
                             u.password.data(), u.password.size())));
      if (auto st = simple(std::move(r), "AUTH"); !st.ok()) return st;
    }
    if (o.url.db != 0) {
      Reply r(static_cast<redisReply*>(redisCommand(c.get(), "SELECT %u", o.url.db)));
      if (auto st = simple(std::move(r), "SELECT"); !st.ok()) return st;
    }
    return c;
  }

  struct Lease {
    Context c;
    uint64_t epoch = 0;
    bool reused = false;  // came from the idle pool (the server may have closed it since)
  };

  // An idle connection, or a new one when the backoff allows.
  absl::StatusOr<Lease> Acquire() {
    {
      std::lock_guard<std::mutex> lock(mu);
      if (!idle.empty()) {
        Context c = std::move(idle.back());
        idle.pop_back();
        return Lease{std::move(c), epoch, true};
      }
      if (failures > 0) {
        auto now = SteadyClock::now();
        if (now < next_attempt || connecting) {
          auto wait =
              std::chrono::duration_cast<std::chrono::milliseconds>(next_attempt - now).count();
          return Fail(StrCat("unavailable (", last_error, "); next reconnect in ",
                             std::max<int64_t>(0, wait), " ms"));
        }
        connecting = true;
      }
    }
    auto c = Connect();
    if (!c.ok()) {
      {
        std::lock_guard<std::mutex> lock(mu);
        connecting = false;
      }
      std::string msg(c.status().message());
      MarkDown(msg);
      return Fail(msg);
    }
    std::lock_guard<std::mutex> lock(mu);
    connecting = false;
    failures = 0;
    return Lease{std::move(*c), epoch, false};
  }

  void Release(Lease lease) {
    std::lock_guard<std::mutex> lock(mu);
    if (lease.epoch == epoch && idle.size() < o.max_idle_connections) {
      idle.push_back(std::move(lease.c));
    }
  }

  // Drops the idle connections (they are probably as stale as one that just failed).
  void DropIdle() {
    std::vector<Context> dropped;
    std::lock_guard<std::mutex> lock(mu);
    ++epoch;
    dropped.swap(idle);
  }

  // Runs one command built by `send` on a pooled connection. A reply of NULL (I/O error,
  // timeout) closes the connection and marks the server down, except that a pooled
  // connection the server closed while idle (EOF or reset, not a timeout) is replaced by a
  // new one once. The retried command may then run twice (a bucket script takes twice: the
  // rate limit errs on the strict side).
  template <typename Send>
  absl::StatusOr<Reply> Command(Send send) {
    for (int attempt = 0;; ++attempt) {
      auto lease = Acquire();
      if (!lease.ok()) return lease.status();
      redisContext* c = lease->c.get();
      Reply r(static_cast<redisReply*>(send(c)));
      int saved_errno = errno;
      if (r != nullptr && c->err == 0) {
        Release(std::move(*lease));
        return r;
      }
      bool timed_out =
          c->err == REDIS_ERR_IO && (saved_errno == EAGAIN || saved_errno == EWOULDBLOCK);
      std::string msg =
          timed_out ? StrCat("command timed out after ", o.command_timeout_ms, " ms")
                    : StrCat("command failed: ", c->errstr[0] != '\0' ? c->errstr : "no reply");
      bool retry = attempt == 0 && lease->reused && !timed_out;
      lease->c.reset();
      if (retry) {
        DropIdle();
        continue;
      }
      MarkDown(msg);
      return Fail(msg);
    }
  }
};

RedisStore::RedisStore(RedisStoreOptions options) : impl_(new Impl) {
  impl_->o = std::move(options);
  impl_->sha = Sha1Hex(kScript);
  const RedisUrl& u = impl_->o.url;
  impl_->where = u.unix_path.empty() ? StrCat("redis ", u.host, ":", u.port)
                                     : StrCat("redis unix:", u.unix_path);
}

RedisStore::~RedisStore() = default;

std::string_view RedisStore::Script() { return kScript; }
const std::string& RedisStore::script_sha() const { return impl_->sha; }

absl::StatusOr<TakeResult> RedisStore::Take(std::string_view key, double capacity,
                                            double refill_per_s, double cost) {
  auto r = TakeOnce(key, capacity, refill_per_s, cost);
  if (!r.ok() && impl_->o.errors != nullptr) {
    impl_->o.errors->fetch_add(1, std::memory_order_relaxed);
  }
  return r;
}

absl::StatusOr<TakeResult> RedisStore::TakeOnce(std::string_view key, double capacity,
                                                double refill_per_s, double cost) {
  if (!(capacity > 0) || !(refill_per_s > 0) || !(cost >= 0) || !std::isfinite(capacity) ||
      !std::isfinite(refill_per_s) || !std::isfinite(cost)) {
    return absl::InvalidArgumentError("bucket needs capacity > 0, refill > 0, cost >= 0");
  }
  Impl& m = *impl_;
  std::string full_key = StrCat(m.o.prefix, key);
  std::string cap = FormatDouble(capacity), rate = FormatDouble(refill_per_s),
              c = FormatDouble(cost);
  auto run = [&](bool by_sha) {
    return m.Command([&](redisContext* ctx) {
      return by_sha ? redisCommand(ctx, "EVALSHA %s 1 %b %s %s %s", m.sha.c_str(), full_key.data(),
                                   full_key.size(), cap.c_str(), rate.c_str(), c.c_str())
                    : redisCommand(ctx, "EVAL %b 1 %b %s %s %s", kScript.data(), kScript.size(),
                                   full_key.data(), full_key.size(), cap.c_str(), rate.c_str(),
                                   c.c_str());
    });
  };
  auto r = run(true);
  if (!r.ok()) return r.status();
  if ((*r)->type == REDIS_REPLY_ERROR && ReplyError(**r).rfind("NOSCRIPT", 0) == 0) {
    r = run(false);  // the script cache was flushed (or this is a new server): send it whole
    if (!r.ok()) return r.status();
  }
  const redisReply& rep = **r;
  if (rep.type == REDIS_REPLY_ERROR) return m.Fail(StrCat("error reply: ", ReplyError(rep)));
  if (rep.type != REDIS_REPLY_ARRAY || rep.elements != 2 ||
      rep.element[0]->type != REDIS_REPLY_INTEGER || rep.element[1]->type != REDIS_REPLY_INTEGER ||
      rep.element[0]->integer < 0 || rep.element[0]->integer > 1 || rep.element[1]->integer < 0 ||
      rep.element[1]->integer > UINT32_MAX) {
    return m.Fail("unexpected reply to the bucket script");
  }
  TakeResult out;
  out.allowed = rep.element[0]->integer == 1;
  out.retry_after_s = static_cast<uint32_t>(rep.element[1]->integer);
  return out;
}

absl::Status RedisStore::Check() {
  auto r = impl_->Command([](redisContext* ctx) { return redisCommand(ctx, "PING"); });
  if (!r.ok()) return r.status();
  if ((*r)->type == REDIS_REPLY_ERROR) {
    return impl_->Fail(StrCat("PING refused: ", ReplyError(**r)));
  }
  return absl::OkStatus();
}

}  // namespace rampart::state
