#include "config/config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <filesystem>
#include <fstream>

#include "config/field_reader.h"

namespace rampart::config {
namespace {

using ::testing::HasSubstr;

constexpr const char* kMinimal = R"(
upstreams:
  - {name: mock, url: "http://127.0.0.1:9999"}
routes:
  - name: chat
    kind: openai
    path: /v1
    upstream: mock
    stages:
      - {type: auth}
      - {type: input_scan, mode: shadow, on_error: allow, config: {threshold: 0.5}}
)";

TEST(ConfigTest, ParsesMinimalConfigWithDefaults) {
  auto c = ParseConfig(kMinimal, "t.yaml");
  ASSERT_TRUE(c.ok()) << c.status();
  const Config& cfg = **c;
  EXPECT_EQ(cfg.server.listen.port, 8080);
  EXPECT_EQ(cfg.server.limits.max_body_bytes, 1u << 20);
  ASSERT_EQ(cfg.routes.size(), 1u);
  ASSERT_EQ(cfg.routes[0].stages.size(), 2u);
  EXPECT_EQ(cfg.routes[0].stages[0].mode, StageMode::kEnforce);
  EXPECT_EQ(cfg.routes[0].stages[0].on_error, OnError::kBlock);
  EXPECT_EQ(cfg.routes[0].stages[1].mode, StageMode::kShadow);
  EXPECT_EQ(cfg.routes[0].stages[1].on_error, OnError::kAllow);
  EXPECT_EQ(cfg.routes[0].stages[1].path, "routes[0].stages[1]");
  EXPECT_DOUBLE_EQ(cfg.routes[0].stages[1].config.at("threshold").as_double(), 0.5);
  EXPECT_EQ(cfg.upstreams[0].endpoint.port, 9999);
  EXPECT_FALSE(cfg.upstreams[0].external);
}

struct BadCase {
  const char* yaml;
  const char* message;
};

class BadConfigTest : public ::testing::TestWithParam<BadCase> {};

TEST_P(BadConfigTest, RejectedWithFieldPath) {
  auto c = ParseConfig(GetParam().yaml, "t.yaml");
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(std::string(c.status().message()), HasSubstr(GetParam().message));
}

INSTANTIATE_TEST_SUITE_P(
    Cases, BadConfigTest,
    ::testing::Values(
        BadCase{"routes: []\nbogus: 1\n", "t.yaml: bogus: unknown key"},
        BadCase{"upstreams: [{name: u, url: 'http://h:1'}]\n"
                "routes: [{name: a, path: /v1, upstream: u, colour: red}]\n",
                "routes[0].colour: unknown key"},
        BadCase{"upstreams: [{name: u, url: 'http://h:1'}]\n"
                "routes: [{name: a, path: /v1, upstream: nope}]\n",
                "routes[0].upstream: no upstream named 'nope'"},
        BadCase{"upstreams: [{name: u, url: 'http://h:1'}]\n"
                "routes: [{name: a, path: /v1, upstream: u, stages: [{type: auth, mode: loud}]}]\n",
                "routes[0].stages[0].mode: must be one of enforce|shadow"},
        BadCase{"server: {limits: {max_body_bytes: 0}}\n",
                "server.limits.max_body_bytes: must be in [1,"},
        BadCase{"server: {listen: 'nohost'}\n", "server.listen: must be host:port"},
        BadCase{"principals: [{name: a, key_sha256: [abc]}]\n",
                "principals[0].key_sha256[0]: must be 64 lower-case hex"},
        BadCase{"upstreams: [{name: u, url: 'http://h:1'}]\n"
                "routes: [{name: a, path: /v1, upstream: u}, {name: a, path: /v2, upstream: u}]\n",
                "routes[1].name: duplicate name"},
        BadCase{"upstreams: [{name: u, url: 'http://h:1', api_key_env: RAMPART_TEST_UNSET_ENV}]\n",
                "upstreams[0].api_key_env: environment variable RAMPART_TEST_UNSET_ENV is not set"},
        BadCase{"routes: [\n", "t.yaml: line"}));

TEST(FieldReaderTest, RangeErrorNamesPathAndValue) {
  boost::json::value v = boost::json::object{{"threshold", 1.5}};
  auto r = FieldReader::Open(v, "routes[1].stages[0].config");
  ASSERT_TRUE(r.ok());
  double t = 0.5;
  auto st = r->Double("threshold", &t, 0, 1);
  EXPECT_EQ(st.message(), "routes[1].stages[0].config.threshold: must be in [0,1], got 1.5");
  EXPECT_EQ(t, 0.5);
}

TEST(FieldReaderTest, UnknownKeyIsRejected) {
  boost::json::value v = boost::json::object{{"a", 1}, {"b", 2}};
  auto r = FieldReader::Open(v, "x");
  ASSERT_TRUE(r.ok());
  uint64_t a = 0;
  ASSERT_TRUE(r->Uint("a", &a, 0, 10).ok());
  EXPECT_THAT(std::string(r->Finish().message()), HasSubstr("x.b: unknown key"));
}

TEST(YamlToJsonTest, QuotedScalarsStayStrings) {
  auto v = YamlToJson("a: '1'\nb: 1\nc: true\nd: 1.5\ne: ~\n");
  ASSERT_TRUE(v.ok());
  EXPECT_TRUE(v->at("a").is_string());
  EXPECT_TRUE(v->at("b").is_int64());
  EXPECT_TRUE(v->at("c").is_bool());
  EXPECT_TRUE(v->at("d").is_double());
  EXPECT_TRUE(v->at("e").is_null());
}

TEST(YamlToJsonTest, DeepNestingIsBounded) {
  std::string deep(200, '[');
  deep += std::string(200, ']');
  EXPECT_FALSE(YamlToJson(deep, 64).ok());
}

TEST(ConfigTest, RedactedJsonHidesSecrets) {
  setenv("RAMPART_TEST_UPSTREAM_KEY", "sk-secret-value", 1);
  auto c = ParseConfig(
      "upstreams: [{name: u, url: 'http://h:1', api_key_env: RAMPART_TEST_UPSTREAM_KEY}]\n"
      "routes: [{name: a, path: /v1, upstream: u}]\n",
      "t");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ((*c)->upstreams[0].api_key, "sk-secret-value");
  std::string s = boost::json::serialize(RedactedJson(**c));
  EXPECT_EQ(s.find("sk-secret-value"), std::string::npos);
  EXPECT_NE(s.find("<redacted>"), std::string::npos);
}

TEST(ConfigTest, UpstreamKeyWithAControlCharacterIsRefused) {
  // It becomes an Authorization header line; a CR/LF would let it add headers of its own.
  setenv("RAMPART_TEST_UPSTREAM_KEY_CRLF", "sk-a\r\nx-injected: 1", 1);
  auto c = ParseConfig(
      "upstreams: [{name: u, url: 'http://h:1', api_key_env: RAMPART_TEST_UPSTREAM_KEY_CRLF}]\n"
      "routes: [{name: a, path: /v1, upstream: u}]\n",
      "t");
  ASSERT_FALSE(c.ok());
  EXPECT_NE(std::string(c.status().message()).find("upstreams[0].api_key_env"), std::string::npos)
      << c.status();
  EXPECT_EQ(std::string(c.status().message()).find("x-injected"), std::string::npos);
}

TEST(ConfigTest, KeyFileAddsHashesRelativeToTheConfig) {
  auto dir = std::filesystem::temp_directory_path() / ("rampart-cfg-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  std::string hash(64, 'a');
  std::ofstream(dir / "keys.txt") << "# principal sha256\nalice " << hash << "\n";
  std::ofstream(dir / "g.yaml") << "upstreams: [{name: u, url: 'http://h:1'}]\n"
                                   "principals: [{name: alice}]\n"
                                   "key_file: keys.txt\n"
                                   "routes: [{name: a, path: /v1, upstream: u}]\n";
  auto c = LoadConfigFile((dir / "g.yaml").string());
  ASSERT_TRUE(c.ok()) << c.status();
  ASSERT_EQ((*c)->principals[0].key_sha256.size(), 1u);
  EXPECT_EQ((*c)->principals[0].key_sha256[0], hash);

  std::ofstream(dir / "keys.txt") << "mallory " << hash << "\n";
  c = LoadConfigFile((dir / "g.yaml").string());
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(std::string(c.status().message()), HasSubstr("key_file: line 1: unknown principal"));
  std::filesystem::remove_all(dir);
}

TEST(ConfigTest, AuditStoreDefaultsAndRelativePaths) {
  auto c = ParseConfigIn(
      "stores: {audit: {path: audit.db, key_file: audit.key}}\n"
      "upstreams: [{name: u, url: 'http://h:1'}]\n"
      "routes: [{name: a, path: /v1, upstream: u}]\n",
      "t", "/etc/rampart");
  ASSERT_TRUE(c.ok()) << c.status();
  const auto& s = (*c)->stores;
  EXPECT_TRUE(s.has_audit);
  EXPECT_TRUE(s.audit.enabled);
  EXPECT_EQ(s.audit.path, "/etc/rampart/audit.db");
  EXPECT_EQ(s.audit.key_file, "/etc/rampart/audit.key");
  EXPECT_EQ(s.audit.queue_capacity, 4096u);
  EXPECT_EQ(s.audit.on_full, AuditOnFull::kRefuse);
  EXPECT_EQ(s.audit.durability, AuditDurability::kNormal);
}

TEST(ConfigTest, AuditStoreAbsentMeansNoAudit) {
  auto c = ParseConfig(
      "upstreams: [{name: u, url: 'http://h:1'}]\n"
      "routes: [{name: a, path: /v1, upstream: u}]\n",
      "t");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_FALSE((*c)->stores.has_audit);
}

TEST(ConfigTest, AuditStoreErrorsNameTheField) {
  auto parse = [](const std::string& audit) {
    auto c = ParseConfig("stores: {audit: " + audit +
                             "}\nupstreams: [{name: u, url: 'http://h:1'}]\n"
                             "routes: [{name: a, path: /v1, upstream: u}]\n",
                         "t");
    return c.ok() ? std::string("ok") : std::string(c.status().message());
  };
  EXPECT_THAT(parse("{key_file: k}"), HasSubstr("stores.audit.path"));
  EXPECT_THAT(parse("{path: p}"), HasSubstr("stores.audit.key_file"));
  EXPECT_THAT(parse("{path: p, key_file: k, on_full: drop}"), HasSubstr("stores.audit.on_full"));
  EXPECT_THAT(parse("{path: p, key_file: k, durability: x}"), HasSubstr("stores.audit.durability"));
  EXPECT_THAT(parse("{path: p, key_file: k, queue_capacity: 0}"),
              HasSubstr("stores.audit.queue_capacity"));
  EXPECT_THAT(parse("{path: p, key_file: k, colour: red}"), HasSubstr("stores.audit.colour"));
  EXPECT_EQ(parse("{enabled: false}"), "ok");
}

TEST(ConfigTest, UpstreamExternalFlag) {
  auto parse = [](const std::string& upstream) {
    return ParseConfig(
        "upstreams: [" + upstream + "]\nroutes: [{name: a, path: /v1, upstream: u}]\n", "t");
  };
  auto c = parse("{name: u, url: 'http://h:1', external: true}");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_TRUE((*c)->upstreams[0].external);
  EXPECT_EQ(RedactedJson(**c).at_pointer("/upstreams/0/external"), true);
  auto bad = parse("{name: u, url: 'http://h:1', external: 'yes'}");
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(std::string(bad.status().message()), HasSubstr("upstreams[0].external"));
}

TEST(ConfigTest, StateStoreDefaultsToMemory) {
  auto c = ParseConfig(
      "upstreams: [{name: u, url: 'http://h:1'}]\n"
      "routes: [{name: a, path: /v1, upstream: u}]\n",
      "t");
  ASSERT_TRUE(c.ok()) << c.status();
  const auto& s = (*c)->stores.state;
  EXPECT_EQ(s.kind, StateStoreKind::kMemory);
  EXPECT_EQ(s.prefix, "rampart:");
  EXPECT_EQ(s.connect_timeout_ms, 200u);
  EXPECT_EQ(s.command_timeout_ms, 50u);
}

TEST(ConfigTest, RedisStateStoreWithPasswordFromEnvIsRedacted) {
  setenv("RAMPART_TEST_REDIS_PW", "env-secret", 1);
  auto c = ParseConfig(
      "stores: {state: {kind: redis, url: 'redis://:url-secret@10.0.0.5:6380/2',\n"
      "  password_env: RAMPART_TEST_REDIS_PW, prefix: 'gw1:', command_timeout_ms: 20}}\n"
      "upstreams: [{name: u, url: 'http://h:1'}]\n"
      "routes: [{name: a, path: /v1, upstream: u}]\n",
      "t");
  ASSERT_TRUE(c.ok()) << c.status();
  const auto& s = (*c)->stores.state;
  EXPECT_EQ(s.kind, StateStoreKind::kRedis);
  EXPECT_EQ(s.password, "env-secret");
  EXPECT_EQ(s.prefix, "gw1:");
  EXPECT_EQ(s.command_timeout_ms, 20u);
  EXPECT_EQ(s.connect_timeout_ms, 200u);
  std::string redacted = boost::json::serialize(RedactedJson(**c));
  EXPECT_EQ(redacted.find("secret"), std::string::npos) << redacted;
  EXPECT_THAT(redacted, HasSubstr("redis://:<redacted>@10.0.0.5:6380/2"));
  unsetenv("RAMPART_TEST_REDIS_PW");
}

TEST(ConfigTest, StateStoreErrorsNameTheField) {
  auto parse = [](const std::string& state) {
    auto c = ParseConfig("stores: {state: " + state +
                             "}\nupstreams: [{name: u, url: 'http://h:1'}]\n"
                             "routes: [{name: a, path: /v1, upstream: u}]\n",
                         "t");
    return c.ok() ? std::string("ok") : std::string(c.status().message());
  };
  EXPECT_THAT(parse("{kind: etcd}"), HasSubstr("stores.state.kind"));
  EXPECT_THAT(parse("{kind: redis}"), HasSubstr("stores.state.url"));
  EXPECT_THAT(parse("{kind: redis, url: 'http://h:1'}"), HasSubstr("stores.state.url"));
  EXPECT_THAT(parse("{kind: redis, url: 'redis://:pw@h:0'}"), HasSubstr("stores.state.url"));
  EXPECT_EQ(parse("{kind: redis, url: 'redis://:pw@h:0'}").find("pw@"), std::string::npos);
  EXPECT_THAT(parse("{kind: redis, url: 'redis://h', command_timeout_ms: 0}"),
              HasSubstr("stores.state.command_timeout_ms"));
  EXPECT_THAT(parse("{kind: redis, url: 'redis://h', prefix: 'a b'}"),
              HasSubstr("stores.state.prefix"));
  EXPECT_THAT(parse("{kind: redis, url: 'redis://h', password_env: RAMPART_TEST_UNSET_VAR}"),
              HasSubstr("stores.state.password_env"));
  EXPECT_THAT(parse("{url: 'redis://h'}"), HasSubstr("stores.state.kind"));
  EXPECT_THAT(parse("{kind: redis, url: 'redis://h', colour: red}"),
              HasSubstr("stores.state.colour"));
  EXPECT_EQ(parse("{kind: redis, url: 'unix:///run/redis.sock?db=1'}"), "ok");
  EXPECT_EQ(parse("{kind: memory}"), "ok");
}

TEST(ConfigTest, ApprovalStoreDefaultsRelativePathAndErrors) {
  auto c = ParseConfigIn(
      "stores: {approvals: {path: approvals.db}}\n"
      "upstreams: [{name: u, url: 'http://h:1'}]\n"
      "routes: [{name: a, path: /v1, upstream: u}]\n",
      "t", "/etc/rampart");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_TRUE((*c)->stores.has_approvals);
  EXPECT_EQ((*c)->stores.approvals.path, "/etc/rampart/approvals.db");
  EXPECT_EQ((*c)->stores.approvals.max_pending, 10'000u);
  EXPECT_EQ((*c)->stores.approvals.retention_s, 7u * 24 * 3600);
  auto parse = [](const std::string& approvals) {
    auto r = ParseConfig("stores: {approvals: " + approvals +
                             "}\nupstreams: [{name: u, url: 'http://h:1'}]\n"
                             "routes: [{name: a, path: /v1, upstream: u}]\n",
                         "t");
    return r.ok() ? std::string("ok") : std::string(r.status().message());
  };
  EXPECT_THAT(parse("{}"), HasSubstr("stores.approvals.path"));
  EXPECT_THAT(parse("{path: ''}"), HasSubstr("stores.approvals.path"));
  EXPECT_THAT(parse("{path: a.db, max_pending: 0}"), HasSubstr("stores.approvals.max_pending"));
  EXPECT_THAT(parse("{path: a.db, ttl: 5}"), HasSubstr("stores.approvals.ttl"));
}

TEST(ConfigTest, ListenerTlsDefaultsAndRelativePaths) {
  auto c = ParseConfigIn(
      "server: {tls: {cert_file: server.crt, key_file: /keys/server.key}}\n"
      "upstreams: [{name: u, url: 'http://h:1'}]\n"
      "routes: [{name: a, path: /v1, upstream: u}]\n",
      "t", "/etc/rampart");
  ASSERT_TRUE(c.ok()) << c.status();
  const ListenerTls& t = (*c)->server.tls;
  EXPECT_TRUE(t.enabled);
  EXPECT_EQ(t.cert_file, "/etc/rampart/server.crt");
  EXPECT_EQ(t.key_file, "/keys/server.key");
  EXPECT_EQ(t.min_version, TlsVersion::k12);
  EXPECT_EQ(t.ciphers, "");
  auto plain = ParseConfig(kMinimal, "t");
  ASSERT_TRUE(plain.ok()) << plain.status();
  EXPECT_FALSE((*plain)->server.tls.enabled);
}

TEST(ConfigTest, ListenerTlsMinVersionAsStringOrNumber) {
  auto parse = [](const std::string& v) {
    return ParseConfig("server: {tls: {cert_file: c, key_file: k, min_version: " + v +
                           "}}\nupstreams: [{name: u, url: 'http://h:1'}]\n"
                           "routes: [{name: a, path: /v1, upstream: u}]\n",
                       "t");
  };
  for (const char* v : {"'1.3'", "1.3"}) {
    auto c = parse(v);
    ASSERT_TRUE(c.ok()) << v << ": " << c.status();
    EXPECT_EQ((*c)->server.tls.min_version, TlsVersion::k13) << v;
  }
  auto c = parse("1.2");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ((*c)->server.tls.min_version, TlsVersion::k12);
  for (const char* v : {"'1.1'", "1.0", "tls13", "[1]"}) {
    auto bad = parse(v);
    ASSERT_FALSE(bad.ok()) << v;
    EXPECT_THAT(std::string(bad.status().message()),
                HasSubstr("t: server.tls.min_version: must be \"1.2\" or \"1.3\""))
        << v;
  }
}

TEST(ConfigTest, ListenerTlsErrorsNameTheField) {
  auto parse = [](const std::string& tls) {
    auto c = ParseConfig("server: {tls: " + tls +
                             "}\nupstreams: [{name: u, url: 'http://h:1'}]\n"
                             "routes: [{name: a, path: /v1, upstream: u}]\n",
                         "t");
    return c.ok() ? std::string("ok") : std::string(c.status().message());
  };
  EXPECT_THAT(parse("{key_file: k}"), HasSubstr("server.tls.cert_file"));
  EXPECT_THAT(parse("{cert_file: c}"), HasSubstr("server.tls.key_file"));
  EXPECT_THAT(parse("{cert_file: '', key_file: k}"),
              HasSubstr("server.tls.cert_file: must not be empty"));
  EXPECT_THAT(parse("{cert_file: c, key_file: k, client_ca: x}"),
              HasSubstr("server.tls.client_ca: unknown key"));
  EXPECT_THAT(parse("{cert_file: c, key_file: k, ciphers: 5}"), HasSubstr("server.tls.ciphers"));
  EXPECT_THAT(parse("on"), HasSubstr("server.tls: must be a mapping"));
  EXPECT_EQ(parse("{cert_file: c, key_file: k, ciphers: 'ECDHE+AESGCM'}"), "ok");
}

TEST(ConfigTest, HttpsUpstreams) {
  auto c = ParseConfigIn(
      "upstreams:\n"
      "  - {name: a, url: 'https://api.example.com'}\n"
      "  - {name: b, url: 'https://10.0.0.1:8443/', ca_file: ca.pem}\n"
      "  - {name: c, url: 'https://h:9', tls_insecure_skip_verify: true}\n"
      "  - {name: d, url: 'http://h'}\n"
      "routes: [{name: r, path: /v1, upstream: a}]\n",
      "t", "/etc/rampart");
  ASSERT_TRUE(c.ok()) << c.status();
  const auto& u = (*c)->upstreams;
  EXPECT_TRUE(u[0].tls);
  EXPECT_EQ(u[0].endpoint.host, "api.example.com");
  EXPECT_EQ(u[0].endpoint.port, 443);
  EXPECT_EQ(u[0].ca_file, "");
  EXPECT_FALSE(u[0].tls_insecure_skip_verify);
  EXPECT_EQ(u[1].endpoint.port, 8443);
  EXPECT_EQ(u[1].ca_file, "/etc/rampart/ca.pem");
  EXPECT_TRUE(u[2].tls_insecure_skip_verify);
  EXPECT_FALSE(u[3].tls);
  EXPECT_EQ(u[3].endpoint.port, 80);
  auto redacted = boost::json::serialize(RedactedJson(**c));
  EXPECT_THAT(redacted, HasSubstr("\"url\":\"https://api.example.com:443\""));
  EXPECT_THAT(redacted, HasSubstr("\"tls_insecure_skip_verify\":true"));
}

TEST(ConfigTest, HttpsUpstreamErrorsNameTheField) {
  auto parse = [](const std::string& upstream) {
    auto c = ParseConfig(
        "upstreams: [" + upstream + "]\nroutes: [{name: r, path: /v1, upstream: u}]\n", "t");
    return c.ok() ? std::string("ok") : std::string(c.status().message());
  };
  EXPECT_THAT(parse("{name: u, url: 'http://h:1', ca_file: ca.pem}"),
              HasSubstr("upstreams[0].ca_file: only applies to https:// upstreams"));
  EXPECT_THAT(parse("{name: u, url: 'http://h:1', tls_insecure_skip_verify: true}"),
              HasSubstr("upstreams[0].tls_insecure_skip_verify: only applies to https://"));
  EXPECT_THAT(parse("{name: u, url: 'https://h:1', ca_file: c, tls_insecure_skip_verify: true}"),
              HasSubstr("upstreams[0].tls_insecure_skip_verify: contradicts ca_file"));
  EXPECT_THAT(parse("{name: u, url: 'https://h:1', tls_insecure_skip_verify: 'yes'}"),
              HasSubstr("upstreams[0].tls_insecure_skip_verify"));
  EXPECT_THAT(parse("{name: u, url: 'https://user@h:1'}"),
              HasSubstr("upstreams[0].url: must be a plain host name"));
  EXPECT_THAT(parse("{name: u, url: 'https://h:0'}"),
              HasSubstr("upstreams[0].url: port must not be 0"));
  EXPECT_THAT(parse("{name: u, url: 'https://'}"), HasSubstr("upstreams[0].url"));
  EXPECT_EQ(parse("{name: u, url: 'https://h:1', tls_insecure_skip_verify: false}"), "ok");
}

}  // namespace
}  // namespace rampart::config
