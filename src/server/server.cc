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
#include <charconv>
#include <chrono>
#include <future>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <thread>
#include <unordered_map>
#include <vector>

#include "approvals/approval_store.h"
#include "common/crypto.h"
#include "common/strings.h"
#include "config/config.h"
#include "pipeline/exchange.h"
#include "server/generation.h"
#include "server/http_io.h"
#include "server/log_writer.h"
#include "server/request_body.h"
#include "server/sse.h"
#include "server/tls.h"
#include "server/tool_calls.h"
#include "stages/tool_policy/tool_policy.h"
#include "state/redis_store.h"
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
// Bytes the first read of an upstream response may take (later reads grow as Beast's
// read_size allows, up to 64 KiB).
constexpr size_t kUpstreamReadBytes = 16 * 1024;

int64_t NowUnixMs() {
  return std::chrono::duration_cast<milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string NewRequestId() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  static constexpr char kHex[] = "0123456789abcdef";
  uint64_t v = rng();
  std::string id = "req_0000000000000000";  // "req_" and 16 hex digits, as {:016x} writes
  for (size_t i = id.size(); v != 0; v >>= 4) id[--i] = kHex[v & 15];
  return id;
}

std::string JsonEscape(std::string_view s) { return json::serialize(json::string(s)); }

// One JSON line on stderr, written by the log's own thread (see log_writer.h): a blocked
// stderr drops lines (counted) instead of stalling the event loop.
void LogLine(std::string_view line) { ProcessLog().Write(line); }

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
    if (v.size() >= max_idle) return;
    s->expires_never();  // idle in the pool: the next user sets its own deadlines
    v.push_back(std::move(s));
  }

 private:
  std::unordered_map<std::string, std::vector<std::unique_ptr<Stream>>> idle_;
};

struct Worker {
  asio::io_context ioc{1};
  DeadlineSweeper sweeper{ioc};  // the deadlines of this worker's sockets
  UpstreamPool pool;
  std::thread thread;
};

}  // namespace

struct Server::Impl {
  ServerOptions options;
  pipeline::Metrics metrics;
  // Token buckets: built from stores.state at start; a reload keeps it (docs/gateway.md).
  std::unique_ptr<state::Store> store;
  config::StateStoreConfig store_config;
  std::unique_ptr<approvals::ApprovalStore> approvals;  // stores.approvals; null when absent
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
  http::response<http::string_body> Admin(const http::request<http::string_body>& req,
                                          const std::string& client_ip = "");
  http::response<http::string_body> AdminApprovals(const http::request<http::string_body>& req,
                                                   const std::string& path,
                                                   const std::string& client_ip);
  // Stores the messages the stages held (ex.held) as pending approvals. False on failure.
  bool PersistHeld(const pipeline::Exchange& ex, size_t from = 0);
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
  // Forwarded, non-streamed exchanges: from the upstream request written to the upstream's
  // whole answer read. The rest of the exchange's time is the gateway's own.
  std::optional<std::chrono::steady_clock::duration> upstream_wait;
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

// The head of a response, as Beast's serializer writes it: status line, the fields in
// order, blank line. Its framing (Content-Length, Connection) is set by prepare_payload() /
// keep_alive() before this; writing the head ourselves and the body as a second buffer of
// one gathered write costs a fraction of Beast's generic serializer on the proxy's hot path.
// (Upstream request heads are built directly in HandleExchange.)
void AppendHead(const http::response<http::string_body>& m, std::string& out) {
  const unsigned v = m.version();
  std::string_view reason = m.reason();
  if (reason.empty()) reason = http::obsolete_reason(m.result());
  StrAppend(&out, "HTTP/", v / 10 % 10, ".", v % 10, " ", m.result_int(), " ", reason, "\r\n");
  for (const auto& f : m) StrAppend(&out, f.name_string(), ": ", f.value(), "\r\n");
  out += "\r\n";
}

// Writes a whole response within `timeout_ms`; with `head_only` (the answer to a HEAD
// request) its head alone, whose Content-Length still describes the body a GET would get.
// False when the peer is gone or the write timed out.
template <class AnyStream>  // Stream, or the admin listener's plain tcp_stream
asio::awaitable<bool> Write(AnyStream& stream, http::response<http::string_body>& res,
                            uint64_t timeout_ms, bool head_only = false) {
  stream.expires_after(milliseconds(timeout_ms));
  std::string head;
  head.reserve(256);
  AppendHead(res, head);
  auto ec = co_await WriteHeadAndBody(stream, head, head_only ? std::string_view() : res.body());
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
      stream_holder.emplace(TimedSocket(std::move(socket), w.sweeper));
    } else {
      // TLS sends small records of its own (session tickets after the handshake): without
      // TCP_NODELAY the first response waits behind them for the client's delayed ACK.
      socket.set_option(tcp::no_delay(true), ec);
      stream_holder.emplace(TimedSocket(std::move(socket), w.sweeper), *tls_ctx);
    }
    Stream& stream = *stream_holder;
    if (tls_ctx != nullptr) {
      bool handshake_ok = co_await TlsAccept(stream, *tls_gen);
      if (!handshake_ok) co_return;
    }
    beast::flat_buffer buffer;
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
      } else if (!first) {
        // The next request is already buffered (pipelined). Reading and answering it may
        // complete without waiting on the socket (ReadHttp, WriteHeadAndBody), so yield to
        // the worker's other connections first: a client that pipelines many requests the
        // gateway answers itself (401s, 404s) gets one turn per request, not the thread.
        co_await asio::post(stream.get_executor(), asio::use_awaitable);
      }
      // A passed deadline cancels the read but leaves the socket open (see TimedSocket), so
      // a slow client still gets its 408.
      stream.expires_after(milliseconds(limits.header_timeout_ms));
      auto hec = co_await ReadHttp(stream, buffer, parser, ReadUntil::kHeader);
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
        stream.expires_after(milliseconds(limits.body_timeout_ms));
        auto bec = co_await ReadHttp(stream, buffer, parser, ReadUntil::kMessage);
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
      // The exchange sets its own deadlines for each write; none runs while the upstream works.
      stream.expires_never();
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
  // Body hashes are for the audit record only.
  if (options.sink && !req.body().empty()) rec.request_sha256 = ToHex(Sha256(req.body()));
  c.keep_alive = req.keep_alive();
  const unsigned version = req.version();
  // A response to HEAD has a head only (RFC 9110, 9.3.2), error answers included: a body
  // would be read by a keep-alive client as the start of its next response.
  const bool head_request = req.method() == http::verb::head;

  pipeline::Histogram* route_added_latency = nullptr;  // set once the route is known
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
    if (options.sink && !res.body().empty()) rec.response_sha256 = ToHex(Sha256(res.body()));
    close_record();
    if (!co_await AwaitDurable(rec) && rec.reason != kAuditUnavailable) {
      LogEvent(
          "error", "audit_unavailable",
          StrCat("request ", rec.request_id, ": its audit record was not stored; answered 503"));
      res = ErrorResponse(c.kind, 503, kAuditUnavailable, "the audit log cannot take records now",
                          rec.request_id, version, false, 1);
    }
    bool written = co_await Write(stream, res, limits.body_timeout_ms, head_request);
    if (written && c.upstream_wait && route_added_latency != nullptr) {
      const auto own = std::chrono::steady_clock::now() - c.start - *c.upstream_wait;
      route_added_latency->Observe(std::chrono::duration<double>(own).count());
    }
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
  route_added_latency = route->added_latency;
  c.kind = route->config->kind;
  rec.route = route->config->name;
  if (auto h = req.find(http::field::authorization); h != req.end()) {
    ex.authorization = std::string(h->value());
  }
  if (auto h = req.find("x-rampart-approval"); h != req.end()) {
    if (h->value().size() > 64 || h->value().empty()) {
      co_return co_await refuse(400, "tool_policy.approval_not_found",
                                "the X-Rampart-Approval header is not an approval id");
    }
    ex.approval_ref = std::string(h->value());
  }

  // Request body.
  if (c.kind != config::RouteKind::kPassthrough && !req.body().empty()) {
    ParsedBody parsed;
    BodyError err = ParseRequestBody(req.body(), c.kind, limits, &parsed);
    if (!err.ok()) co_return co_await refuse(err.status, err.reason, err.message);
    AdoptJson(&ex.request, std::move(parsed.json));
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
  // stores.audit.redacted_payloads: the texts as the stages passed them on (never blocked ones).
  const bool record_payloads =
      options.sink != nullptr && gen->config().stores.audit.redacted_payloads;
  if (record_payloads)
    rec.redacted_prompt = pipeline::AuditTexts(pipeline::RequestTexts(ex), ex.canaries);
  if (ex.local_response.is_object()) {
    // A stage answered itself (tool_policy redeeming an approval): no upstream call.
    json::object body = std::move(ex.local_response.get_object());
    std::string status = "pending";
    if (auto* ext = body.if_contains("rampart"); ext != nullptr && ext->is_object()) {
      if (auto* ap = ext->get_object().if_contains("approval"); ap != nullptr && ap->is_object()) {
        if (auto* st = ap->get_object().if_contains("status"); st != nullptr && st->is_string())
          status = std::string(st->get_string());
      }
    }
    if (status == "released") {
      // One use: only the exchange that flips approved -> released gets the call.
      auto a = approvals ? approvals->Redeem(ex.approval_ref, NowUnixMs())
                         : absl::StatusOr<approvals::Approval>(absl::NotFoundError("none"));
      if (!a.ok() || a->status != approvals::Status::kApproved) {
        co_return co_await refuse(409, "tool_policy.approval_used",
                                  "the approved tool call was already released");
      }
    }
    rec.reason = StrCat("tool_policy.approval_", status);
    if (status != "released") rec.action = Action::kReview;
    auto res = ex.stream ? MakeResponse(http::status::ok, version, "text/event-stream",
                                        CompletionAsSse(body), rec.request_id, c.keep_alive)
                         : MakeResponse(http::status::ok, version, "application/json",
                                        json::serialize(body), rec.request_id, c.keep_alive);
    res.set("x-rampart-approval-id", ex.approval_ref);
    res.set("x-rampart-approval-status", status);
    co_return co_await finish(res);
  }

  // Upstream request: the client's headers minus hop-by-hop ones (with those its Connection
  // header names) and its credentials.
  const config::UpstreamConfig& up = *route->upstream;
  // The upstream request's head is written directly (no field container): the client's
  // fields in order, minus hop-by-hop ones (with those its Connection header names), its
  // credentials and the fields the gateway sets itself, then the gateway's.
  const std::set<std::string> client_hop = ConnectionOptions(req);
  std::string uhead;
  uhead.reserve(512);
  StrAppend(&uhead, req.method_string(), " ", req.target(), " HTTP/1.1\r\n");
  for (const auto& f : req) {
    const std::string_view name = f.name_string();
    if (IsHopByHop(name) || beast::iequals(name, "x-request-id") ||
        beast::iequals(name, "x-forwarded-for") || beast::iequals(name, "x-rampart-approval") ||
        (!client_hop.empty() && client_hop.count(AsciiLower(name)) != 0)) {
      continue;
    }
    StrAppend(&uhead, name, ": ", f.value(), "\r\n");
  }
  StrAppend(&uhead, "Host: ", up.endpoint.host, ":", up.endpoint.port,
            "\r\nx-request-id: ", rec.request_id, "\r\nx-forwarded-for: ", client_ip, "\r\n");
  if (!up.api_key.empty()) StrAppend(&uhead, "Authorization: Bearer ", up.api_key, "\r\n");
  // With stages, the body sent is always the parsed one re-serialized, edited or not: the
  // upstream then parses exactly what the stages inspected (no parser differential, e.g. a
  // duplicate key one parser keeps and another drops). Without stages nothing inspected it,
  // so it is sent on as the client wrote it (it was still parsed and checked above).
  const bool has_stages = route->pipeline->size() > 0;
  std::string ubody;
  if (ex.request.is_object() && has_stages) {
    ubody = json::serialize(ex.request);
  } else {
    ubody = std::move(req.body());
  }
  const http::verb method = req.method();
  if (!ubody.empty() || method == http::verb::post || method == http::verb::put ||
      method == http::verb::patch || method == http::verb::options) {
    StrAppend(&uhead, "Content-Length: ", ubody.size(), "\r\n");
  }
  uhead += "\r\n";

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
  // Room for a whole typical response up front: an empty flat_buffer reads 512 bytes first,
  // so a response of a few hundred bytes more took two reads and a pass of the event loop.
  beast::flat_buffer ubuf;
  ubuf.reserve(kUpstreamReadBytes);
  std::optional<http::response_parser<http::string_body>> rpo;
  bool sent = false;
  std::chrono::steady_clock::time_point upstream_written;
  for (int attempt = 0; attempt < 2 && !sent; ++attempt) {
    bool reused = false;
    conn = w.pool.Take(pool_key);
    if (conn) {
      reused = true;
    } else {
      TimedSocket tcp_conn(tcp::socket(w.ioc), w.sweeper);
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
    // The upstream's answer to HEAD has no body, whatever its Content-Length says.
    rpo->skip(head_request);
    conn->expires_after(milliseconds(up.first_byte_timeout_ms));
    auto uwec = co_await WriteHeadAndBody(*conn, uhead, ubody);
    if (!uwec) {
      upstream_written = std::chrono::steady_clock::now();
      auto hec = co_await ReadHttp(*conn, ubuf, *rpo, ReadUntil::kHeader);
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

  if (is_sse && ustatus == 200 && c.kind == config::RouteKind::kOpenAi && !head_request) {
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
    std::map<int64_t, std::string> sent_text;  // redacted_payloads: what each choice sent
    size_t sent_text_bytes = 0;
    auto keep_sent = [&](int64_t index, std::string_view piece) {
      if (!record_payloads || sent_text_bytes > pipeline::kMaxAuditTextBytes) return;
      sent_text[index] += piece;  // AuditTexts() cuts at the bound
      sent_text_bytes += piece.size();
    };
    // Tool-call deltas are held per choice until it finishes, then checked whole.
    std::map<int64_t, ToolCallAssembler> assembled;
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
    // Runs the assembled tool calls of `index` through the stages and writes what may go out
    // into `choice` (delta.tool_calls, delta.content, finish_reason) and `ext` (the pending
    // approval). Returns an error event to end the stream with, or "".
    auto release_calls = [&](int64_t index, json::object& choice,
                             json::object& ext) -> std::string {
      auto it = assembled.find(index);
      if (it == assembled.end() || it->second.empty()) return "";
      json::object message{
          {"role", "assistant"}, {"content", nullptr}, {"tool_calls", it->second.Calls()}};
      assembled.erase(it);
      pipeline::Pipeline::Run* r = run_for(index);
      if (r == nullptr) {
        return error_event(502, "upstream.too_many_choices",
                           "the upstream streamed too many choices");
      }
      size_t held_before = ex.held.size();
      pipeline::Decision td = r->OnToolCalls(ex, message);
      if (td.blocked()) return error_event(td.http_status, td.reason, td.message);
      json::value& delta = choice["delta"];
      if (!delta.is_object()) delta = json::object();
      if (auto* ct = message.if_contains("content");
          ct != nullptr && ct->is_string() && !ct->get_string().empty()) {
        json::value& dc = delta.get_object()["content"];
        std::string joined = dc.is_string() ? std::string(dc.get_string()) : std::string();
        joined += ct->get_string();
        dc = joined;
      }
      auto* left = message.if_contains("tool_calls");
      if (left != nullptr && left->is_array() && !left->get_array().empty()) {
        delta.get_object()["tool_calls"] = ToolCallDeltas(left->get_array());
      } else if (auto* fr = choice.if_contains("finish_reason");
                 fr != nullptr && fr->is_string() && fr->get_string() == "tool_calls") {
        *fr = "stop";
      }
      if (ex.held.size() > held_before) {
        if (!PersistHeld(ex, held_before)) {
          return error_event(503, "tool_policy.approval_unavailable",
                             "a tool call needs approval but cannot be held now");
        }
        const pipeline::HeldMessage& h = ex.held.back();
        ext = stages::ApprovalExtension(h.approval_id, "pending", h.tools);
      }
      return "";
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
        auto pending = assembled.find(index);
        bool calls = pending != assembled.end() && !pending->second.empty();
        if (tail.empty() && !calls) continue;
        keep_sent(index, tail);
        json::object ev = last_template;
        json::object choice{{"index", index}, {"finish_reason", nullptr}};
        if (uses_text[index]) {
          choice["text"] = tail;
        } else {
          choice["delta"] = json::object{{"content", tail}};
        }
        json::object ext;
        if (calls) {
          std::string err = release_calls(index, choice, ext);
          if (!err.empty()) return err;
        }
        ev["choices"] = json::array{std::move(choice)};
        if (!ext.empty()) ev["rampart"] = std::move(ext);
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
      json::object ext;  // a pending approval, added to the event after its choices
      if (auto* choices = obj.if_contains("choices"); choices != nullptr && choices->is_array()) {
        for (auto& ch : choices->get_array()) {
          auto* co = ch.if_object();
          if (co == nullptr) continue;
          int64_t index = 0;
          if (auto* i = co->if_contains("index"); i != nullptr && i->is_int64())
            index = i->get_int64();
          if (auto* dl = co->if_contains("delta"); dl != nullptr && dl->is_object()) {
            if (auto* tc = dl->get_object().if_contains("tool_calls");
                tc != nullptr && !tc->is_null()) {
              if (run_for(index) == nullptr) {
                end_error = error_event(502, "upstream.too_many_choices",
                                        "the upstream streamed too many choices");
                return "";
              }
              auto [at, added] = assembled.try_emplace(index, limits.max_sse_event_bytes);
              (void)added;
              if (finished[index] || !at->second.Add(*tc)) {
                end_error = error_event(502, "upstream.invalid_tool_calls",
                                        "the upstream sent malformed or oversized tool calls");
                return "";
              }
              dl->get_object().erase("tool_calls");  // held until the choice finishes
            }
          }
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
          keep_sent(index, piece);
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
          if (last) {
            std::string err = release_calls(index, *co, ext);
            if (!err.empty()) {
              end_error = err;
              return "";
            }
          }
        }
        json::object tmpl = obj;
        tmpl.erase("choices");
        tmpl.erase("usage");
        last_template = std::move(tmpl);
      }
      if (!ext.empty()) obj["rampart"] = std::move(ext);
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
    if (record_payloads) {
      std::vector<std::pair<std::string, std::string_view>> texts;
      for (const auto& [index, text] : sent_text) {
        texts.emplace_back(
            StrCat("/choices/", index, uses_text[index] ? "/text" : "/delta/content"), text);
      }
      rec.redacted_response = pipeline::AuditTexts(texts, ex.canaries);
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
    auto bec = co_await ReadHttp(*conn, ubuf, rp, ReadUntil::kMessage);
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
  c.upstream_wait = std::chrono::steady_clock::now() - upstream_written;
  auto ures = rp.release();
  if (ures.keep_alive()) w.pool.Give(pool_key, std::move(conn), up.max_idle_connections);

  // An answer to HEAD has no body to inspect: its head is passed on as passthrough's is.
  if (c.kind == config::RouteKind::kPassthrough || head_request) {
    auto res =
        MakeResponse(ures.result(), version, ctype.empty() ? "application/octet-stream" : ctype,
                     std::move(ures.body()), rec.request_id, c.keep_alive);
    if (head_request) {
      // The length of the body a GET would get, as the upstream stated it.
      res.erase(http::field::content_length);
      if (auto cl = ures.find(http::field::content_length); cl != ures.end()) {
        res.set(http::field::content_length, cl->value());
      }
    }
    co_return co_await finish(res);
  }
  if (!has_stages && !record_payloads) {
    // Nothing reads the response: check that it is JSON within the limits and pass it on
    // byte for byte, without building it.
    if (!ValidJsonBody(ures.body(), limits)) {
      upstream_error("invalid_json");
      co_return co_await refuse(502, "upstream.invalid_response",
                                "the upstream response is not JSON");
    }
    if (ustatus < 200 || ustatus >= 300) upstream_error("status");
    auto res = MakeResponse(ures.result(), version, "application/json", std::move(ures.body()),
                            rec.request_id, c.keep_alive);
    co_return co_await finish(res);
  }
  json::value body;
  if (!ParseResponseBody(ures.body(), limits, &body)) {
    upstream_error("invalid_json");
    co_return co_await refuse(502, "upstream.invalid_response",
                              "the upstream response is not JSON");
  }
  if (ustatus >= 200 && ustatus < 300) {
    AdoptJson(&ex.response, std::move(body));
    pipeline::Decision od = c.kind == config::RouteKind::kOpenAi ? run->OnResponseToolCalls(ex)
                                                                 : pipeline::Decision::Continue();
    if (od.blocked()) co_return co_await refuse(od.http_status, od.reason, od.message);
    od = run->OnResponse(ex);
    if (od.blocked()) co_return co_await refuse(od.http_status, od.reason, od.message);
    if (record_payloads) {
      rec.redacted_response = pipeline::AuditTexts(pipeline::ResponseTexts(ex), ex.canaries);
    }
    AdoptJson(&body, std::move(ex.response));
  } else {
    upstream_error("status");
  }
  if (!ex.held.empty()) {
    if (!PersistHeld(ex, 0)) {
      co_return co_await refuse(503, "tool_policy.approval_unavailable",
                                "a tool call needs approval but cannot be held now");
    }
    const pipeline::HeldMessage& h = ex.held.front();
    if (body.is_object()) {
      body.get_object()["rampart"] = stages::ApprovalExtension(h.approval_id, "pending", h.tools);
    }
  }
  // Re-serialized even when no stage edited it, as the request above: the client gets what
  // the stages inspected.
  auto res = MakeResponse(ures.result(), version, "application/json", json::serialize(body),
                          rec.request_id, c.keep_alive);
  if (!ex.held.empty()) {
    res.set("x-rampart-approval-id", ex.held.front().approval_id);
    res.set("x-rampart-approval-status", "pending");
  }
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
      boost::system::error_code ep_ec;
      auto res = Admin(req, stream.socket().remote_endpoint(ep_ec).address().to_string());
      res.keep_alive(req.keep_alive());
      if (!co_await Write(stream, res, kAdminTimeoutMs) || !res.keep_alive()) co_return;
    }
  } catch (const std::exception& e) {
    LogEvent("error", "admin_exception", e.what());
  }
}

http::response<http::string_body> Server::Impl::Admin(const http::request<http::string_body>& req,
                                                      const std::string& client_ip) {
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
    if (!store->Check().ok()) {
      return text(http::status::service_unavailable, "state store unavailable\n");
    }
    return text(http::status::ok, "ready\n");
  }
  auto gen = Current();
  const std::string& token = gen->config().server.admin_token;
  bool approvals_path = path == "/admin/approvals" || path.rfind("/admin/approvals/", 0) == 0;
  if (path != "/metrics" && path != "/admin/reload" && path != "/admin/config" && !approvals_path) {
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
    StrAppend(&body,
              "# HELP rampart_log_lines_dropped_total Log lines dropped because standard error "
              "was not keeping up\n# TYPE rampart_log_lines_dropped_total counter\n"
              "rampart_log_lines_dropped_total ",
              ProcessLog().dropped(), "\n");
    body += options.sink ? options.sink->MetricsText()
                         : "# HELP rampart_audit_enabled 1 when exchanges are audited\n"
                           "# TYPE rampart_audit_enabled gauge\nrampart_audit_enabled 0\n";
    return text(http::status::ok, std::move(body), "text/plain; version=0.0.4");
  }
  if (path == "/admin/config") {
    json::object o{{"generation", gen->id()}, {"config", config::RedactedJson(gen->config())}};
    return text(http::status::ok, json::serialize(o), "application/json");
  }
  if (approvals_path) return AdminApprovals(req, path, client_ip);
  if (req.method() != http::verb::post) return error(405, "admin.method", "use POST");
  absl::Status st = Reload();
  if (!st.ok()) {
    json::object o{{"reloaded", false}, {"error", std::string(st.message())}};
    return text(http::status::unprocessable_entity, json::serialize(o), "application/json");
  }
  json::object o{{"reloaded", true}, {"generation", Current()->id()}};
  return text(http::status::ok, json::serialize(o), "application/json");
}

namespace {

json::object ApprovalJson(const approvals::Approval& a, bool with_message) {
  json::array tools;
  for (const auto& t : a.tools) tools.emplace_back(t);
  json::object o{{"id", a.id},
                 {"status", approvals::StatusName(a.status)},
                 {"created_unix_ms", a.created_unix_ms},
                 {"expires_unix_ms", a.expires_unix_ms},
                 {"principal", a.principal},
                 {"route", a.route},
                 {"model", a.model},
                 {"tools", std::move(tools)},
                 {"decided_by", a.decided_by},
                 {"note", a.note},
                 {"decided_unix_ms", a.decided_unix_ms}};
  if (with_message) {
    // The held message, tool arguments included: what the approver decides on.
    boost::system::error_code ec;
    json::value m = json::parse(a.message, ec);
    o["message"] = ec ? json::value(nullptr) : std::move(m);
  }
  return o;
}

}  // namespace

bool Server::Impl::PersistHeld(const pipeline::Exchange& ex, size_t from) {
  if (!approvals) return false;
  int64_t now = NowUnixMs();
  for (size_t i = from; i < ex.held.size(); ++i) {
    const pipeline::HeldMessage& h = ex.held[i];
    approvals::Approval a;
    a.id = h.approval_id;
    a.created_unix_ms = now;
    a.expires_unix_ms = now + static_cast<int64_t>(h.ttl_s) * 1000;
    a.principal = ex.principal != nullptr ? ex.principal->name : "";
    a.route = ex.route != nullptr ? ex.route->name : "";
    a.model = ex.model;
    a.request_sha256 = ex.record.request_sha256;
    a.tools = h.tools;
    a.message = json::serialize(h.message);
    absl::Status st = approvals->Create(a);
    if (!st.ok()) {
      LogEvent("error", "approval_not_stored",
               StrCat("request ", ex.record.request_id, ": ", st.message()));
      return false;
    }
    metrics.Add("rampart_approvals_total", "event=\"held\"", 1, "Tool-call approvals by event");
    LogEvent("info", "approval_held",
             StrCat("request ", ex.record.request_id, " approval ", a.id, " tools ",
                    StrJoin(a.tools, ",")));
  }
  return true;
}

http::response<http::string_body> Server::Impl::AdminApprovals(
    const http::request<http::string_body>& req, const std::string& path,
    const std::string& client_ip) {
  auto reply = [&](http::status s, const json::value& body) {
    return MakeResponse(s, req.version(), "application/json", json::serialize(body), "", true);
  };
  auto error = [&](int status, std::string_view reason, std::string_view message) {
    return ErrorResponse(config::RouteKind::kJson, status, reason, message, NewRequestId(),
                         req.version(), true);
  };
  if (!approvals) {
    return error(404, "admin.approvals_disabled", "set stores.approvals to hold tool calls");
  }
  std::string target(req.target());
  std::string query =
      target.find('?') == std::string::npos ? "" : target.substr(target.find('?') + 1);
  int64_t now = NowUnixMs();
  if (path == "/admin/approvals") {
    if (req.method() != http::verb::get) return error(405, "admin.method", "use GET");
    std::optional<approvals::Status> filter;
    size_t limit = 100;
    std::string_view q(query);
    while (!q.empty()) {
      std::string_view kv = q.substr(0, q.find('&'));
      q.remove_prefix(std::min(q.size(), kv.size() + 1));
      if (kv.rfind("status=", 0) == 0) {
        filter = approvals::ParseStatus(kv.substr(7));
        if (!filter) return error(400, "admin.bad_query", "unknown status");
      } else if (kv.rfind("limit=", 0) == 0) {
        std::string_view n = kv.substr(6);
        auto [p, ec] = std::from_chars(n.data(), n.data() + n.size(), limit);
        if (ec != std::errc() || p != n.data() + n.size() || limit == 0 || limit > 1000) {
          return error(400, "admin.bad_query", "limit must be in [1, 1000]");
        }
      }
    }
    auto list = approvals->List(filter, limit, now);
    if (!list.ok()) return error(500, "admin.approvals_error", "the approval store failed");
    json::array items;
    for (const auto& a : *list) items.push_back(ApprovalJson(a, false));
    return reply(http::status::ok, json::object{{"approvals", std::move(items)}});
  }
  // /admin/approvals/{id}[/approve|/deny]
  std::string rest = path.substr(std::string_view("/admin/approvals/").size());
  std::string id = rest.substr(0, rest.find('/'));
  std::string action = rest.find('/') == std::string::npos ? "" : rest.substr(rest.find('/') + 1);
  if (action.empty()) {
    if (req.method() != http::verb::get) return error(405, "admin.method", "use GET");
    auto a = approvals->Get(id, now);
    if (!a.ok()) {
      if (a.status().code() == absl::StatusCode::kNotFound)
        return error(404, "admin.approval_not_found", "no such approval");
      return error(500, "admin.approvals_error", "the approval store failed");
    }
    return reply(http::status::ok, ApprovalJson(*a, true));
  }
  if (action != "approve" && action != "deny") {
    return error(404, "admin.not_found", "no such admin endpoint");
  }
  if (req.method() != http::verb::post) return error(405, "admin.method", "use POST");
  std::string by = "admin", note;
  if (!req.body().empty()) {
    boost::system::error_code ec;
    json::value b = json::parse(req.body(), ec);
    if (ec || !b.is_object()) return error(400, "admin.bad_body", "the body must be a JSON object");
    for (const auto& [k, v] : b.get_object()) {
      if ((k != "by" && k != "note") || !v.is_string() || v.get_string().size() > 256) {
        return error(400, "admin.bad_body",
                     "allowed: \"by\" and \"note\", strings of at most 256 bytes");
      }
      (k == "by" ? by : note) = std::string(v.get_string());
    }
  }
  // Every decision is audited: refuse to decide when the audit log cannot take the record.
  if (options.sink && !options.sink->Accepting()) {
    return error(503, kAuditUnavailable, "the audit log cannot take records now");
  }
  bool approve = action == "approve";
  auto a = approvals->Decide(id, approve, by, note, now);
  if (!a.ok()) {
    if (a.status().code() == absl::StatusCode::kNotFound)
      return error(404, "admin.approval_not_found", "no such approval");
    if (a.status().code() == absl::StatusCode::kFailedPrecondition)
      return error(409, "admin.approval_decided", std::string(a.status().message()));
    return error(500, "admin.approvals_error", "the approval store failed");
  }
  metrics.Add("rampart_approvals_total", StrCat("event=\"", approve ? "approved" : "denied", "\""),
              1, "Tool-call approvals by event");
  LogEvent("info", approve ? "approval_approved" : "approval_denied",
           StrCat("approval ", a->id, " by ", by));
  if (options.sink) {
    pipeline::ExchangeRecord rec;
    rec.request_id = a->id;
    rec.start_unix_ms = now;
    rec.route = a->route;
    rec.principal = a->principal;
    rec.client_ip = client_ip;
    rec.method = "POST";
    rec.path = path;
    rec.model = a->model;
    rec.status = 200;
    rec.action = approve ? Action::kAllow : Action::kBlock;
    rec.reason = approve ? "tool_policy.approval_approved" : "tool_policy.approval_denied";
    rec.request_bytes = req.body().size();
    if (!req.body().empty()) rec.request_sha256 = ToHex(Sha256(req.body()));
    pipeline::StageRecord sr;
    sr.stage = "tool_policy";
    sr.phase = "approval";
    sr.outcome = approve ? "approved" : "denied";
    sr.reason = rec.reason;
    rec.stages.push_back(std::move(sr));
    auto done = std::make_shared<std::promise<bool>>();
    auto fut = done->get_future();
    options.sink->Submit(rec, [done](bool durable) { done->set_value(durable); });
    if (fut.wait_for(milliseconds(kAdminTimeoutMs)) != std::future_status::ready || !fut.get()) {
      LogEvent("error", "audit_unavailable", StrCat("approval ", a->id, ": decision not audited"));
      return error(503, kAuditUnavailable,
                   "the decision was recorded but its audit record was not stored");
    }
  }
  return reply(http::status::ok, ApprovalJson(*a, false));
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
      cfg.ok() ? Generation::Build(*cfg, options.rules_dir, &metrics, store.get(), gen_number + 1,
                                   approvals.get())
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
  const config::StateStoreConfig& ns = (*cfg)->stores.state;
  if (ns.kind != store_config.kind || ns.url != store_config.url ||
      ns.prefix != store_config.prefix) {
    LogEvent("warn", "state_store_not_switched",
             "stores.state changed in the file; a reload keeps the store: restart to switch");
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

namespace {

// The store named by stores.state. A Redis store is probed once here: an unreachable server
// at start is a warning, /readyz says not ready until it answers, and each failed Take is the
// rate-limit stage's error (its on_error decides), counted in rampart_state_errors_total.
absl::StatusOr<std::unique_ptr<state::Store>> BuildStateStore(const config::StateStoreConfig& c,
                                                              pipeline::Metrics* metrics) {
  std::atomic<uint64_t>* errors = metrics->Counter("rampart_state_errors_total", "",
                                                   "Shared state store operations that failed");
  if (c.kind == config::StateStoreKind::kMemory) return std::make_unique<state::InProcessStore>();
  auto url = state::ParseRedisUrl(c.url);
  if (!url.ok())
    return absl::InvalidArgumentError(
        StrCat("stores.state.url: ", std::string(url.status().message())));
  state::RedisStoreOptions o;
  o.url = *url;
  if (!c.password.empty()) o.url.password = c.password;
  o.prefix = c.prefix;
  o.connect_timeout_ms = static_cast<uint32_t>(c.connect_timeout_ms);
  o.command_timeout_ms = static_cast<uint32_t>(c.command_timeout_ms);
  o.errors = errors;
  auto store = std::make_unique<state::RedisStore>(std::move(o));
  if (auto st = store->Check(); !st.ok()) {
    LogEvent(
        "warn", "state_store_unavailable",
        StrCat(std::string(st.message()), "; serving, /readyz reports not ready until it answers"));
  } else {
    LogEvent("info", "state_store", "shared state in Redis");
  }
  return store;
}

}  // namespace

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
  if ((*cfg)->stores.has_approvals) {
    const config::ApprovalStoreConfig& ac = (*cfg)->stores.approvals;
    auto st = approvals::ApprovalStore::Open({ac.path, ac.max_pending, ac.retention_s});
    if (!st.ok()) {
      return absl::UnavailableError(StrCat("stores.approvals.path: ", st.status().message()));
    }
    impl->approvals = std::move(*st);
  }
  auto store = BuildStateStore((*cfg)->stores.state, &impl->metrics);
  if (!store.ok()) return store.status();
  impl->store = std::move(*store);
  impl->store_config = (*cfg)->stores.state;
  auto g = Generation::Build(*cfg, impl->options.rules_dir, &impl->metrics, impl->store.get(), 1,
                             impl->approvals.get());
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
  ProcessLog().Flush(2'000);
}

}  // namespace rampart::server
