// RedisStore against a real redis-server (started per test on a free loopback port): the
// same token-bucket semantics as InProcessStore, plus what only a shared server has: keys
// shared by several stores, TTLs, restarts, AUTH/SELECT, timeouts, a flushed script cache.
#include "state/redis_store.h"

#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <thread>
#include <vector>

#include "state/redis_test_server.h"

namespace rampart::state {
namespace {

using rampart::testing::RedisTestServer;

TEST(RedisUrlTest, ParsesTcpUrls) {
  auto u = ParseRedisUrl("redis://127.0.0.1:6380/2");
  ASSERT_TRUE(u.ok()) << u.status();
  EXPECT_EQ(u->host, "127.0.0.1");
  EXPECT_EQ(u->port, 6380);
  EXPECT_EQ(u->db, 2u);
  EXPECT_EQ(u->password, "");

  u = ParseRedisUrl("redis://:p%40ss@cache.internal");
  ASSERT_TRUE(u.ok()) << u.status();
  EXPECT_EQ(u->host, "cache.internal");
  EXPECT_EQ(u->port, 6379);
  EXPECT_EQ(u->username, "");
  EXPECT_EQ(u->password, "p@ss");

  u = ParseRedisUrl("redis://gw:secret@[::1]:7000/");
  ASSERT_TRUE(u.ok()) << u.status();
  EXPECT_EQ(u->host, "::1");
  EXPECT_EQ(u->port, 7000);
  EXPECT_EQ(u->username, "gw");
  EXPECT_EQ(u->password, "secret");
  EXPECT_EQ(u->db, 0u);
}

TEST(RedisUrlTest, ParsesUnixUrls) {
  auto u = ParseRedisUrl("unix:///run/redis/redis.sock?db=5");
  ASSERT_TRUE(u.ok()) << u.status();
  EXPECT_EQ(u->unix_path, "/run/redis/redis.sock");
  EXPECT_EQ(u->host, "");
  EXPECT_EQ(u->db, 5u);
}

TEST(RedisUrlTest, RejectsBadUrls) {
  for (const char* bad :
       {"", "http://x", "rediss://x:6379", "redis://", "redis://:6379", "redis://h:0",
        "redis://h:65536", "redis://h:", "redis://h/x", "redis://h/99999999", "redis://pw@h",
        "redis://:@h", "redis://:%zz@h", "redis://[::1", "redis://a b", "unix://rel/path",
        "unix:///s?x=1", "unix:///s?db=x"}) {
    EXPECT_FALSE(ParseRedisUrl(bad).ok()) << bad;
  }
  EXPECT_FALSE(ParseRedisUrl("redis://h" + std::string(3000, 'a')).ok());
  // The message never echoes the URL (it may hold a password).
  auto st = ParseRedisUrl("redis://:topsecret@h:0").status();
  EXPECT_EQ(std::string(st.message()).find("topsecret"), std::string::npos);
}

class RedisStoreTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(server_.Start()) << server_.error(); }

  RedisStoreOptions Options(const std::string& url = "") {
    RedisStoreOptions o;
    auto u = ParseRedisUrl(url.empty() ? server_.url() : url);
    EXPECT_TRUE(u.ok()) << u.status();
    if (u.ok()) o.url = *u;
    o.prefix = "test:";
    o.connect_timeout_ms = 500;
    o.command_timeout_ms = 500;
    o.errors = &errors_;
    return o;
  }

  // A direct command on the test server; returns the reply's integer (or -1000 on error).
  long long Int(const char* cmd, const std::string& arg) {
    redisContext* c = server_.Connect();
    auto* r = static_cast<redisReply*>(redisCommand(c, cmd, arg.c_str()));
    long long v = r != nullptr && r->type == REDIS_REPLY_INTEGER ? r->integer : -1000;
    if (r != nullptr) freeReplyObject(r);
    redisFree(c);
    return v;
  }

  RedisTestServer server_;
  std::atomic<uint64_t> errors_{0};
};

TEST_F(RedisStoreTest, StartsFullThenRefusesWithRetryAfter) {
  RedisStore store(Options());
  for (int i = 0; i < 3; ++i) {
    auto r = store.Take("k", 3, 1.0 / 20, 1);
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_TRUE(r->allowed);
  }
  auto r = store.Take("k", 3, 1.0 / 20, 1);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_FALSE(r->allowed);
  EXPECT_EQ(r->retry_after_s, 20u);
  EXPECT_EQ(errors_.load(), 0u);
}

TEST_F(RedisStoreTest, RefillsOverTimeUpToCapacity) {
  RedisStore store(Options());
  EXPECT_TRUE(store.Take("k", 2, 10, 2)->allowed);
  EXPECT_FALSE(store.Take("k", 2, 10, 1)->allowed);
  std::this_thread::sleep_for(std::chrono::milliseconds(150));  // 1.5 tokens back
  EXPECT_TRUE(store.Take("k", 2, 10, 1)->allowed);
  std::this_thread::sleep_for(std::chrono::milliseconds(600));  // far more than capacity
  EXPECT_TRUE(store.Take("k", 2, 10, 2)->allowed);              // capped at 2
  EXPECT_FALSE(store.Take("k", 2, 10, 1)->allowed);
}

TEST_F(RedisStoreTest, KeysAreIndependent) {
  RedisStore store(Options());
  EXPECT_TRUE(store.Take("a", 1, 1, 1)->allowed);
  EXPECT_FALSE(store.Take("a", 1, 1, 1)->allowed);
  EXPECT_TRUE(store.Take("b", 1, 1, 1)->allowed);
}

TEST_F(RedisStoreTest, CostAboveCapacityIsRefused) {
  RedisStore store(Options());
  auto r = store.Take("k", 10, 1, 11);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_FALSE(r->allowed);
  EXPECT_GE(r->retry_after_s, 1u);
  EXPECT_TRUE(store.Take("k", 10, 1, 10)->allowed);  // the refusal took nothing
}

TEST_F(RedisStoreTest, BadParametersAreErrors) {
  RedisStore store(Options());
  EXPECT_FALSE(store.Take("k", 0, 1, 1).ok());
  EXPECT_FALSE(store.Take("k", 1, 0, 1).ok());
  EXPECT_FALSE(store.Take("k", 1, 1, -1).ok());
  EXPECT_FALSE(store.Take("k", 1, 1, std::nan("")).ok());
}

TEST_F(RedisStoreTest, ConcurrentTakesFromManyThreadsGrantExactlyCapacity) {
  RedisStore a(Options());
  RedisStore b(Options());  // a second replica on the same server
  constexpr int kThreads = 8, kEach = 150, kCapacity = 500;
  std::atomic<int> allowed{0}, failed{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      RedisStore& s = t % 2 == 0 ? a : b;
      for (int i = 0; i < kEach; ++i) {
        auto r = s.Take("shared", kCapacity, 1.0 / 3600, 1);
        if (!r.ok()) {
          failed.fetch_add(1);
        } else if (r->allowed) {
          allowed.fetch_add(1);
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failed.load(), 0);
  EXPECT_EQ(allowed.load(), kCapacity);
}

TEST_F(RedisStoreTest, KeysArePrefixedAndExpireWhenIdle) {
  RedisStore store(Options());
  EXPECT_TRUE(store.Take("idle", 1, 2, 1)->allowed);  // full again after 0.5 s
  EXPECT_EQ(Int("EXISTS %s", "test:idle"), 1);
  EXPECT_EQ(Int("EXISTS %s", "idle"), 0);
  long long ttl = Int("TTL %s", "test:idle");
  EXPECT_GE(ttl, 1);
  EXPECT_LE(ttl, 2);
  // A slow bucket keeps its key as long as it is not full.
  EXPECT_TRUE(store.Take("slow", 10, 0.01, 5)->allowed);
  EXPECT_GT(Int("TTL %s", "test:slow"), 400);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (Int("EXISTS %s", "test:idle") == 1 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(Int("EXISTS %s", "test:idle"), 0);
  EXPECT_TRUE(store.Take("idle", 1, 2, 1)->allowed);  // starts full again
}

TEST_F(RedisStoreTest, FlushedScriptCacheFallsBackToEval) {
  RedisStore store(Options());
  EXPECT_TRUE(store.Take("k", 5, 1, 1)->allowed);
  redisContext* c = server_.Connect();
  auto* r = static_cast<redisReply*>(redisCommand(c, "SCRIPT FLUSH"));
  ASSERT_NE(r, nullptr);
  freeReplyObject(r);
  r = static_cast<redisReply*>(redisCommand(c, "SCRIPT EXISTS %s", store.script_sha().c_str()));
  ASSERT_NE(r, nullptr);
  ASSERT_EQ(r->type, REDIS_REPLY_ARRAY);
  EXPECT_EQ(r->element[0]->integer, 0);
  freeReplyObject(r);
  auto t = store.Take("k", 5, 1, 1);
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_TRUE(t->allowed);
  r = static_cast<redisReply*>(redisCommand(c, "SCRIPT EXISTS %s", store.script_sha().c_str()));
  EXPECT_EQ(r->element[0]->integer, 1);  // EVAL cached it again
  freeReplyObject(r);
  redisFree(c);
  EXPECT_EQ(errors_.load(), 0u);
}

TEST_F(RedisStoreTest, RestartIsReportedThenRecovers) {
  RedisStore store(Options());
  ASSERT_TRUE(store.Take("k", 100, 1, 1).ok());
  EXPECT_TRUE(store.Check().ok());
  server_.Kill();
  auto r = store.Take("k", 100, 1, 1);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(r.status().message().find("redis 127.0.0.1:"), std::string_view::npos);
  // Within the backoff, calls fail fast without a connection attempt.
  r = store.Take("k", 100, 1, 1);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("next reconnect"), std::string_view::npos) << r.status();
  EXPECT_GE(errors_.load(), 2u);
  EXPECT_FALSE(store.Check().ok());
  uint64_t errors_before_check = errors_.load();
  EXPECT_FALSE(store.Check().ok());
  EXPECT_EQ(errors_.load(), errors_before_check);  // readiness probes are not Take errors

  ASSERT_TRUE(server_.Restart()) << server_.error();
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  absl::StatusOr<TakeResult> ok = absl::UnknownError("not tried");
  while (std::chrono::steady_clock::now() < deadline) {
    ok = store.Take("k", 100, 1, 1);
    if (ok.ok()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_TRUE(ok->allowed);
  EXPECT_TRUE(store.Check().ok());
}

TEST_F(RedisStoreTest, PooledConnectionClosedByTheServerIsReplaced) {
  RedisStore store(Options());
  ASSERT_TRUE(store.Take("k", 100, 1, 1).ok());  // leaves one idle connection in the pool
  redisContext* c = server_.Connect();
  auto* r = static_cast<redisReply*>(redisCommand(c, "CLIENT KILL TYPE normal SKIPME yes"));
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(r->type, REDIS_REPLY_INTEGER);
  EXPECT_GE(r->integer, 1);  // the store's pooled connection
  freeReplyObject(r);
  redisFree(c);
  auto t = store.Take("k", 100, 1, 1);
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_TRUE(t->allowed);
  EXPECT_EQ(errors_.load(), 0u);
}

TEST_F(RedisStoreTest, UnreachableServerIsAnError) {
  server_.Kill();
  RedisStore store(Options());
  auto r = store.Take("k", 1, 1, 1);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("cannot connect"), std::string_view::npos) << r.status();
  EXPECT_EQ(errors_.load(), 1u);
}

TEST_F(RedisStoreTest, SlowServerHitsTheCommandTimeout) {
  auto o = Options();
  o.command_timeout_ms = 50;
  RedisStore store(o);
  ASSERT_TRUE(store.Take("k", 10, 1, 1).ok());
  redisContext* c = server_.Connect();
  auto* r = static_cast<redisReply*>(redisCommand(c, "CLIENT PAUSE 400 WRITE"));
  ASSERT_NE(r, nullptr);
  freeReplyObject(r);
  redisFree(c);
  auto start = std::chrono::steady_clock::now();
  auto t = store.Take("k", 10, 1, 1);
  auto took = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(t.ok());
  EXPECT_NE(t.status().message().find("timed out"), std::string_view::npos) << t.status();
  EXPECT_LT(took, std::chrono::milliseconds(300));
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (!store.Take("k", 10, 1, 1).ok() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_TRUE(store.Take("k", 10, 1, 1).ok());
}

TEST_F(RedisStoreTest, UnixSocketAndSelect) {
  auto sock = std::filesystem::temp_directory_path() /
              ("rampart-redis-" + std::to_string(getpid()) + ".sock");
  server_.Kill();
  ASSERT_TRUE(server_.Start({}, sock.string())) << server_.error();
  RedisStore store(Options("unix://" + sock.string() + "?db=3"));
  EXPECT_TRUE(store.Take("u", 1, 1, 1)->allowed);
  EXPECT_FALSE(store.Take("u", 1, 1, 1)->allowed);
  EXPECT_EQ(Int("EXISTS %s", "test:u"), 0);  // db 0 is untouched
  redisContext* c = server_.Connect();
  auto* r = static_cast<redisReply*>(redisCommand(c, "SELECT 3"));
  freeReplyObject(r);
  r = static_cast<redisReply*>(redisCommand(c, "EXISTS test:u"));
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(r->integer, 1);
  freeReplyObject(r);
  redisFree(c);
  std::filesystem::remove(sock);
}

TEST_F(RedisStoreTest, PasswordAuth) {
  server_.Kill();
  ASSERT_TRUE(server_.Start({"--requirepass", "s3cret"})) << server_.error();
  std::string base = "127.0.0.1:" + std::to_string(server_.port());
  {
    RedisStore store(Options("redis://" + base));
    auto r = store.Take("k", 1, 1, 1);
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.status().message().find("NOAUTH"), std::string_view::npos) << r.status();
  }
  {
    RedisStore store(Options("redis://:hunter2x@" + base));
    auto r = store.Take("k", 1, 1, 1);
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.status().message().find("AUTH refused"), std::string_view::npos) << r.status();
    EXPECT_EQ(std::string(r.status().message()).find("hunter2x"), std::string::npos);
  }
  RedisStore store(Options("redis://:s3cret@" + base));
  auto r = store.Take("k", 1, 1, 1);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->allowed);
}

}  // namespace
}  // namespace rampart::state
