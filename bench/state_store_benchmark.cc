// Shared state: one token-bucket Take on RedisStore (a loopback redis-server started here,
// one EVALSHA round trip) against InProcessStore, single-threaded and from 4 threads. The
// rate_limit stage makes one Take per key (principal, ip) per request. See docs/benchmarks.md.
#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "state/redis_store.h"
#include "state/redis_test_server.h"
#include "state/store.h"

namespace {

using rampart::state::InProcessStore;
using rampart::state::ParseRedisUrl;
using rampart::state::RedisStore;
using rampart::state::RedisStoreOptions;
using rampart::testing::RedisTestServer;

constexpr int kKeys = 1000;

std::vector<std::string> Keys() {
  std::vector<std::string> keys;
  for (int i = 0; i < kKeys; ++i) keys.push_back("rl:req:chat:p:principal-" + std::to_string(i));
  return keys;
}

// The server is a function-local static, so it is killed when the process exits.
RedisTestServer& Server() {
  static RedisTestServer server;
  return server;
}

RedisStore* SharedRedis() {
  static RedisStore* store = [] {
    if (!Server().Start()) {
      std::fprintf(stderr, "cannot start redis-server: %s\n", Server().error().c_str());
      std::exit(1);
    }
    RedisStoreOptions o;
    o.url = *ParseRedisUrl(Server().url());
    o.command_timeout_ms = 1000;
    return new RedisStore(o);
  }();
  return store;
}

void Run(benchmark::State& state, rampart::state::Store& store) {
  static const std::vector<std::string> keys = Keys();
  size_t i = static_cast<size_t>(state.thread_index()) * 7919;
  for (auto _ : state) {
    auto r = store.Take(keys[i++ % keys.size()], 1e9, 1e6, 1);
    if (!r.ok()) {
      state.SkipWithError(std::string(r.status().message()).c_str());
      break;
    }
    benchmark::DoNotOptimize(r->allowed);
  }
  state.SetItemsProcessed(state.iterations());
}

void BM_InProcessTake(benchmark::State& state) {
  static InProcessStore store;
  Run(state, store);
}
BENCHMARK(BM_InProcessTake)->Threads(1)->Threads(4)->UseRealTime();

void BM_RedisTake(benchmark::State& state) { Run(state, *SharedRedis()); }
BENCHMARK(BM_RedisTake)->Threads(1)->Threads(4)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
