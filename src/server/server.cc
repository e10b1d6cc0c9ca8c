#include "server/server.h"

#include <openssl/crypto.h>
#include <openssl/ssl.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>
#include <chrono>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <thread>
#include <unordered_map>
#include <vector>

#include "common/crypto.h"
#include "common/strings.h"
#include "config/config.h"
#include "pipeline/exchange.h"
#include "server/generation.h"
#include "server/request_body.h"
#include "server/sse.h"
#include "server/tls.h"
#include "state/store.h"

namespace rampart::server {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace json = boost::json;
using tcp = asio::ip::tcp;
using pipeline::LabelValue;
using std::chrono::milliseconds;

namespace {

constexpr auto kNoThrow = asio::as_tuple(asio::use_awaitable);
constexpr size_t kMaxConnections = 10'000;
constexpr const char* kAuditUnavailable = "audit.unavailable";
constexpr size_t kMaxStreamChoices = 16;
constexpr uint64_t kAdminTimeoutMs = 5'000;
constexpr size_t kUpstreamHeaderLimit = 64 * 1024;

int64_t NowUnixMs() {
  return std::chrono::duration_cast<milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string NewRequestId() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  return fmt::format("req_{:016x}", rng());
}

std::string JsonEscape(std::string_view s) { return json::serialize(json::string(s)); }

// One JSON line on stderr; a single write() so lines from threads do not interleave.
void LogLine(std::string line) {
  line += '\n';
  ssize_t rc = ::write(2, line.data(), line.size());
  (void)rc;
}

void LogEvent(std::string_view level, std::string_view event, std::string_view detail = "") {
  std::string line =
      StrCat("{\"ts\":", NowUnixMs(), ",\"level\":\"", level, "\",\"event\":\"", event, "\"");
  if (!detail.empty()) StrAppend(&line, ",\"detail\":", JsonEscape(detail));
  line += '}';
  LogLine(std::move(line));
}

// Request headers never forwarded upstream: the hop-by-hop ones of RFC 9110 7.6.1 (and every
// Proxy-* header), plus those the gateway sets itself or must not pass on (the client's
// credentials, framing, encodings the stages could not read).
std::string AsciiLower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

bool IsHopByHop(std::string_view name) {
  static constexpr std::string_view kHop[] = {
      "connection", "keep-alive",      "proxy-authenticate", "proxy-authorization",
      "te",         "trailer",         "transfer-encoding",  "upgrade",
      "host",       "authorization",   "content-length",     "accept-encoding",
      "expect",     "proxy-connection"};
  for (auto h : kHop) {
    if (beast::iequals(name, h)) return true;
  }
  constexpr std::string_view kProxy = "proxy-";
  return name.size() >= kProxy.size() && beast::iequals(name.substr(0, kProxy.size()), kProxy);
}

// The header names a message's Connection header(s) list (RFC 9110 7.6.1), lower-cased: hop-by-hop
// too. Bounded by the request head limits (limits.max_header_bytes).
std::set<std::string> ConnectionOptions(const http::fields& fields) {
  std::set<std::string> out;
  for (const auto& f : fields) {
    if (f.name() != http::field::connection) continue;
    for (const auto& token : http::token_list(f.value())) out.insert(AsciiLower(token));
  }
  return out;
}

// Idle keep-alive connections to upstreams, owned by one worker thread.
class UpstreamPool {
 public:
  std::unique_ptr<Stream> Take(const std::string& key) {
    auto it = idle_.find(key);
    if (it == idle_.end() || it->second.empty()) return nullptr;
    auto s = std::move(it->second.back());
    it->second.pop_back();
    return s;
  }
  void Give(const std::string& key, std::unique_ptr<Stream> s, size_t max_idle) {
    auto& v = idle_[key];
    if (v.size() < max_idle) v.push_back(std::move(s));
  }

 private:
  std::unordered_map<std::string, std::vector<std::unique_ptr<Stream>>> idle_;
};

struct Worker {
  asio::io_context ioc{1};
  UpstreamPool pool;
  std::thread thread;
};

}  // namespace

struct Server::Impl {
  ServerOptions options;
  pipeline::Metrics metrics;
  state::InProcessStore store;
  std::vector<std::unique_ptr<Worker>> workers;
  asio::io_context control{1};
  std::thread control_thread;
  std::unique_ptr<tcp::acceptor> acceptor;        // on workers[0]
  std::unique_ptr<tcp::acceptor> admin_acceptor;  // on control
  std::unique_ptr<asio::signal_set> signals;
  uint16_t port = 0;
  uint16_t admin_port = 0;

  mutable std::mutex gen_mu;
  std::shared_ptr<const Generation> current_gen;
  uint64_t gen_number = 0;
  std::mutex reload_mu;

  std::atomic<bool> draining{false};
  std::atomic<bool> stopped{false};
  std::atomic<int64_t> active_exchanges{0};
  std::atomic<size_t> connections{0};
  std::atomic<size_t> next_worker{0};
  std::once_flag shutdown_once;

  std::shared_ptr<const Generation> Current() const {
    std::lock_guard<std::mutex> lock(gen_mu);
    return current_gen;
  }

  absl::Status Reload();
  void BeginShutdown();
  void WatchDrain(std::chrono::steady_clock::time_point deadline);

  asio::awaitable<void> Accept();
  asio::awaitable<void> Session(tcp::socket socket, Worker& w);
  // The server side of a TLS handshake, bounded by header_timeout_ms; false (and counted in
  // rampart_tls_handshake_failures_total) when it failed and the connection is closed.
  asio::awaitable<bool> TlsAccept(Stream& stream, const Generation& gen);
  asio::awaitable<bool> HandleExchange(Stream& stream, http::request<http::string_body> req,
                                       std::shared_ptr<const Generation> gen, Worker& w,
                                       const std::string& client_ip);
  // Submits `rec` to the sink and waits, without blocking the io thread, until it is durable
  // (true) or refused or failed (false). True at once when there is no sink.
  asio::awaitable<bool> AwaitDurable(const pipeline::ExchangeRecord& rec);
  asio::awaitable<void> AdminAccept();
  asio::awaitable<void> AdminSession(tcp::socket socket);
  http::response<http::string_body> Admin(const http::request<http::string_body>& req);
  void ListenSignals();
};

namespace {

// Everything an exchange carries between its phases.
struct Ctx {
  pipeline::Exchange ex;
  config::RouteKind kind = config::RouteKind::kJson;
  bool keep_alive = true;
  std::chrono::steady_clock::time_point start = std::chrono::steady_clock::now();
  std::string response_hash;
};

http::response<http::string_body> MakeResponse(http::status status, unsigned version,
                                               std::string_view content_type, std::string body,
                                               const std::string& request_id, bool keep_alive) {
  http::response<http::string_body> res{status, version};
  res.set(http::field::server, "rampart");
  res.set(http::field::content_type, content_type);
  if (!request_id.empty()) res.set("x-request-id", request_id);
  res.body() = std::move(body);
  res.keep_alive(keep_alive);
  res.prepare_payload();
  return res;
}

http::response<http::string_body> ErrorResponse(config::RouteKind kind, int status,
                                                std::string_view reason, std::string_view message,
                                                const std::string& request_id, unsigned version,
                                                bool keep_alive, uint32_t retry_after = 0) {
  auto res =
      MakeResponse(static_cast<http::status>(status), version, "application/json",
                   ErrorBody(kind, status, reason, message, request_id), request_id, keep_alive);
  if (retry_after > 0) res.set(http::field::retry_after, std::to_string(retry_after));
  return res;
}

template <class AnyStream>  // Stream, or the admin listener's plain tcp_stream
asio::awaitable<bool> Write(AnyStream& stream, http::response<http::string_body>& res,
                            uint64_t timeout_ms) {
  stream.expires_after(milliseconds(timeout_ms));
  auto [ec, n] = co_await http::async_write(stream, res, kNoThrow);
  (void)n;
  co_return !ec;
}

// Closes after an answer when the client may still be sending (an oversized body, a slow
// head): stop writing, then read and drop what arrives for a moment, so the client reads our
// response instead of a reset.
asio::awaitable<void> LingeringClose(Stream& stream) {
  boost::system::error_code ec;
  stream.expires_after(milliseconds(500));
  if (stream.tls() != nullptr) {
    // close_notify, then the peer's (or the timeout): TLS has no half-close of its own.
    auto [sec] = co_await stream.tls()->async_shutdown(kNoThrow);
    (void)sec;
    stream.socket().close(ec);
    co_return;
  }
  stream.socket().shutdown(tcp::socket::shutdown_send, ec);
  std::array<char, 8192> buf;
  size_t total = 0;
  while (total < (1u << 20)) {
    auto [rec, n] = co_await stream.async_read_some(asio::buffer(buf), kNoThrow);
    if (rec) break;
    total += n;
  }
  stream.socket().close(ec);
}

}  // namespace

asio::awaitable<void> Server::Impl::Accept() {
  for (;;) {
    size_t i = next_worker.fetch_add(1, std::memory_order_relaxed) % workers.size();
    Worker& w = *workers[i];
    auto [ec, socket] = co_await acceptor->async_accept(w.ioc, kNoThrow);
    if (ec) {
      if (ec == asio::error::operation_aborted || draining.load()) co_return;
      LogEvent("warn", "accept_error", ec.message());
      continue;
    }
    if (connections.load() >= kMaxConnections) {
      metrics.Add("rampart_connections_refused_total", "", 1, "Connections over the limit");
      boost::system::error_code ignored;
      socket.close(ignored);
      continue;
    }
    asio::co_spawn(w.ioc, Session(std::move(socket), w), asio::detached);
  }
}

asio::awaitable<void> Server::Impl::Session(tcp::socket socket, Worker& w) {
  connections.fetch_add(1);
  struct Dec {
    std::atomic<size_t>& c;
    ~Dec() { c.fetch_sub(1); }
  } dec{connections};
  try {
    boost::system::error_code ec;
    std::string client_ip = socket.remote_endpoint(ec).address().to_string();
    // The generation whose TLS context this connection uses; kept alive with it.
    std::shared_ptr<const Generation> tls_gen = Current();
    asio::ssl::context* tls_ctx = tls_gen->tls().listener();
    std::optional<Stream> stream_holder;
    if (tls_ctx == nullptr) {
      stream_holder.emplace(beast::tcp_stream(std::move(socket)));
    } else {
      // TLS sends small records of its own (session tickets after the handshake): without
      // TCP_NODELAY the first response waits behind them for the client's delayed ACK.
      socket.set_option(tcp::no_delay(true), ec);
      stream_holder.emplace(beast::tcp_stream(std::move(socket)), *tls_ctx);
    }
    Stream& stream = *stream_holder;
    if (tls_ctx != nullptr) {
      bool handshake_ok = co_await TlsAccept(stream, *tls_gen);
      if (!handshake_ok) co_return;
    }
    beast::flat_buffer buffer;
    asio::steady_timer deadline(stream.get_executor());
    bool timed_out = false;
    auto arm = [&](uint64_t ms) {
      timed_out = false;
      deadline.expires_after(milliseconds(ms));
      deadline.async_wait([&timed_out, &stream](const boost::system::error_code& e) {
        if (e) return;
        timed_out = true;
        boost::system::error_code ignored;
        stream.socket().cancel(ignored);
      });
    };
    bool first = true;
    for (;;) {
      auto gen = Current();
      const config::Limits& limits = gen->config().server.limits;
      http::request_parser<http::string_body> parser;
      parser.header_limit(static_cast<std::uint32_t>(limits.max_header_bytes));
      parser.body_limit(limits.max_body_bytes);
      if (!first && buffer.size() == 0) {
        // Between requests: wait for the next one up to the keep-alive timeout.
        stream.expires_after(milliseconds(limits.keepalive_timeout_ms));
        auto [wec, wn] = co_await stream.async_read_some(buffer.prepare(4096), kNoThrow);
        if (wec || draining.load()) co_return;
        buffer.commit(wn);
      }
      // Read deadlines cancel the read instead of closing the socket (as tcp_stream's own
      // timeouts do), so a slow client still gets its 408.
      stream.expires_never();
      arm(limits.header_timeout_ms);
      auto [hec, hn] = co_await http::async_read_header(stream, buffer, parser, kNoThrow);
      deadline.cancel();
      if (hec == asio::error::operation_aborted && timed_out) hec = beast::error::timeout;
      (void)hn;
      auto fail = [&](int status, const char* reason, const char* message) {
        metrics.Add("rampart_requests_rejected_total", StrCat("reason=\"", reason, "\""), 1,
                    "Requests refused while reading them");
        return ErrorResponse(config::RouteKind::kJson, status, reason, message, NewRequestId(), 11,
                             false);
      };
      if (hec) {
        if (hec == http::error::end_of_stream || hec == asio::error::eof ||
            hec == asio::error::connection_reset) {
          co_return;
        }
        http::response<http::string_body> res;
        if (hec == beast::error::timeout) {
          if (buffer.size() == 0 && !first) co_return;
          res = fail(408, "request.timeout", "the request head was not received in time");
        } else if (hec == http::error::body_limit) {
          res = fail(413, "request.too_large", "the request body is too large");
        } else if (hec == http::error::header_limit) {
          res = fail(431, "request.headers_too_large", "the request head is too large");
        } else {
          res = fail(400, "request.malformed", "the request is not valid HTTP/1.1");
        }
        co_await Write(stream, res, limits.body_timeout_ms);
        co_await LingeringClose(stream);
        co_return;
      }
      size_t header_count = 0;
      for (auto it = parser.get().begin(); it != parser.get().end(); ++it) ++header_count;
      if (header_count > limits.max_headers) {
        auto res = fail(431, "request.too_many_headers", "the request has too many headers");
        co_await Write(stream, res, limits.body_timeout_ms);
        co_await LingeringClose(stream);
        co_return;
      }
      if (!parser.is_done()) {
        arm(limits.body_timeout_ms);
        auto [bec, bn] = co_await http::async_read(stream, buffer, parser, kNoThrow);
        (void)bn;
        deadline.cancel();
        if (bec == asio::error::operation_aborted && timed_out) bec = beast::error::timeout;
        if (bec) {
          http::response<http::string_body> res;
          if (bec == http::error::body_limit) {
            res = fail(413, "request.too_large", "the request body is too large");
          } else if (bec == beast::error::timeout) {
            res = fail(408, "request.timeout", "the request body was not received in time");
          } else if (bec == http::error::end_of_stream || bec == asio::error::eof ||
                     bec == asio::error::connection_reset) {
            co_return;
          } else {
            res = fail(400, "request.malformed", "the request body is not valid HTTP/1.1");
          }
          co_await Write(stream, res, limits.body_timeout_ms);
          co_await LingeringClose(stream);
          co_return;
        }
      }
      active_exchanges.fetch_add(1);
      bool keep = false;
      try {
        keep = co_await HandleExchange(stream, parser.release(), gen, w, client_ip);
      } catch (...) {
        active_exchanges.fetch_sub(1);
        throw;
      }
      active_exchanges.fetch_sub(1);
      if (!keep || draining.load()) {
        co_await LingeringClose(stream);
        co_return;
      }
      first = false;
    }
  } catch (const std::exception& e) {
    LogEvent("error", "session_exception", e.what());
  }
}

asio::awaitable<bool> Server::Impl::TlsAccept(Stream& stream, const Generation& gen) {
  stream.expires_after(milliseconds(gen.config().server.limits.header_timeout_ms));
  auto [ec] = co_await stream.tls()->async_handshake(asio::ssl::stream_base::server, kNoThrow);
  if (!ec) {
    stream.expires_never();
    metrics.Add("rampart_tls_handshakes_total", "", 1, "Client TLS handshakes completed");
    co_return true;
  }
  const char* reason = "error";
  boost::system::error_code ignored;
  if (ec == beast::error::timeout) {
    reason = "timeout";
  } else if (IsPlainHttpOnTls(ec)) {
    // A plain HTTP request on the TLS port: say so in plain HTTP, then close.
    reason = "plain_http";
    static constexpr std::string_view kPlain =
        "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\nContent-Length: 44\r\n"
        "Connection: close\r\n\r\nthis port speaks HTTPS; use an https:// URL\n";
    stream.expires_after(milliseconds(1000));
    auto [wec, wn] = co_await asio::async_write(
        stream.lowest(), asio::buffer(kPlain.data(), kPlain.size()), kNoThrow);
    (void)wec;
    (void)wn;
    stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
    // Drain what the client still sends for a moment, so it reads the answer, not a reset.
    std::array<char, 4096> drain;
    for (size_t total = 0; total < (64u << 10);) {
      auto [rec, n] = co_await stream.lowest().async_read_some(asio::buffer(drain), kNoThrow);
      if (rec) break;
      total += n;
    }
  } else if (ec == asio::error::eof || ec == asio::error::connection_reset ||
             ec == asio::ssl::error::stream_truncated) {
    reason = "closed";
  }
  metrics.Add("rampart_tls_handshake_failures_total", StrCat("reason=\"", reason, "\""), 1,
              "Client TLS handshakes that failed, by reason");
  stream.socket().close(ignored);
  co_return false;
}

asio::awaitable<bool> Server::Impl::HandleExchange(Stream& stream,
                                                   http::request<http::string_body> req,
                                                   std::shared_ptr<const Generation> gen, Worker& w,
                                                   const std::string& client_ip) {
  const config::Config& cfg = gen->config();
  const config::Limits& limits = cfg.server.limits;
  Ctx c;
  pipeline::Exchange& ex = c.ex;
  ex.config = &cfg;
  ex.client_ip = client_ip;
  ex.method = std::string(req.method_string());
  std::string target(req.target());
  ex.path = target.substr(0, target.find('?'));
  auto& rec = ex.record;
  rec.request_id = NewRequestId();
  rec.start_unix_ms = NowUnixMs();
  rec.config_generation = gen->id();
  rec.client_ip = client_ip;
  rec.method = ex.method;
  rec.path = ex.path;
  rec.request_bytes = req.body().size();
  if (!req.body().empty()) rec.request_sha256 = ToHex(Sha256(req.body()));
  c.keep_alive = req.keep_alive();
  const unsigned version = req.version();

  // Closes the record: duration, metrics, access log.
  auto close_record = [&] {
    rec.duration_ms = static_cast<uint64_t>(
        std::chrono::duration_cast<milliseconds>(std::chrono::steady_clock::now() - c.start)
            .count());
    std::string route_label = LabelValue(rec.route);
    metrics.Add("rampart_requests_total",
                StrCat("route=\"", route_label, "\",status=\"", rec.status, "\""), 1,
                "Exchanges by route and status");
    metrics.Add("rampart_verdicts_total",
                StrCat("route=\"", route_label, "\",action=\"", ActionName(rec.action),
                       "\",reason=\"", LabelValue(rec.reason), "\""),
                1, "Verdicts by action and reason");
    if (options.access_log) {
      LogLine(StrCat("{\"ts\":", rec.start_unix_ms, ",\"level\":\"info\",\"event\":\"exchange\"",
                     ",\"request_id\":\"", rec.request_id, "\",\"route\":", JsonEscape(rec.route),
                     ",\"principal\":", JsonEscape(rec.principal), ",\"method\":",
                     JsonEscape(rec.method), ",\"status\":", rec.status, ",\"action\":\"",
                     ActionName(rec.action), "\",\"reason\":", JsonEscape(rec.reason),
                     ",\"streamed\":", rec.streamed ? "true" : "false",
                     ",\"findings\":", rec.findings.size(), ",\"duration_ms\":", rec.duration_ms,
                     ",\"generation\":\"", rec.config_generation, "\"}"));
    }
  };
  // Closes the record, waits until it is durable, then sends `res` (or, when the record could
  // not be stored, 503 audit.unavailable instead) and reports whether the connection may be
  // reused.
  auto finish = [&](http::response<http::string_body>& res) -> asio::awaitable<bool> {
    rec.status = static_cast<int>(res.result_int());
    rec.response_bytes = res.body().size();
    if (!res.body().empty()) rec.response_sha256 = ToHex(Sha256(res.body()));
    close_record();
    if (!co_await AwaitDurable(rec) && rec.reason != kAuditUnavailable) {
      LogEvent(
          "error", "audit_unavailable",
          StrCat("request ", rec.request_id, ": its audit record was not stored; answered 503"));
      res = ErrorResponse(c.kind, 503, kAuditUnavailable, "the audit log cannot take records now",
                          rec.request_id, version, false, 1);
    }
    bool written = co_await Write(stream, res, limits.body_timeout_ms);
    bool keep = written && res.keep_alive();
    co_return keep;
  };
  auto refuse = [&](int status, std::string_view reason, std::string_view message,
                    uint32_t retry_after = 0) -> asio::awaitable<bool> {
    if (rec.reason.empty() || rec.action != Action::kBlock) {
      rec.action = Action::kBlock;
      rec.reason = std::string(reason);
    }
    auto res = ErrorResponse(c.kind, status, reason, message, rec.request_id, version, c.keep_alive,
                             retry_after);
    co_return co_await finish(res);
  };

  if (options.sink && !options.sink->Accepting()) {
    metrics.Add("rampart_audit_admission_refused_total", "", 1,
                "Exchanges refused because the audit queue was full");
    co_return co_await refuse(503, kAuditUnavailable, "the audit log cannot take records now", 1);
  }
  const Route* route = gen->Match(ex.path);
  if (route == nullptr) {
    co_return co_await refuse(404, "route.not_found", "no route serves this path");
  }
  ex.route = route->config;
  c.kind = route->config->kind;
  rec.route = route->config->name;
  if (auto h = req.find(http::field::authorization); h != req.end()) {
    ex.authorization = std::string(h->value());
  }

  // Request body.
  if (c.kind != config::RouteKind::kPassthrough && !req.body().empty()) {
    ParsedBody parsed;
    BodyError err = ParseRequestBody(req.body(), c.kind, limits, &parsed);
    if (!err.ok()) co_return co_await refuse(err.status, err.reason, err.message);
    ex.request = std::move(parsed.json);
    ex.model = std::move(parsed.model);
    ex.stream = parsed.stream;
  } else if (c.kind != config::RouteKind::kPassthrough && req.method() == http::verb::post) {
    co_return co_await refuse(400, "request.invalid_json", "a JSON body is required");
  }
  if (c.kind == config::RouteKind::kJson) {
    // KServe v2 and similar: /v2/models/{model}/infer.
    constexpr std::string_view kModels = "/models/";
    if (size_t p = ex.path.find(kModels); p != std::string::npos) {
      std::string rest = ex.path.substr(p + kModels.size());
      ex.model = rest.substr(0, rest.find('/'));
    }
  }
  rec.model = ex.model;
  rec.streamed = ex.stream;
  ex.approx_tokens = std::max<uint64_t>(1, req.body().size() / 4);

  auto run = route->pipeline->Start();
  pipeline::Decision d = run->OnRequest(ex);
  if (d.blocked()) co_return co_await refuse(d.http_status, d.reason, d.message, d.retry_after_s);

  // Upstream request: the client's headers minus hop-by-hop ones (with those its Connection
  // header names) and its credentials.
  const config::UpstreamConfig& up = *route->upstream;
  http::request<http::string_body> ureq{req.method(), req.target(), 11};
  const std::set<std::string> client_hop = ConnectionOptions(req);
  for (const auto& f : req) {
    if (!IsHopByHop(f.name_string()) && !client_hop.count(AsciiLower(f.name_string()))) {
      ureq.insert(f.name_string(), f.value());
    }
  }
  ureq.set(http::field::host, StrCat(up.endpoint.host, ":", up.endpoint.port));
  ureq.set("x-request-id", rec.request_id);
  ureq.set("x-forwarded-for", client_ip);
  if (!up.api_key.empty()) ureq.set(http::field::authorization, StrCat("Bearer ", up.api_key));
  if (ex.request.is_object()) {
    ureq.body() = json::serialize(ex.request);
  } else {
    ureq.body() = std::move(req.body());
  }
  ureq.keep_alive(true);
  ureq.prepare_payload();

  // TLS settings are part of the key: a connection verified for one upstream's trust is
  // never lent to another's.
  const std::string pool_key =
      StrCat(up.tls ? "https://" : "http://", up.endpoint.host, ":", up.endpoint.port, " ", up.name,
             up.tls_insecure_skip_verify ? " insecure " : " ", up.ca_file);
  std::string up_label = StrCat("upstream=\"", LabelValue(up.name), "\"");
  auto upstream_error = [&](const char* kind) {
    metrics.Add("rampart_upstream_errors_total", StrCat(up_label, ",kind=\"", kind, "\""), 1,
                "Upstream failures by kind");
  };

  std::unique_ptr<Stream> conn;
  beast::flat_buffer ubuf;
  std::optional<http::response_parser<http::string_body>> rpo;
  bool sent = false;
  for (int attempt = 0; attempt < 2 && !sent; ++attempt) {
    bool reused = false;
    conn = w.pool.Take(pool_key);
    if (conn) {
      reused = true;
    } else {
      beast::tcp_stream tcp_conn(w.ioc);
      tcp::resolver resolver(w.ioc);
      tcp_conn.expires_after(milliseconds(up.connect_timeout_ms));
      auto [rec_ec, results] = co_await resolver.async_resolve(
          up.endpoint.host, std::to_string(up.endpoint.port), kNoThrow);
      if (rec_ec) {
        upstream_error("resolve");
        co_return co_await refuse(502, "upstream.unreachable", "the upstream could not be reached");
      }
      auto [cec, ep] = co_await tcp_conn.async_connect(results, kNoThrow);
      (void)ep;
      if (cec) {
        upstream_error(cec == beast::error::timeout ? "connect_timeout" : "connect");
        co_return co_await refuse(502, "upstream.unreachable", "the upstream could not be reached");
      }
      asio::ssl::context* up_tls = gen->tls().upstream(up.name);
      if (up_tls == nullptr) {
        conn = std::make_unique<Stream>(std::move(tcp_conn));
      } else {
        // TLS: SNI and name verification, the handshake within the connect timeout.
        boost::system::error_code nd;
        tcp_conn.socket().set_option(tcp::no_delay(true), nd);
        conn = std::make_unique<Stream>(std::move(tcp_conn), *up_tls);
        SSL* ssl = conn->tls()->native_handle();
        absl::Status prep = PrepareUpstreamTls(ssl, up.endpoint.host, !up.tls_insecure_skip_verify);
        boost::system::error_code hec;
        if (prep.ok()) {
          auto [hs] =
              co_await conn->tls()->async_handshake(asio::ssl::stream_base::client, kNoThrow);
          hec = hs;
        }
        if (!prep.ok() || hec) {
          bool verify_failed = false;
          std::string why = prep.ok() ? (hec == beast::error::timeout
                                             ? std::string("handshake timed out")
                                             : UpstreamTlsFailure(ssl, hec, &verify_failed))
                                      : std::string(prep.message());
          upstream_error(verify_failed ? "tls_verify" : "tls_handshake");
          LogEvent("warn", "upstream_tls_failed",
                   StrCat("upstream ", up.name, " (", up.endpoint.host, ":", up.endpoint.port,
                          "): ", why));
          co_return co_await refuse(502, "upstream.tls",
                                    verify_failed
                                        ? "the upstream's TLS certificate could not be verified"
                                        : "the TLS handshake with the upstream failed");
        }
      }
    }
    ubuf.clear();
    rpo.emplace();
    rpo->header_limit(kUpstreamHeaderLimit);
    rpo->body_limit(limits.max_response_bytes);
    conn->expires_after(milliseconds(up.first_byte_timeout_ms));
    auto [wec, wn] = co_await http::async_write(*conn, ureq, kNoThrow);
    (void)wn;
    if (!wec) {
      auto [hec, hn] = co_await http::async_read_header(*conn, ubuf, *rpo, kNoThrow);
      (void)hn;
      if (!hec) {
        sent = true;
        break;
      }
      if (reused && ubuf.size() == 0 && hec != beast::error::timeout) continue;  // stale
      if (hec == beast::error::timeout) {
        upstream_error("timeout");
        co_return co_await refuse(504, "upstream.timeout", "the upstream did not answer in time");
      }
      upstream_error(hec == asio::error::connection_reset || hec == http::error::end_of_stream ||
                             hec == asio::error::eof
                         ? "reset"
                         : "bad_response");
      co_return co_await refuse(502, "upstream.bad_response",
                                "the upstream sent an invalid response");
    }
    if (reused) continue;
    upstream_error("write");
    co_return co_await refuse(502, "upstream.unreachable", "the upstream could not be reached");
  }
  if (!sent) {
    upstream_error("reset");
    co_return co_await refuse(502, "upstream.bad_response",
                              "the upstream sent an invalid response");
  }

  auto& rp = *rpo;
  auto& ures_head = rp.get();
  int ustatus = static_cast<int>(ures_head.result_int());
  ex.upstream_status = ustatus;
  std::string ctype(ures_head[http::field::content_type]);
  bool is_sse = ctype.rfind("text/event-stream", 0) == 0;

  if (is_sse && ustatus == 200 && c.kind == config::RouteKind::kOpenAi) {
    // Streaming: headers now, then each event inspected as it passes.
    rec.streamed = true;
    http::response<http::empty_body> res{http::status::ok, version};
    res.set(http::field::server, "rampart");
    res.set(http::field::content_type, "text/event-stream");
    res.set(http::field::cache_control, "no-cache");
    res.set("x-request-id", rec.request_id);
    res.keep_alive(c.keep_alive);
    res.chunked(true);
    http::response_serializer<http::empty_body> sr{res};
    stream.expires_after(milliseconds(limits.body_timeout_ms));
    auto [hwec, hwn] = co_await http::async_write_header(stream, sr, kNoThrow);
    (void)hwn;
    rec.status = 200;
    if (hwec) {
      rec.reason = "client.disconnected";
      close_record();
      co_await AwaitDurable(rec);
      co_return false;
    }
    bool client_ok = true;
    auto send_chunk = [&](const std::string& s) -> asio::awaitable<bool> {
      if (!client_ok) co_return false;
      stream.expires_after(milliseconds(limits.body_timeout_ms));
      auto [cwec, cwn] =
          co_await asio::async_write(stream, http::make_chunk(asio::buffer(s)), kNoThrow);
      (void)cwn;
      rec.response_bytes += s.size();
      if (cwec) client_ok = false;
      co_return client_ok;
    };
    std::string end_reason;
    auto error_event = [&](int status, std::string_view reason, std::string_view message) {
      end_reason = std::string(reason);
      return FormatSseData(ErrorBody(c.kind, status, reason, message, rec.request_id));
    };

    SseParser sse(limits.max_sse_event_bytes);
    std::map<int64_t, std::unique_ptr<pipeline::Pipeline::Run>> runs;
    std::map<int64_t, bool> uses_text;  // completions stream "text", chat "delta.content"
    std::map<int64_t, bool> finished;
    runs[0] = std::move(run);
    json::object last_template;
    bool done = false, ended = false, upstream_clean = false;
    std::string end_error;  // an SSE error event that ends the stream

    auto run_for = [&](int64_t index) -> pipeline::Pipeline::Run* {
      auto it = runs.find(index);
      if (it != runs.end()) return it->second.get();
      if (runs.size() >= kMaxStreamChoices) return nullptr;
      return (runs[index] = route->pipeline->Start()).get();
    };
    // Releases what the stages still hold for every unfinished choice, as one event.
    auto flush_all = [&]() -> std::string {
      std::string out;
      for (auto& [index, r] : runs) {
        if (finished[index]) continue;
        finished[index] = true;
        std::string tail;
        pipeline::Decision fd = r->OnResponseText(ex, tail, true);
        if (fd.blocked()) return error_event(fd.http_status, fd.reason, fd.message);
        if (tail.empty()) continue;
        json::object ev = last_template;
        json::object choice{{"index", index}, {"finish_reason", nullptr}};
        if (uses_text[index]) {
          choice["text"] = tail;
        } else {
          choice["delta"] = json::object{{"content", tail}};
        }
        ev["choices"] = json::array{std::move(choice)};
        out += FormatSseData(json::serialize(ev));
      }
      return out;
    };
    // Runs one upstream event through the stages; returns what to send, or sets end_error.
    auto process = [&](const SseEvent& event) -> std::string {
      if (event.data == "[DONE]") {
        std::string out = flush_all();
        if (out.rfind("data: {\"error\"", 0) == 0) {
          end_error = out;
          return "";
        }
        done = true;
        return out + FormatSseData("[DONE]");
      }
      json::value v;
      if (!ParseResponseBody(event.data, limits, &v) || !v.is_object()) {
        end_error =
            error_event(502, "upstream.invalid_stream", "the upstream sent an invalid event");
        return "";
      }
      json::object& obj = v.get_object();
      if (obj.contains("error")) {
        end_error = error_event(502, "upstream.error", "the upstream reported an error");
        return "";
      }
      if (auto* choices = obj.if_contains("choices"); choices != nullptr && choices->is_array()) {
        for (auto& ch : choices->get_array()) {
          auto* co = ch.if_object();
          if (co == nullptr) continue;
          int64_t index = 0;
          if (auto* i = co->if_contains("index"); i != nullptr && i->is_int64())
            index = i->get_int64();
          json::string* content = nullptr;
          if (auto* t = co->if_contains("text"); t != nullptr && t->is_string()) {
            content = &t->get_string();
            uses_text[index] = true;
          } else if (auto* dl = co->if_contains("delta"); dl != nullptr && dl->is_object()) {
            if (auto* ct = dl->get_object().if_contains("content");
                ct != nullptr && ct->is_string()) {
              content = &ct->get_string();
            }
          }
          bool last = false;
          if (auto* fr = co->if_contains("finish_reason"); fr != nullptr && !fr->is_null())
            last = true;
          if (content == nullptr && !last) continue;
          pipeline::Pipeline::Run* r = run_for(index);
          if (r == nullptr) {
            end_error = error_event(502, "upstream.too_many_choices",
                                    "the upstream streamed too many choices");
            return "";
          }
          if (finished[index]) continue;
          std::string piece = content != nullptr ? std::string(*content) : std::string();
          pipeline::Decision sd = r->OnResponseText(ex, piece, last);
          if (sd.blocked()) {
            end_error = error_event(sd.http_status, sd.reason, sd.message);
            return "";
          }
          if (last) finished[index] = true;
          if (content != nullptr) {
            *content = piece;
          } else if (!piece.empty()) {
            if (uses_text[index]) {
              (*co)["text"] = piece;
            } else {
              auto& delta = (*co)["delta"];
              if (!delta.is_object()) delta = json::object();
              delta.get_object()["content"] = piece;
            }
          }
        }
        json::object tmpl = obj;
        tmpl.erase("choices");
        tmpl.erase("usage");
        last_template = std::move(tmpl);
      }
      return FormatSseData(json::serialize(v));
    };

    std::vector<SseEvent> events;
    while (!ended) {
      // Body bytes already parsed together with the head come first.
      std::string& body = rp.get().body();
      if (!body.empty()) {
        if (!sse.Feed(body, events)) {
          end_error = error_event(502, "upstream.event_too_large",
                                  "the upstream sent an event over the size limit");
        }
        body.clear();
        for (const auto& e : events) {
          if (!end_error.empty() || done) break;
          std::string out = process(e);
          if (!out.empty() && !co_await send_chunk(out)) break;
        }
        events.clear();
      }
      if (!client_ok || !end_error.empty() || done) break;
      if (rp.is_done()) {
        upstream_clean = true;
        break;
      }
      conn->expires_after(milliseconds(up.idle_timeout_ms));
      auto [rec_ec, rn] = co_await http::async_read_some(*conn, ubuf, rp, kNoThrow);
      (void)rn;
      if (rec_ec == http::error::need_buffer) continue;
      if (rec_ec) {
        if (rec_ec == beast::error::timeout) {
          upstream_error("stream_timeout");
          end_error = error_event(504, "upstream.timeout", "the upstream stalled mid-stream");
        } else {
          upstream_error("stream_reset");
          end_error = error_event(502, "upstream.stream_error", "the upstream stream failed");
        }
        ended = true;
        // Fall through to send the error event.
      }
    }
    if (client_ok && end_error.empty() && !done) {
      if (sse.has_partial()) {
        end_error = error_event(502, "upstream.stream_truncated", "the upstream stream was cut");
      } else {
        std::string out = flush_all();
        if (out.rfind("data: {\"error\"", 0) == 0) {
          end_error = out;
        } else if (!out.empty()) {
          co_await send_chunk(out);
        }
      }
    }
    if (!end_error.empty()) {
      rec.action = Action::kBlock;
      rec.reason = end_reason;
      co_await send_chunk(end_error);
    }
    if (!client_ok) {
      rec.reason = "client.disconnected";
      metrics.Add("rampart_client_disconnects_total", "", 1, "Clients gone mid-stream");
    }
    if (upstream_clean && done && rp.is_done() && rp.keep_alive()) {
      w.pool.Give(pool_key, std::move(conn), up.max_idle_connections);
    }
    close_record();
    // The terminating chunk is the client's proof of a complete stream: it goes out only once
    // the record is durable; otherwise the connection is closed mid-stream.
    bool durable = co_await AwaitDurable(rec);
    if (!durable) {
      LogEvent("error", "audit_unavailable",
               StrCat("request ", rec.request_id, ": its audit record was not stored; stream cut"));
      client_ok = false;
    }
    if (client_ok) {
      stream.expires_after(milliseconds(limits.body_timeout_ms));
      auto [lec, ln] = co_await asio::async_write(stream, http::make_chunk_last(), kNoThrow);
      (void)ln;
      if (lec) client_ok = false;
    }
    co_return client_ok&& c.keep_alive;
  }

  // Whole response.
  if (!rp.is_done()) {
    conn->expires_after(milliseconds(up.idle_timeout_ms));
    auto [bec, bn] = co_await http::async_read(*conn, ubuf, rp, kNoThrow);
    (void)bn;
    if (bec) {
      if (bec == http::error::body_limit) {
        upstream_error("too_large");
        co_return co_await refuse(502, "upstream.too_large", "the upstream response is too large");
      }
      if (bec == beast::error::timeout) {
        upstream_error("timeout");
        co_return co_await refuse(504, "upstream.timeout", "the upstream did not answer in time");
      }
      upstream_error("bad_response");
      co_return co_await refuse(502, "upstream.bad_response",
                                "the upstream sent an invalid response");
    }
  }
  auto ures = rp.release();
  if (ures.keep_alive()) w.pool.Give(pool_key, std::move(conn), up.max_idle_connections);

  if (c.kind == config::RouteKind::kPassthrough) {
    auto res =
        MakeResponse(ures.result(), version, ctype.empty() ? "application/octet-stream" : ctype,
                     std::move(ures.body()), rec.request_id, c.keep_alive);
    co_return co_await finish(res);
  }
  json::value body;
  if (!ParseResponseBody(ures.body(), limits, &body)) {
    upstream_error("invalid_json");
    co_return co_await refuse(502, "upstream.invalid_response",
                              "the upstream response is not JSON");
  }
  if (ustatus >= 200 && ustatus < 300) {
    ex.response = std::move(body);
    pipeline::Decision od = run->OnResponse(ex);
    if (od.blocked()) co_return co_await refuse(od.http_status, od.reason, od.message);
    body = std::move(ex.response);
  } else {
    upstream_error("status");
  }
  auto res = MakeResponse(ures.result(), version, "application/json", json::serialize(body),
                          rec.request_id, c.keep_alive);
  co_return co_await finish(res);
}

// ---------------------------------------------------------------------------------------
// Admin API.

asio::awaitable<void> Server::Impl::AdminAccept() {
  for (;;) {
    auto [ec, socket] = co_await admin_acceptor->async_accept(kNoThrow);
    if (ec) {
      if (ec == asio::error::operation_aborted || stopped.load()) co_return;
      continue;
    }
    asio::co_spawn(control, AdminSession(std::move(socket)), asio::detached);
  }
}

asio::awaitable<void> Server::Impl::AdminSession(tcp::socket socket) {
  try {
    beast::tcp_stream stream(std::move(socket));
    beast::flat_buffer buffer;
    for (;;) {
      http::request_parser<http::string_body> parser;
      parser.header_limit(8 * 1024);
      parser.body_limit(64 * 1024);
      stream.expires_after(milliseconds(kAdminTimeoutMs));
      auto [ec, n] = co_await http::async_read(stream, buffer, parser, kNoThrow);
      (void)n;
      if (ec) co_return;
      auto req = parser.release();
      auto res = Admin(req);
      res.keep_alive(req.keep_alive());
      if (!co_await Write(stream, res, kAdminTimeoutMs) || !res.keep_alive()) co_return;
    }
  } catch (const std::exception& e) {
    LogEvent("error", "admin_exception", e.what());
  }
}

http::response<http::string_body> Server::Impl::Admin(const http::request<http::string_body>& req) {
  std::string target(req.target());
  std::string path = target.substr(0, target.find('?'));
  auto text = [&](http::status s, std::string body, std::string_view type = "text/plain") {
    return MakeResponse(s, req.version(), type, std::move(body), "", true);
  };
  auto error = [&](int status, std::string_view reason, std::string_view message) {
    return ErrorResponse(config::RouteKind::kJson, status, reason, message, NewRequestId(),
                         req.version(), true);
  };
  if (path == "/healthz") return text(http::status::ok, "ok\n");
  if (path == "/readyz") {
    if (draining.load()) return text(http::status::service_unavailable, "draining\n");
    return text(http::status::ok, "ready\n");
  }
  auto gen = Current();
  const std::string& token = gen->config().server.admin_token;
  if (path != "/metrics" && path != "/admin/reload" && path != "/admin/config") {
    return error(404, "admin.not_found", "no such admin endpoint");
  }
  if (token.empty()) {
    return error(403, "admin.disabled", "set server.admin_token_env to use the admin API");
  }
  std::string presented(req[http::field::authorization]);
  std::string expected = StrCat("Bearer ", token);
  if (presented.size() != expected.size() ||
      CRYPTO_memcmp(presented.data(), expected.data(), expected.size()) != 0) {
    return error(401, "admin.unauthorized", "a valid admin token is required");
  }
  if (path == "/metrics") {
    std::string body = metrics.RenderPrometheus();
    body += options.sink ? options.sink->MetricsText()
                         : "# HELP rampart_audit_enabled 1 when exchanges are audited\n"
                           "# TYPE rampart_audit_enabled gauge\nrampart_audit_enabled 0\n";
    return text(http::status::ok, std::move(body), "text/plain; version=0.0.4");
  }
  if (path == "/admin/config") {
    json::object o{{"generation", gen->id()}, {"config", config::RedactedJson(gen->config())}};
    return text(http::status::ok, json::serialize(o), "application/json");
  }
  if (req.method() != http::verb::post) return error(405, "admin.method", "use POST");
  absl::Status st = Reload();
  if (!st.ok()) {
    json::object o{{"reloaded", false}, {"error", std::string(st.message())}};
    return text(http::status::unprocessable_entity, json::serialize(o), "application/json");
  }
  json::object o{{"reloaded", true}, {"generation", Current()->id()}};
  return text(http::status::ok, json::serialize(o), "application/json");
}

// ---------------------------------------------------------------------------------------
// Lifecycle.

namespace {

// Start-up and reload warnings about TLS settings that weaken the gateway.
void WarnTls(const config::Config& cfg) {
  for (const auto& u : cfg.upstreams) {
    if (u.tls && u.tls_insecure_skip_verify) {
      LogEvent("warn", "upstream_tls_unverified",
               StrCat("upstream ", u.name,
                      ": tls_insecure_skip_verify is set; its certificate is not verified and "
                      "anyone on the path can impersonate it"));
    }
  }
}

}  // namespace

absl::Status Server::Impl::Reload() {
  std::lock_guard<std::mutex> lock(reload_mu);
  auto cfg = config::LoadConfigFile(options.config_path);
  if (cfg.ok() && (*cfg)->server.tls.enabled != Current()->config().server.tls.enabled) {
    // The listener's protocol is fixed for its life: an edit that drops server.tls must not
    // quietly turn the port into plain HTTP.
    cfg = absl::InvalidArgumentError(
        StrCat((*cfg)->source, ": server.tls: turning TLS on or off needs a restart"));
  }
  absl::StatusOr<std::shared_ptr<const Generation>> g =
      cfg.ok() ? Generation::Build(*cfg, options.rules_dir, &metrics, &store, gen_number + 1)
               : absl::StatusOr<std::shared_ptr<const Generation>>(cfg.status());
  if (!g.ok()) {
    metrics.Add("rampart_reloads_total", "result=\"rejected\"", 1, "Config reloads");
    LogEvent("error", "reload_rejected", std::string(g.status().message()));
    return g.status();
  }
  ++gen_number;
  WarnTls((*g)->config());
  {
    std::lock_guard<std::mutex> glock(gen_mu);
    current_gen = *g;
  }
  metrics.Add("rampart_reloads_total", "result=\"ok\"", 1, "Config reloads");
  LogEvent("info", "reloaded", StrCat("generation ", gen_number));
  return absl::OkStatus();
}

void Server::Impl::ListenSignals() {
  signals->async_wait([this](const boost::system::error_code& ec, int signo) {
    if (ec) return;
    if (signo == SIGHUP) {
      (void)Reload();
      ListenSignals();
    } else {
      LogEvent("info", "draining", StrCat("signal ", signo));
      BeginShutdown();
    }
  });
}

namespace {

// Hand-off between the sink's callback (any thread) and the waiting session (its io thread).
struct DurableWait {
  std::mutex mu;
  bool done = false;
  bool durable = false;
  asio::steady_timer* timer = nullptr;  // the session's; cleared when the session stops waiting
};

}  // namespace

asio::awaitable<bool> Server::Impl::AwaitDurable(const pipeline::ExchangeRecord& rec) {
  if (!options.sink) co_return true;
  auto executor = co_await asio::this_coro::executor;
  asio::steady_timer timer(executor, asio::steady_timer::time_point::max());
  auto wait = std::make_shared<DurableWait>();
  wait->timer = &timer;
  struct Detach {
    DurableWait& w;
    ~Detach() {
      std::lock_guard<std::mutex> lock(w.mu);
      w.timer = nullptr;
    }
  } detach{*wait};
  options.sink->Submit(rec, [wait, executor](bool durable) {
    {
      std::lock_guard<std::mutex> lock(wait->mu);
      wait->done = true;
      wait->durable = durable;
    }
    // The timer belongs to the session's io thread: cancel it there.
    asio::post(executor, [wait] {
      std::lock_guard<std::mutex> lock(wait->mu);
      if (wait->timer != nullptr) wait->timer->cancel();
    });
  });
  for (;;) {
    {
      std::lock_guard<std::mutex> lock(wait->mu);
      if (wait->done) co_return wait->durable;
    }
    co_await timer.async_wait(kNoThrow);
  }
}

void Server::Impl::BeginShutdown() {
  std::call_once(shutdown_once, [this] {
    draining.store(true);
    asio::post(workers[0]->ioc, [this] {
      boost::system::error_code ec;
      acceptor->close(ec);
    });
    auto deadline = std::chrono::steady_clock::now() +
                    milliseconds(Current()->config().server.drain_timeout_ms);
    asio::post(control, [this, deadline] { WatchDrain(deadline); });
  });
}

void Server::Impl::WatchDrain(std::chrono::steady_clock::time_point deadline) {
  if (active_exchanges.load() > 0 && std::chrono::steady_clock::now() < deadline) {
    auto timer = std::make_shared<asio::steady_timer>(control, milliseconds(20));
    timer->async_wait(
        [this, deadline, timer](const boost::system::error_code&) { WatchDrain(deadline); });
    return;
  }
  stopped.store(true);
  for (auto& w : workers) w->ioc.stop();
  boost::system::error_code ec;
  admin_acceptor->close(ec);
  if (signals) signals->cancel(ec);
  control.stop();
}

Server::Server(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Server::~Server() {
  Shutdown();
  Wait();
}

absl::StatusOr<std::unique_ptr<Server>> Server::Start(ServerOptions options) {
  auto impl = std::make_unique<Impl>();
  impl->options = std::move(options);
  auto cfg = config::LoadConfigFile(impl->options.config_path);
  if (!cfg.ok()) return cfg.status();
  auto g = Generation::Build(*cfg, impl->options.rules_dir, &impl->metrics, &impl->store, 1);
  if (!g.ok()) return g.status();
  impl->current_gen = *g;
  impl->gen_number = 1;
  const config::ServerConfig& sc = (*cfg)->server;
  size_t threads = sc.threads > 0 ? sc.threads : std::max(1u, std::thread::hardware_concurrency());
  for (size_t i = 0; i < threads; ++i) impl->workers.push_back(std::make_unique<Worker>());

  auto bind = [](asio::io_context& ioc, const config::Endpoint& ep,
                 const char* field) -> absl::StatusOr<std::unique_ptr<tcp::acceptor>> {
    boost::system::error_code ec;
    auto addr = asio::ip::make_address(ep.host, ec);
    if (ec)
      return absl::InvalidArgumentError(StrCat(field, ": '", ep.host, "' is not an IP address"));
    auto a = std::make_unique<tcp::acceptor>(ioc);
    tcp::endpoint endpoint(addr, ep.port);
    a->open(endpoint.protocol(), ec);
    if (!ec) a->set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) a->bind(endpoint, ec);
    if (!ec) a->listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
      return absl::UnavailableError(
          StrCat(field, ": cannot listen on ", ep.host, ":", ep.port, ": ", ec.message()));
    }
    return a;
  };
  auto a = bind(impl->workers[0]->ioc, sc.listen, "server.listen");
  if (!a.ok()) return a.status();
  impl->acceptor = std::move(*a);
  auto aa = bind(impl->control, sc.admin, "server.admin_listen");
  if (!aa.ok()) return aa.status();
  impl->admin_acceptor = std::move(*aa);
  impl->port = impl->acceptor->local_endpoint().port();
  impl->admin_port = impl->admin_acceptor->local_endpoint().port();
  if (sc.admin_token.empty()) {
    LogEvent("warn", "admin_api_limited",
             "server.admin_token_env is not set: /metrics and /admin/* are disabled");
  }
  WarnTls(**cfg);
  if (!impl->options.sink) {
    LogEvent("warn", "audit_off",
             "no audit sink (stores.audit is absent or disabled): exchanges are not audited");
  }

  Impl* p = impl.get();
  asio::co_spawn(p->workers[0]->ioc, p->Accept(), asio::detached);
  asio::co_spawn(p->control, p->AdminAccept(), asio::detached);
  if (p->options.handle_signals) {
    p->signals = std::make_unique<asio::signal_set>(p->control, SIGTERM, SIGINT, SIGHUP);
    p->ListenSignals();
  }
  for (auto& w : p->workers) {
    Worker* wp = w.get();
    wp->thread = std::thread([wp] {
      auto guard = asio::make_work_guard(wp->ioc);
      wp->ioc.run();
    });
  }
  p->control_thread = std::thread([p] {
    auto guard = asio::make_work_guard(p->control);
    p->control.run();
  });
  LogEvent("info", "started",
           StrCat("listen ", sc.listen.host, ":", p->port, sc.tls.enabled ? " (tls)" : "",
                  " admin ", sc.admin.host, ":", p->admin_port, " threads ", threads));
  return std::unique_ptr<Server>(new Server(std::move(impl)));
}

uint16_t Server::port() const { return impl_->port; }
uint16_t Server::admin_port() const { return impl_->admin_port; }
absl::Status Server::Reload() { return impl_->Reload(); }
void Server::Shutdown() { impl_->BeginShutdown(); }
pipeline::Metrics& Server::metrics() { return impl_->metrics; }

void Server::Wait() {
  if (impl_->control_thread.joinable()) impl_->control_thread.join();
  for (auto& w : impl_->workers) {
    if (w->thread.joinable()) w->thread.join();
  }
  // Callbacks of records still queued post to the workers' io_contexts: let them run while
  // those still exist.
  if (impl_->options.sink) impl_->options.sink->Flush();
}

}  // namespace rampart::server
