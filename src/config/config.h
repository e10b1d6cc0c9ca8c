// Gateway configuration: the YAML file of `rampart serve`, as typed, validated, immutable
// structs (docs/config.md documents every field and its default).
//
// ParseConfig() checks everything that can be checked without building stages: types, ranges,
// unknown keys, references between sections (a route's upstream exists, names are unique).
// Each stage's `config:` block stays a JSON value here; the stage's factory validates it with
// a FieldReader and the path in StageConfig::path. A Config is immutable once parsed and
// shared (std::shared_ptr<const Config>) by the generation built from it.
//
// Secrets: API keys are stored as SHA-256 hashes; the upstream API key and the admin token
// are read from environment variables named in the file, never from the file itself.
#pragma once

#include <boost/json/value.hpp>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace rampart::config {

struct Endpoint {
  std::string host = "127.0.0.1";
  uint16_t port = 0;
};

// Bounds on what a client may send. Every field has a default that is safe on the internet.
struct Limits {
  uint64_t max_header_bytes = 16 * 1024;    // Default: 16 KiB (request line + headers)
  uint64_t max_headers = 100;               // Default: 100
  uint64_t max_body_bytes = 1024 * 1024;    // Default: 1 MiB
  uint64_t max_json_depth = 64;             // Default: 64
  uint64_t max_messages = 256;              // Default: 256 chat messages
  uint64_t header_timeout_ms = 10'000;      // Default: 10 s to read the request head
  uint64_t body_timeout_ms = 30'000;        // Default: 30 s to read the body
  uint64_t keepalive_timeout_ms = 60'000;   // Default: 60 s idle between requests
  uint64_t max_response_bytes = 16u << 20;  // Default: 16 MiB from the upstream (non-stream)
  uint64_t max_sse_event_bytes = 1u << 20;  // Default: 1 MiB per upstream SSE event
};

enum class TlsVersion { k12, k13 };

// `server.tls`: TLS on the client listener (docs/gateway.md, "TLS"). Certificate and key are
// PEM files, relative to the config file; a reload re-reads them.
struct ListenerTls {
  bool enabled = false;                      // the file has a `server.tls` section
  std::string cert_file;                     // certificate chain, leaf first; required
  std::string key_file;                      // private key of the leaf; required
  TlsVersion min_version = TlsVersion::k12;  // Default: TLS 1.2
  std::string ciphers;  // OpenSSL cipher list for TLS 1.2; empty: OpenSSL's default
};

struct ServerConfig {
  Endpoint listen{"127.0.0.1", 8080};  // Default: 127.0.0.1:8080
  Endpoint admin{"127.0.0.1", 9090};   // Default: 127.0.0.1:9090
  uint64_t threads = 0;                // Default: 0 = one per CPU core
  uint64_t drain_timeout_ms = 10'000;  // Default: 10 s for in-flight exchanges on SIGTERM
  std::string admin_token_env;         // env var with the admin token; empty: admin API only
                                       // serves /healthz and /readyz
  std::string admin_token;             // read from admin_token_env at load (never printed)
  std::string rules_dir;               // Default: the shipped rules/ (see docs/rules.md)
  Limits limits;
  ListenerTls tls;  // Default: off (plain HTTP)
};

struct UpstreamConfig {
  std::string name;
  Endpoint endpoint;                        // from `url: http[s]://host[:port]`
  bool tls = false;                         // url is https://
  std::string ca_file;                      // PEM trust anchors; empty: the system store
  bool tls_insecure_skip_verify = false;    // Default: false (verify chain and host name)
  std::string api_key_env;                  // env var with the key sent upstream; empty: none
  std::string api_key;                      // read from api_key_env at load (never printed)
  uint64_t connect_timeout_ms = 2'000;      // Default: 2 s
  uint64_t first_byte_timeout_ms = 60'000;  // Default: 60 s to the response head
  uint64_t idle_timeout_ms = 30'000;        // Default: 30 s between bytes of the response
  uint64_t max_idle_connections = 32;       // Default: 32 kept-alive per thread
  // A third-party provider: the data_exposure stage refuses or redacts what may not leave.
  bool external = false;  // Default: false
};

struct Principal {
  std::string name;
  std::vector<std::string> key_sha256;  // lower-case hex SHA-256 of each API key
  std::vector<std::string> routes;      // route names allowed; empty: all
  std::vector<std::string> models;      // models allowed; empty: all
};

enum class StageMode { kEnforce, kShadow };
enum class OnError { kBlock, kAllow };

struct StageConfig {
  std::string type;                      // registry name: auth, rate_limit, schema, ...
  StageMode mode = StageMode::kEnforce;  // Default: enforce
  OnError on_error = OnError::kBlock;    // Default: block (fail closed)
  boost::json::value config;             // the stage's own block, validated by its factory
  std::string path;                      // "routes[1].stages[0]" for error messages
};

enum class RouteKind { kOpenAi, kJson, kPassthrough };
std::string_view RouteKindName(RouteKind k);

struct RouteConfig {
  std::string name;
  RouteKind kind = RouteKind::kOpenAi;
  std::string path_prefix;                   // requests whose path starts with it; longest wins
  std::string upstream;                      // name of an upstream
  std::vector<std::string> request_fields;   // json routes: JSON Pointers of texts to inspect
  std::vector<std::string> response_fields;  // json routes: JSON Pointers in the response
  std::vector<StageConfig> stages;
};

enum class AuditOnFull { kRefuse, kBlock };
enum class AuditDurability { kNormal, kFull };

// `stores.audit`: the hash-chained audit log (docs/audit.md). Read at start only; a reload
// does not reopen the log.
struct AuditStoreConfig {
  bool enabled = true;   // Default: true (false: auditing off, with a start-up warning)
  std::string path;      // SQLite file; required when enabled; relative to the config file
  std::string key_file;  // HMAC key file (chmod 600); required when enabled; relative too
  uint64_t queue_capacity = 4096;                         // Default: 4096 records waiting
  AuditOnFull on_full = AuditOnFull::kRefuse;             // Default: refuse (503 audit.unavailable)
  uint64_t block_timeout_ms = 100;                        // Default: 100 ms (on_full: block only)
  AuditDurability durability = AuditDurability::kNormal;  // Default: normal
  // Default: false. true: records also hold the texts the stages inspected, as they left them
  // (redacted), never the operator's system prompt or a blocked text.
  bool redacted_payloads = false;
};

enum class StateStoreKind { kMemory, kRedis };

// `stores.state`: where token buckets (rate limits, quotas) live. `memory` is per process;
// `redis` is shared by every replica pointing at the same server and prefix (docs/gateway.md
// "Shared state"). Read at start only; a reload does not switch stores.
struct StateStoreConfig {
  StateStoreKind kind = StateStoreKind::kMemory;  // Default: memory
  std::string url;           // redis://[[user]:password@]host[:port][/db] or unix:///path[?db=N]
  std::string password_env;  // env var with the Redis password (overrides one in the url)
  std::string password;      // read from password_env at load (never printed)
  std::string prefix = "rampart:";    // Default: "rampart:" before every key
  uint64_t connect_timeout_ms = 200;  // Default: 200 ms
  uint64_t command_timeout_ms = 50;   // Default: 50 ms per Take
};

// `stores.approvals`: tool calls held for human approval (docs/llm-defenses.md). Read at
// start only, like stores.audit; pending approvals survive restarts and reloads.
struct ApprovalStoreConfig {
  std::string path;                      // SQLite file; required; relative to the config file
  uint64_t max_pending = 10'000;         // Default: 10000 pending approvals
  uint64_t retention_s = 7 * 24 * 3600;  // Default: 7 days for decided records
};

struct StoresConfig {
  bool has_audit = false;  // the file has a `stores.audit` section
  AuditStoreConfig audit;
  StateStoreConfig state;
  bool has_approvals = false;  // the file has a `stores.approvals` section
  ApprovalStoreConfig approvals;
};

struct Config {
  std::string source;  // file name, for messages
  ServerConfig server;
  StoresConfig stores;
  std::vector<UpstreamConfig> upstreams;
  std::vector<Principal> principals;
  std::vector<RouteConfig> routes;

  const UpstreamConfig* FindUpstream(std::string_view name) const;
};

// Parses and validates the YAML text of a gateway config. Errors are
// "<source>: <field path>: <message>".
absl::StatusOr<std::shared_ptr<const Config>> ParseConfig(std::string_view yaml,
                                                          std::string_view source);
// As ParseConfig, with relative file paths (key_file, stores.audit) resolved against `dir`.
absl::StatusOr<std::shared_ptr<const Config>> ParseConfigIn(std::string_view yaml,
                                                            std::string_view source,
                                                            const std::string& dir);
absl::StatusOr<std::shared_ptr<const Config>> LoadConfigFile(const std::string& path);

// The config as JSON with every secret replaced by "<redacted>" (for /admin/config).
boost::json::value RedactedJson(const Config& config);

}  // namespace rampart::config
