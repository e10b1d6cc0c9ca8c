// Shared state end to end: two `rampart serve` replicas in front of one mock upstream, both
// with `stores.state: {kind: redis}` on one throw-away redis-server. A rate limit holds across
// the replicas combined; with Redis gone the rate-limit stage errors (its on_error decides:
// block -> 503 rate_limit.error, allow -> served), other routes keep serving, /readyz says
// not ready and rampart_state_errors_total counts; with Redis back everything recovers.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <thread>

#include "common/crypto.h"
#include "gateway_client.h"
#include "process.h"
#include "state/redis_test_server.h"

namespace rampart::testing {
namespace {

constexpr const char* kAdminToken = "admin-redis-test-token";
constexpr int kLimit = 5;

std::string ConfigYaml(int upstream_port, const std::string& redis_url) {
  auto sha = [](const char* k) { return ToHex(Sha256(k)); };
  return std::string(R"(
server:
  listen: 127.0.0.1:0
  admin_listen: 127.0.0.1:0
  threads: 2
  admin_token_env: RAMPART_REDIS_TEST_ADMIN_TOKEN
  drain_timeout_ms: 2000
stores:
  state:
    kind: redis
    url: )") +
         redis_url + R"(
    prefix: "gwtest:"
    connect_timeout_ms: 200
    command_timeout_ms: 100
upstreams:
  - name: mock
    url: http://127.0.0.1:)" +
         std::to_string(upstream_port) + R"(
principals:
  - {name: alice, key_sha256: [)" +
         sha("key-alice") + R"(]}
  - {name: bob, key_sha256: [)" +
         sha("key-bob") + R"(]}
  - {name: carol, key_sha256: [)" +
         sha("key-carol") + R"(]}
routes:
  - name: open
    path: /open
    upstream: mock
    stages:
      - {type: auth}
  - name: limited
    path: /v1
    upstream: mock
    stages:
      - {type: auth}
      - {type: rate_limit, config: {requests_per_window: )" +
         std::to_string(kLimit) + R"(, window_s: 60, per: [principal]}}
  - name: lenient
    path: /lenient
    upstream: mock
    stages:
      - {type: auth}
      - {type: rate_limit, on_error: allow, config: {requests_per_window: 1000, window_s: 60}}
  - name: shadowed
    path: /shadowed
    upstream: mock
    stages:
      - {type: auth}
      - {type: rate_limit, mode: shadow, config: {requests_per_window: 1, window_s: 60}}
)";
}

struct Gateway {
  Process proc;
  int port = 0;
  int admin_port = 0;
  bool Start(const std::string& config, const std::string& log) {
    if (!proc.Start({RAMPART_BINARY, "serve", "--config", config, "--rules", RAMPART_RULES_DIR},
                    log)) {
      return false;
    }
    port = Process::PortFrom(proc.ReadLine());
    admin_port = Process::PortFrom(proc.ReadLine());
    return port > 0 && admin_port > 0;
  }
};

class GatewayRedisTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    setenv("RAMPART_REDIS_TEST_ADMIN_TOKEN", kAdminToken, 1);
    dir_ =
        std::filesystem::temp_directory_path() / ("rampart-gw-redis-" + std::to_string(getpid()));
    std::filesystem::create_directories(dir_);
    redis_ = new RedisTestServer();
    ASSERT_TRUE(redis_->Start()) << redis_->error();
    mock_ = new Process();
    ASSERT_TRUE(mock_->Start({RAMPART_BINARY, "mock-upstream", "--port", "0"}));
    int mock_port = Process::PortFrom(mock_->ReadLine());
    ASSERT_GT(mock_port, 0);
    std::string config = (dir_ / "gateway.yaml").string();
    std::ofstream(config) << ConfigYaml(mock_port, redis_->url());
    a_ = new Gateway();
    b_ = new Gateway();
    ASSERT_TRUE(a_->Start(config, (dir_ / "a.log").string()));
    ASSERT_TRUE(b_->Start(config, (dir_ / "b.log").string()));
    mock_port_ = mock_port;
  }
  static void TearDownTestSuite() {
    delete a_;
    delete b_;
    delete mock_;
    delete redis_;
    std::filesystem::remove_all(dir_);
  }

  static Response Post(const Gateway& g, const std::string& route, const std::string& key) {
    return Http(g.port, "POST", route + "/chat/completions", Chat("hi"), Key(key));
  }
  // The mock's own reply (it echoes mock_authorization) proves the request passed every
  // stage and reached the upstream.
  static bool Reached(const Response& r) {
    return r.body.find("\"mock_authorization\"") != std::string::npos;
  }
  static uint64_t Metric(const Gateway& g, const std::string& series) {
    auto r = Http(g.admin_port, "GET", "/metrics", "",
                  {{"Authorization", std::string("Bearer ") + kAdminToken}});
    size_t p = r.body.find("\n" + series + " ");
    if (p == std::string::npos) return UINT64_MAX;
    return std::strtoull(r.body.c_str() + p + series.size() + 2, nullptr, 10);
  }

  static inline std::filesystem::path dir_;
  static inline RedisTestServer* redis_ = nullptr;
  static inline Process* mock_ = nullptr;
  static inline Gateway* a_ = nullptr;
  static inline Gateway* b_ = nullptr;
  static inline int mock_port_ = 0;
};

TEST_F(GatewayRedisTest, RateLimitHoldsAcrossBothReplicas) {
  EXPECT_EQ(Http(a_->admin_port, "GET", "/readyz", "").status, 200);
  EXPECT_EQ(Http(b_->admin_port, "GET", "/readyz", "").status, 200);
  for (int i = 0; i < kLimit; ++i) {
    const Gateway& g = i % 2 == 0 ? *a_ : *b_;  // 3 on A, 2 on B
    auto r = Post(g, "/v1", "key-alice");
    ASSERT_EQ(r.status, 200) << i << " " << r.raw;
  }
  for (const Gateway* g : {a_, b_}) {
    auto r = Post(*g, "/v1", "key-alice");
    EXPECT_EQ(r.status, 429) << r.raw;
    EXPECT_EQ(ErrorCode(r), "rate_limit.requests");
    EXPECT_GE(std::atoi(r.headers["retry-after"].c_str()), 1);
  }
  // Another principal has its own bucket, on either replica.
  EXPECT_EQ(Post(*b_, "/v1", "key-bob").status, 200);
  // The buckets live in Redis under the configured prefix, with a TTL.
  redisContext* c = redis_->Connect();
  auto* rep = static_cast<redisReply*>(redisCommand(c, "TTL gwtest:rl:req:limited:p:alice"));
  ASSERT_NE(rep, nullptr);
  EXPECT_GT(rep->integer, 0);
  EXPECT_LE(rep->integer, 61);
  freeReplyObject(rep);
  redisFree(c);
  EXPECT_EQ(Metric(*a_, "rampart_state_errors_total"), 0u);
}

TEST_F(GatewayRedisTest, ShadowModeOnlyRecordsTheSharedLimit) {
  for (int i = 0; i < 3; ++i) {
    const Gateway& g = i % 2 == 0 ? *a_ : *b_;
    auto r = Post(g, "/shadowed/v1", "key-carol");
    EXPECT_TRUE(Reached(r)) << i << " " << r.raw;
  }
  // Limit 1 shared by both replicas: 2 of the 3 would have been blocked, on A or B.
  uint64_t a =
      Metric(*a_, "rampart_stage_shadow_blocks_total{route=\"shadowed\",stage=\"rate_limit\"}");
  uint64_t b =
      Metric(*b_, "rampart_stage_shadow_blocks_total{route=\"shadowed\",stage=\"rate_limit\"}");
  EXPECT_EQ((a == UINT64_MAX ? 0 : a) + (b == UINT64_MAX ? 0 : b), 2u);
}

TEST_F(GatewayRedisTest, RedisDownFollowsOnErrorThenRecovers) {
  redis_->Kill();
  for (const Gateway* g : {a_, b_}) {
    auto r = Post(*g, "/v1", "key-carol");
    EXPECT_EQ(r.status, 503) << r.raw;  // on_error: block (the default)
    EXPECT_EQ(ErrorCode(r), "rate_limit.error");
    EXPECT_TRUE(Reached(Post(*g, "/lenient/v1", "key-carol")));  // on_error: allow
    EXPECT_TRUE(Reached(Post(*g, "/open/v1", "key-carol")));     // no shared state
    EXPECT_EQ(Http(g->admin_port, "GET", "/readyz", "").status, 503);
    EXPECT_EQ(Http(g->admin_port, "GET", "/healthz", "").status, 200);
    uint64_t errors = Metric(*g, "rampart_state_errors_total");
    EXPECT_GE(errors, 2u);
    EXPECT_NE(errors, UINT64_MAX);
  }
  EXPECT_GE(Metric(*a_, "rampart_stage_errors_total{route=\"limited\",stage=\"rate_limit\"}"), 1u);

  ASSERT_TRUE(redis_->Restart()) << redis_->error();
  for (const Gateway* g : {a_, b_}) {
    int status = 0;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (std::chrono::steady_clock::now() < deadline) {
      status = Post(*g, "/v1", "key-carol").status;
      if (status == 200) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    EXPECT_EQ(status, 200);
    EXPECT_EQ(Http(g->admin_port, "GET", "/readyz", "").status, 200);
  }
}

TEST_F(GatewayRedisTest, StartsWithRedisDownButIsNotReadyAndReloadKeepsTheStore) {
  std::string config = (dir_ / "down.yaml").string();
  std::ofstream(config) << ConfigYaml(mock_port_, "redis://127.0.0.1:1");
  Gateway g;
  ASSERT_TRUE(g.Start(config, (dir_ / "down.log").string()));
  EXPECT_EQ(Http(g.admin_port, "GET", "/readyz", "").status, 503);
  EXPECT_TRUE(Reached(Post(g, "/open/v1", "key-alice")));
  EXPECT_EQ(Post(g, "/v1", "key-alice").status, 503);
  EXPECT_NE(WaitForText((dir_ / "down.log").string(), "state_store_unavailable")
                .find("state_store_unavailable"),
            std::string::npos);

  // A reload does not switch stores: the new file says memory, the Redis store stays (warn).
  std::string yaml = ConfigYaml(mock_port_, "redis://127.0.0.1:1");
  size_t at = yaml.find("    kind: redis\n");
  ASSERT_NE(at, std::string::npos);
  yaml.replace(at, 16, "    kind: memory\n");
  yaml.replace(yaml.find("    url: redis://127.0.0.1:1\n"), 29, "");
  std::ofstream(config) << yaml;
  auto r = Http(g.admin_port, "POST", "/admin/reload", "",
                {{"Authorization", std::string("Bearer ") + kAdminToken}});
  EXPECT_EQ(r.status, 200) << r.raw;
  EXPECT_EQ(Post(g, "/v1", "key-alice").status, 503);
  EXPECT_EQ(Http(g.admin_port, "GET", "/readyz", "").status, 503);
  EXPECT_NE(WaitForText((dir_ / "down.log").string(), "state_store_not_switched")
                .find("state_store_not_switched"),
            std::string::npos);
}

}  // namespace
}  // namespace rampart::testing
