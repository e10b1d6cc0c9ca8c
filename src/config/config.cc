#include "config/config.h"

#include <boost/json.hpp>
#include <cstdlib>
#include <filesystem>
#include <set>

#include "common/file.h"
#include "common/strings.h"
#include "config/field_reader.h"
#include "state/redis_store.h"

namespace rampart::config {

std::string_view RouteKindName(RouteKind k) {
  switch (k) {
    case RouteKind::kOpenAi:
      return "openai";
    case RouteKind::kJson:
      return "json";
    case RouteKind::kPassthrough:
      return "passthrough";
  }
  return "?";
}

const UpstreamConfig* Config::FindUpstream(std::string_view name) const {
  for (const auto& u : upstreams) {
    if (u.name == name) return &u;
  }
  return nullptr;
}

namespace {

constexpr uint64_t kMaxMs = 24ull * 3600 * 1000;
constexpr size_t kMaxConfigBytes = 4u << 20;
constexpr size_t kMaxKeyFileBytes = 16u << 20;

absl::Status ParseEndpoint(const std::string& s, const std::string& path, Endpoint* out) {
  size_t colon = s.rfind(':');
  if (colon == std::string::npos) return FieldError(path, "must be host:port");
  std::string host = s.substr(0, colon);
  std::string port = s.substr(colon + 1);
  if (host.empty()) return FieldError(path, "must be host:port");
  char* end = nullptr;
  long p = std::strtol(port.c_str(), &end, 10);
  if (port.empty() || *end != '\0' || p < 0 || p > 65535) {
    return FieldError(path, "port must be in [0,65535]");
  }
  out->host = host;
  out->port = static_cast<uint16_t>(p);
  return absl::OkStatus();
}

absl::Status ReadEnvSecret(const std::string& env, const std::string& path, std::string* out) {
  if (env.empty()) return absl::OkStatus();
  const char* v = std::getenv(env.c_str());
  if (v == nullptr || *v == '\0') {
    return FieldError(path, StrCat("environment variable ", env, " is not set"));
  }
  *out = v;
  return absl::OkStatus();
}

bool IsSha256Hex(const std::string& s) {
  if (s.size() != 64) return false;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

#define RETURN_IF_ERROR(expr)           \
  do {                                  \
    if (auto _st = (expr); !_st.ok()) { \
      return _st;                       \
    }                                   \
  } while (0)

absl::Status ParseLimits(const boost::json::value& v, const std::string& path, Limits* l) {
  auto r = FieldReader::Open(v, path);
  if (!r.ok()) return r.status();
  RETURN_IF_ERROR(r->Uint("max_header_bytes", &l->max_header_bytes, 1024, 1u << 20));
  RETURN_IF_ERROR(r->Uint("max_headers", &l->max_headers, 8, 10'000));
  RETURN_IF_ERROR(r->Uint("max_body_bytes", &l->max_body_bytes, 1, 1ull << 30));
  RETURN_IF_ERROR(r->Uint("max_json_depth", &l->max_json_depth, 2, 1024));
  RETURN_IF_ERROR(r->Uint("max_messages", &l->max_messages, 1, 100'000));
  RETURN_IF_ERROR(r->Uint("header_timeout_ms", &l->header_timeout_ms, 10, kMaxMs));
  RETURN_IF_ERROR(r->Uint("body_timeout_ms", &l->body_timeout_ms, 10, kMaxMs));
  RETURN_IF_ERROR(r->Uint("keepalive_timeout_ms", &l->keepalive_timeout_ms, 10, kMaxMs));
  RETURN_IF_ERROR(r->Uint("max_response_bytes", &l->max_response_bytes, 1, 1ull << 32));
  RETURN_IF_ERROR(r->Uint("max_sse_event_bytes", &l->max_sse_event_bytes, 64, 1ull << 28));
  return r->Finish();
}

// A path from the config file, resolved against the file's directory when relative.
std::string ResolvePath(const std::string& f, const std::string& dir) {
  std::filesystem::path p(f);
  if (f.empty() || !p.is_relative() || dir.empty()) return f;
  return (std::filesystem::path(dir) / p).string();
}

absl::Status ParseListenerTls(const boost::json::value& v, const std::string& path,
                              const std::string& dir, ListenerTls* t) {
  auto r = FieldReader::Open(v, path);
  if (!r.ok()) return r.status();
  t->enabled = true;
  RETURN_IF_ERROR(r->String("cert_file", &t->cert_file, /*required=*/true));
  RETURN_IF_ERROR(r->String("key_file", &t->key_file, /*required=*/true));
  if (t->cert_file.empty()) return FieldError(r->Path("cert_file"), "must not be empty");
  if (t->key_file.empty()) return FieldError(r->Path("key_file"), "must not be empty");
  // YAML reads an unquoted 1.2 as a number: accept it as well as the string.
  if (const auto* mv = r->Get("min_version")) {
    std::string m;
    if (mv->is_string()) {
      m = std::string(mv->get_string());
    } else if (mv->is_double() && (mv->get_double() == 1.2 || mv->get_double() == 1.3)) {
      m = mv->get_double() == 1.2 ? "1.2" : "1.3";
    }
    if (m != "1.2" && m != "1.3") {
      return FieldError(r->Path("min_version"), "must be \"1.2\" or \"1.3\"");
    }
    t->min_version = m == "1.3" ? TlsVersion::k13 : TlsVersion::k12;
  }
  RETURN_IF_ERROR(r->String("ciphers", &t->ciphers));
  RETURN_IF_ERROR(r->Finish());
  t->cert_file = ResolvePath(t->cert_file, dir);
  t->key_file = ResolvePath(t->key_file, dir);
  return absl::OkStatus();
}

absl::Status ParseServer(const boost::json::value& v, const std::string& dir, ServerConfig* s) {
  auto r = FieldReader::Open(v, "server");
  if (!r.ok()) return r.status();
  std::string listen, admin;
  RETURN_IF_ERROR(r->String("listen", &listen));
  if (!listen.empty()) RETURN_IF_ERROR(ParseEndpoint(listen, r->Path("listen"), &s->listen));
  RETURN_IF_ERROR(r->String("admin_listen", &admin));
  if (!admin.empty()) RETURN_IF_ERROR(ParseEndpoint(admin, r->Path("admin_listen"), &s->admin));
  RETURN_IF_ERROR(r->Uint("threads", &s->threads, 0, 1024));
  RETURN_IF_ERROR(r->Uint("drain_timeout_ms", &s->drain_timeout_ms, 0, kMaxMs));
  RETURN_IF_ERROR(r->String("admin_token_env", &s->admin_token_env));
  RETURN_IF_ERROR(ReadEnvSecret(s->admin_token_env, r->Path("admin_token_env"), &s->admin_token));
  RETURN_IF_ERROR(r->String("rules_dir", &s->rules_dir));
  if (const auto* l = r->Get("limits"))
    RETURN_IF_ERROR(ParseLimits(*l, r->Path("limits"), &s->limits));
  if (const auto* t = r->Get("tls"))
    RETURN_IF_ERROR(ParseListenerTls(*t, r->Path("tls"), dir, &s->tls));
  return r->Finish();
}

absl::Status ParseStateStore(const boost::json::value& v, const std::string& path,
                             StoresConfig* s) {
  auto r = FieldReader::Open(v, path);
  if (!r.ok()) return r.status();
  StateStoreConfig& c = s->state;
  std::string kind = "memory";
  RETURN_IF_ERROR(r->Enum("kind", {"memory", "redis"}, &kind));
  c.kind = kind == "redis" ? StateStoreKind::kRedis : StateStoreKind::kMemory;
  bool redis = c.kind == StateStoreKind::kRedis;
  RETURN_IF_ERROR(r->String("url", &c.url, /*required=*/redis));
  RETURN_IF_ERROR(r->String("password_env", &c.password_env));
  RETURN_IF_ERROR(r->String("prefix", &c.prefix));
  RETURN_IF_ERROR(r->Uint("connect_timeout_ms", &c.connect_timeout_ms, 1, 60'000));
  RETURN_IF_ERROR(r->Uint("command_timeout_ms", &c.command_timeout_ms, 1, 60'000));
  RETURN_IF_ERROR(r->Finish());
  if (!redis) {
    if (!c.url.empty() || !c.password_env.empty()) {
      return FieldError(r->Path("kind"), "url and password_env need kind: redis");
    }
    return absl::OkStatus();
  }
  if (auto u = state::ParseRedisUrl(c.url); !u.ok()) {
    return FieldError(r->Path("url"), std::string(u.status().message()));
  }
  if (c.prefix.size() > 128) return FieldError(r->Path("prefix"), "at most 128 bytes");
  for (char ch : c.prefix) {
    if (static_cast<unsigned char>(ch) <= ' ' || ch == 0x7f) {
      return FieldError(r->Path("prefix"), "must not contain spaces or control characters");
    }
  }
  return ReadEnvSecret(c.password_env, r->Path("password_env"), &c.password);
}

absl::Status ParseStores(const boost::json::value& v, const std::string& dir, StoresConfig* s) {
  auto r = FieldReader::Open(v, "stores");
  if (!r.ok()) return r.status();
  if (const auto* av = r->Get("audit")) {
    auto a = FieldReader::Open(*av, r->Path("audit"));
    if (!a.ok()) return a.status();
    AuditStoreConfig& c = s->audit;
    s->has_audit = true;
    RETURN_IF_ERROR(a->Bool("enabled", &c.enabled));
    RETURN_IF_ERROR(a->String("path", &c.path, /*required=*/c.enabled));
    RETURN_IF_ERROR(a->String("key_file", &c.key_file, /*required=*/c.enabled));
    if (c.enabled && c.path.empty()) return FieldError(a->Path("path"), "must not be empty");
    if (c.enabled && c.key_file.empty()) {
      return FieldError(a->Path("key_file"), "must not be empty");
    }
    RETURN_IF_ERROR(a->Uint("queue_capacity", &c.queue_capacity, 1, 1u << 20));
    std::string on_full = "refuse", durability = "normal";
    RETURN_IF_ERROR(a->Enum("on_full", {"refuse", "block"}, &on_full));
    RETURN_IF_ERROR(a->Enum("durability", {"normal", "full"}, &durability));
    c.on_full = on_full == "block" ? AuditOnFull::kBlock : AuditOnFull::kRefuse;
    c.durability = durability == "full" ? AuditDurability::kFull : AuditDurability::kNormal;
    RETURN_IF_ERROR(a->Uint("block_timeout_ms", &c.block_timeout_ms, 1, 60'000));
    RETURN_IF_ERROR(a->Bool("redacted_payloads", &c.redacted_payloads));
    RETURN_IF_ERROR(a->Finish());
    for (std::string* f : {&c.path, &c.key_file}) {
      std::filesystem::path p(*f);
      if (!f->empty() && p.is_relative() && !dir.empty())
        *f = (std::filesystem::path(dir) / p).string();
    }
  }
  if (const auto* sv = r->Get("state")) RETURN_IF_ERROR(ParseStateStore(*sv, r->Path("state"), s));
  if (const auto* av = r->Get("approvals")) {
    auto a = FieldReader::Open(*av, r->Path("approvals"));
    if (!a.ok()) return a.status();
    ApprovalStoreConfig& c = s->approvals;
    s->has_approvals = true;
    RETURN_IF_ERROR(a->String("path", &c.path, /*required=*/true));
    if (c.path.empty()) return FieldError(a->Path("path"), "must not be empty");
    RETURN_IF_ERROR(a->Uint("max_pending", &c.max_pending, 1, 1'000'000));
    RETURN_IF_ERROR(a->Uint("retention_s", &c.retention_s, 60, 366ull * 24 * 3600));
    RETURN_IF_ERROR(a->Finish());
    if (std::filesystem::path(c.path).is_relative() && !dir.empty())
      c.path = (std::filesystem::path(dir) / c.path).string();
  }
  return r->Finish();
}

absl::Status ParseUpstream(const boost::json::value& v, const std::string& path,
                           const std::string& dir, UpstreamConfig* u) {
  auto r = FieldReader::Open(v, path);
  if (!r.ok()) return r.status();
  RETURN_IF_ERROR(r->String("name", &u->name, /*required=*/true));
  std::string url;
  RETURN_IF_ERROR(r->String("url", &url, /*required=*/true));
  constexpr std::string_view kHttp = "http://";
  constexpr std::string_view kHttps = "https://";
  std::string hostport;
  if (url.compare(0, kHttp.size(), kHttp) == 0) {
    hostport = url.substr(kHttp.size());
  } else if (url.compare(0, kHttps.size(), kHttps) == 0) {
    hostport = url.substr(kHttps.size());
    u->tls = true;
  } else {
    return FieldError(r->Path("url"), "must be http://host[:port] or https://host[:port]");
  }
  if (!hostport.empty() && hostport.back() == '/') hostport.pop_back();
  if (hostport.find('/') != std::string::npos) {
    return FieldError(r->Path("url"), "must not have a path (routes forward the client's path)");
  }
  if (hostport.find_first_of("@?#[]") != std::string::npos) {
    return FieldError(r->Path("url"), "must be a plain host name or IPv4 address and a port");
  }
  if (!hostport.empty() && hostport.find(':') == std::string::npos) {
    hostport += u->tls ? ":443" : ":80";
  }
  RETURN_IF_ERROR(ParseEndpoint(hostport, r->Path("url"), &u->endpoint));
  if (u->endpoint.port == 0) return FieldError(r->Path("url"), "port must not be 0");
  RETURN_IF_ERROR(r->String("ca_file", &u->ca_file));
  RETURN_IF_ERROR(r->Bool("tls_insecure_skip_verify", &u->tls_insecure_skip_verify));
  if (!u->tls && (!u->ca_file.empty() || u->tls_insecure_skip_verify)) {
    return FieldError(r->Path(u->ca_file.empty() ? "tls_insecure_skip_verify" : "ca_file"),
                      "only applies to https:// upstreams");
  }
  if (!u->ca_file.empty() && u->tls_insecure_skip_verify) {
    return FieldError(r->Path("tls_insecure_skip_verify"),
                      "contradicts ca_file (a CA is only useful when verifying)");
  }
  u->ca_file = ResolvePath(u->ca_file, dir);
  RETURN_IF_ERROR(r->String("api_key_env", &u->api_key_env));
  RETURN_IF_ERROR(ReadEnvSecret(u->api_key_env, r->Path("api_key_env"), &u->api_key));
  for (char c : u->api_key) {
    // It is sent as an Authorization header: a control character would end or split it.
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      return FieldError(r->Path("api_key_env"),
                        StrCat("environment variable ", u->api_key_env,
                               " holds a control character; an API key cannot"));
    }
  }
  RETURN_IF_ERROR(r->Uint("connect_timeout_ms", &u->connect_timeout_ms, 1, kMaxMs));
  RETURN_IF_ERROR(r->Uint("first_byte_timeout_ms", &u->first_byte_timeout_ms, 1, kMaxMs));
  RETURN_IF_ERROR(r->Uint("idle_timeout_ms", &u->idle_timeout_ms, 1, kMaxMs));
  RETURN_IF_ERROR(r->Uint("max_idle_connections", &u->max_idle_connections, 0, 10'000));
  RETURN_IF_ERROR(r->Bool("external", &u->external));
  return r->Finish();
}

absl::Status ParsePrincipal(const boost::json::value& v, const std::string& path, Principal* p) {
  auto r = FieldReader::Open(v, path);
  if (!r.ok()) return r.status();
  RETURN_IF_ERROR(r->String("name", &p->name, /*required=*/true));
  RETURN_IF_ERROR(r->StringList("key_sha256", &p->key_sha256));
  for (size_t i = 0; i < p->key_sha256.size(); ++i) {
    if (!IsSha256Hex(p->key_sha256[i])) {
      return FieldError(StrCat(r->Path("key_sha256"), "[", i, "]"),
                        "must be 64 lower-case hex digits (sha256 of the key)");
    }
  }
  RETURN_IF_ERROR(r->StringList("routes", &p->routes));
  RETURN_IF_ERROR(r->StringList("models", &p->models));
  return r->Finish();
}

absl::Status ParseStage(const boost::json::value& v, const std::string& path, StageConfig* s) {
  auto r = FieldReader::Open(v, path);
  if (!r.ok()) return r.status();
  s->path = path;
  RETURN_IF_ERROR(r->String("type", &s->type, /*required=*/true));
  std::string mode = "enforce", on_error = "block";
  RETURN_IF_ERROR(r->Enum("mode", {"enforce", "shadow"}, &mode));
  RETURN_IF_ERROR(r->Enum("on_error", {"block", "allow"}, &on_error));
  s->mode = mode == "shadow" ? StageMode::kShadow : StageMode::kEnforce;
  s->on_error = on_error == "allow" ? OnError::kAllow : OnError::kBlock;
  if (const auto* c = r->Get("config")) {
    if (!c->is_object()) return FieldError(r->Path("config"), "must be a mapping");
    s->config = *c;
  } else {
    s->config = boost::json::object();
  }
  return r->Finish();
}

absl::Status ParseRoute(const boost::json::value& v, const std::string& path, RouteConfig* rt) {
  auto r = FieldReader::Open(v, path);
  if (!r.ok()) return r.status();
  RETURN_IF_ERROR(r->String("name", &rt->name, /*required=*/true));
  std::string kind = "openai";
  RETURN_IF_ERROR(r->Enum("kind", {"openai", "json", "passthrough"}, &kind));
  rt->kind = kind == "json"          ? RouteKind::kJson
             : kind == "passthrough" ? RouteKind::kPassthrough
                                     : RouteKind::kOpenAi;
  RETURN_IF_ERROR(r->String("path", &rt->path_prefix, /*required=*/true));
  if (rt->path_prefix.empty() || rt->path_prefix[0] != '/') {
    return FieldError(r->Path("path"), "must start with '/'");
  }
  RETURN_IF_ERROR(r->String("upstream", &rt->upstream, /*required=*/true));
  RETURN_IF_ERROR(r->StringList("request_fields", &rt->request_fields));
  RETURN_IF_ERROR(r->StringList("response_fields", &rt->response_fields));
  for (const auto* list : {&rt->request_fields, &rt->response_fields}) {
    for (const auto& p : *list) {
      if (!p.empty() && p[0] != '/') {
        return FieldError(
            r->Path(list == &rt->request_fields ? "request_fields" : "response_fields"),
            "entries must be JSON Pointers starting with '/'");
      }
    }
  }
  if (rt->kind != RouteKind::kJson &&
      (!rt->request_fields.empty() || !rt->response_fields.empty())) {
    return FieldError(r->Path("request_fields"), "only json routes choose fields");
  }
  if (const auto* st = r->Get("stages")) {
    if (!st->is_array()) return FieldError(r->Path("stages"), "must be a list");
    size_t i = 0;
    for (const auto& e : st->get_array()) {
      StageConfig sc;
      RETURN_IF_ERROR(ParseStage(e, StrCat(r->Path("stages"), "[", i++, "]"), &sc));
      rt->stages.push_back(std::move(sc));
    }
  }
  return r->Finish();
}

template <typename T, typename Fn>
absl::Status ParseList(FieldReader& r, std::string_view key, std::vector<T>* out, Fn fn) {
  const auto* v = r.Get(key);
  if (v == nullptr) return absl::OkStatus();
  if (!v->is_array()) return FieldError(r.Path(key), "must be a list");
  size_t i = 0;
  for (const auto& e : v->get_array()) {
    T t;
    RETURN_IF_ERROR(fn(e, StrCat(r.Path(key), "[", i++, "]"), &t));
    out->push_back(std::move(t));
  }
  return absl::OkStatus();
}

absl::Status ReadKeyFile(const std::string& path, const std::string& field, Config* c) {
  auto text = ReadFileBounded(path, kMaxKeyFileBytes);
  if (!text.ok()) return FieldError(field, std::string(text.status().message()));
  size_t line_no = 0, pos = 0;
  while (pos < text->size()) {
    size_t nl = text->find('\n', pos);
    if (nl == std::string::npos) nl = text->size();
    std::string line = text->substr(pos, nl - pos);
    pos = nl + 1;
    ++line_no;
    if (line.empty() || line[0] == '#') continue;
    size_t sp = line.find(' ');
    std::string name = line.substr(0, sp);
    std::string hash = sp == std::string::npos ? "" : line.substr(sp + 1);
    if (!IsSha256Hex(hash)) {
      return FieldError(field, StrCat("line ", line_no, ": expected '<principal> <sha256 hex>'"));
    }
    Principal* p = nullptr;
    for (auto& q : c->principals) {
      if (q.name == name) p = &q;
    }
    if (p == nullptr) return FieldError(field, StrCat("line ", line_no, ": unknown principal"));
    p->key_sha256.push_back(hash);
  }
  return absl::OkStatus();
}

absl::Status ParseRoot(const boost::json::value& root, const std::string& dir, Config* c) {
  auto r = FieldReader::Open(root, "");
  if (!r.ok()) return r.status();
  if (const auto* s = r->Get("server")) RETURN_IF_ERROR(ParseServer(*s, dir, &c->server));
  if (const auto* s = r->Get("stores")) RETURN_IF_ERROR(ParseStores(*s, dir, &c->stores));
  RETURN_IF_ERROR(ParseList(*r, "upstreams", &c->upstreams,
                            [&dir](const boost::json::value& e, const std::string& path,
                                   UpstreamConfig* u) { return ParseUpstream(e, path, dir, u); }));
  RETURN_IF_ERROR(ParseList(*r, "principals", &c->principals, ParsePrincipal));
  std::string key_file;
  RETURN_IF_ERROR(r->String("key_file", &key_file));
  RETURN_IF_ERROR(ParseList(*r, "routes", &c->routes, ParseRoute));
  RETURN_IF_ERROR(r->Finish());
  if (!key_file.empty()) {
    std::filesystem::path p(key_file);
    if (p.is_relative() && !dir.empty()) p = std::filesystem::path(dir) / p;
    RETURN_IF_ERROR(ReadKeyFile(p.string(), "key_file", c));
  }

  std::set<std::string> names;
  for (size_t i = 0; i < c->upstreams.size(); ++i) {
    if (!names.insert(c->upstreams[i].name).second) {
      return FieldError(StrCat("upstreams[", i, "].name"), "duplicate name");
    }
  }
  names.clear();
  std::set<std::string> hashes;
  for (size_t i = 0; i < c->principals.size(); ++i) {
    if (!names.insert(c->principals[i].name).second) {
      return FieldError(StrCat("principals[", i, "].name"), "duplicate name");
    }
    for (const auto& h : c->principals[i].key_sha256) {
      if (!hashes.insert(h).second) {
        return FieldError(StrCat("principals[", i, "].key_sha256"),
                          "a key belongs to two principals");
      }
    }
  }
  if (c->routes.empty()) return FieldError("routes", "at least one route is required");
  names.clear();
  std::set<std::string> prefixes;
  for (size_t i = 0; i < c->routes.size(); ++i) {
    const auto& rt = c->routes[i];
    if (!names.insert(rt.name).second) {
      return FieldError(StrCat("routes[", i, "].name"), "duplicate name");
    }
    if (!prefixes.insert(rt.path_prefix).second) {
      return FieldError(StrCat("routes[", i, "].path"), "two routes have the same path");
    }
    if (c->FindUpstream(rt.upstream) == nullptr) {
      return FieldError(StrCat("routes[", i, "].upstream"),
                        StrCat("no upstream named '", rt.upstream, "'"));
    }
  }
  for (size_t i = 0; i < c->principals.size(); ++i) {
    const auto& p = c->principals[i];
    for (size_t j = 0; j < p.routes.size(); ++j) {
      if (!names.count(p.routes[j])) {
        return FieldError(StrCat("principals[", i, "].routes[", j, "]"),
                          StrCat("no route named '", p.routes[j], "'"));
      }
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::shared_ptr<const Config>> ParseConfigIn(std::string_view yaml,
                                                            std::string_view source,
                                                            const std::string& dir) {
  auto json = YamlToJson(yaml);
  if (!json.ok()) return absl::InvalidArgumentError(StrCat(source, ": ", json.status().message()));
  auto c = std::make_shared<Config>();
  c->source = std::string(source);
  if (auto st = ParseRoot(*json, dir, c.get()); !st.ok()) {
    return absl::InvalidArgumentError(StrCat(source, ": ", st.message()));
  }
  return std::shared_ptr<const Config>(std::move(c));
}

absl::StatusOr<std::shared_ptr<const Config>> ParseConfig(std::string_view yaml,
                                                          std::string_view source) {
  return ParseConfigIn(yaml, source, "");
}

absl::StatusOr<std::shared_ptr<const Config>> LoadConfigFile(const std::string& path) {
  auto text = ReadFileBounded(path, kMaxConfigBytes);
  if (!text.ok()) return text.status();
  return ParseConfigIn(*text, path, std::filesystem::path(path).parent_path().string());
}

boost::json::value RedactedJson(const Config& c) {
  namespace json = boost::json;
  auto ep = [](const Endpoint& e) { return json::value(StrCat(e.host, ":", e.port)); };
  json::object root;
  const auto& l = c.server.limits;
  root["server"] =
      json::object{{"listen", ep(c.server.listen)},
                   {"admin_listen", ep(c.server.admin)},
                   {"threads", c.server.threads},
                   {"drain_timeout_ms", c.server.drain_timeout_ms},
                   {"admin_token_env", c.server.admin_token_env},
                   {"admin_token", c.server.admin_token.empty() ? "" : "<redacted>"},
                   {"limits", json::object{{"max_header_bytes", l.max_header_bytes},
                                           {"max_headers", l.max_headers},
                                           {"max_body_bytes", l.max_body_bytes},
                                           {"max_json_depth", l.max_json_depth},
                                           {"max_messages", l.max_messages},
                                           {"header_timeout_ms", l.header_timeout_ms},
                                           {"body_timeout_ms", l.body_timeout_ms},
                                           {"keepalive_timeout_ms", l.keepalive_timeout_ms},
                                           {"max_response_bytes", l.max_response_bytes},
                                           {"max_sse_event_bytes", l.max_sse_event_bytes}}}};
  if (c.server.tls.enabled) {
    const auto& t = c.server.tls;
    root["server"].get_object()["tls"] =
        json::object{{"cert_file", t.cert_file},
                     {"key_file", t.key_file},
                     {"min_version", t.min_version == TlsVersion::k13 ? "1.3" : "1.2"},
                     {"ciphers", t.ciphers}};
  }
  json::array ups;
  for (const auto& u : c.upstreams) {
    ups.push_back(json::object{
        {"name", u.name},
        {"url", StrCat(u.tls ? "https://" : "http://", u.endpoint.host, ":", u.endpoint.port)},
        {"ca_file", u.ca_file},
        {"tls_insecure_skip_verify", u.tls_insecure_skip_verify},
        {"api_key_env", u.api_key_env},
        {"api_key", u.api_key.empty() ? "" : "<redacted>"},
        {"connect_timeout_ms", u.connect_timeout_ms},
        {"first_byte_timeout_ms", u.first_byte_timeout_ms},
        {"idle_timeout_ms", u.idle_timeout_ms},
        {"max_idle_connections", u.max_idle_connections},
        {"external", u.external}});
  }
  root["upstreams"] = std::move(ups);
  if (c.stores.has_audit) {
    const auto& a = c.stores.audit;
    root["stores"] = json::object{
        {"audit",
         json::object{{"enabled", a.enabled},
                      {"path", a.path},
                      {"key_file", a.key_file},
                      {"queue_capacity", a.queue_capacity},
                      {"on_full", a.on_full == AuditOnFull::kBlock ? "block" : "refuse"},
                      {"block_timeout_ms", a.block_timeout_ms},
                      {"durability", a.durability == AuditDurability::kFull ? "full" : "normal"},
                      {"redacted_payloads", a.redacted_payloads}}}};
  }
  if (c.stores.state.kind == StateStoreKind::kRedis) {
    const auto& st = c.stores.state;
    std::string url = "<invalid>";
    if (auto u = state::ParseRedisUrl(st.url); u.ok()) {
      std::string cred = u->password.empty() ? "" : StrCat(u->username, ":<redacted>@");
      url = u->unix_path.empty() ? StrCat("redis://", cred, u->host, ":", u->port, "/", u->db)
                                 : StrCat("unix://", u->unix_path, "?db=", u->db);
    }
    if (!root.contains("stores")) root["stores"] = json::object();
    root["stores"].as_object()["state"] =
        json::object{{"kind", "redis"},
                     {"url", url},
                     {"password_env", st.password_env},
                     {"password", st.password.empty() ? "" : "<redacted>"},
                     {"prefix", st.prefix},
                     {"connect_timeout_ms", st.connect_timeout_ms},
                     {"command_timeout_ms", st.command_timeout_ms}};
  }
  if (c.stores.has_approvals) {
    const auto& a = c.stores.approvals;
    if (!root["stores"].is_object()) root["stores"] = json::object();
    root["stores"].as_object()["approvals"] = json::object{
        {"path", a.path}, {"max_pending", a.max_pending}, {"retention_s", a.retention_s}};
  }
  json::array ps;
  for (const auto& p : c.principals) {
    json::array routes(p.routes.begin(), p.routes.end());
    json::array models(p.models.begin(), p.models.end());
    ps.push_back(json::object{{"name", p.name},
                              {"keys", p.key_sha256.size()},
                              {"routes", std::move(routes)},
                              {"models", std::move(models)}});
  }
  root["principals"] = std::move(ps);
  json::array rs;
  for (const auto& r : c.routes) {
    json::array stages;
    for (const auto& s : r.stages) {
      stages.push_back(json::object{{"type", s.type},
                                    {"mode", s.mode == StageMode::kShadow ? "shadow" : "enforce"},
                                    {"on_error", s.on_error == OnError::kAllow ? "allow" : "block"},
                                    {"config", s.config}});
    }
    rs.push_back(json::object{{"name", r.name},
                              {"kind", RouteKindName(r.kind)},
                              {"path", r.path_prefix},
                              {"upstream", r.upstream},
                              {"stages", std::move(stages)}});
  }
  root["routes"] = std::move(rs);
  return root;
}

}  // namespace rampart::config
