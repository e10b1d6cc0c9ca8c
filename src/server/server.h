// Server: the guarding reverse proxy behind `rampart serve`.
//
// One io_context per worker thread (server.threads, default one per core); a single acceptor
// hands connections to workers round-robin, and each connection is one coroutine that reads
// requests (keep-alive) under the config's bounds and timeouts, matches a route, runs the
// route's pipeline, forwards to the upstream over a per-worker keep-alive connection pool and
// runs the response pipeline on the JSON response or, piece by piece, on an SSE stream.
// The admin API (health, readiness, metrics, reload, redacted config) listens on its own
// port and runs on a control thread with the signal handlers:
//   SIGTERM/SIGINT  drain: stop accepting, finish in-flight exchanges (up to
//                   server.drain_timeout_ms), then stop;
//   SIGHUP          reload the config file; a config that does not validate is rejected and
//                   the running generation keeps serving.
// The server never makes policy decisions; stages do (DESIGN.md section 2).
//
// Thread safety: Start() once; Reload(), Shutdown() and the accessors may be called from any
// thread.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "pipeline/exchange_record.h"
#include "pipeline/metrics.h"

namespace rampart::server {

struct ServerOptions {
  std::string config_path;  // read at start and on every reload
  std::string rules_dir;    // used when the config has no server.rules_dir
  // Receives one record per exchange; may be null (a start-up warning says auditing is off).
  // Each response's last bytes are sent only after the sink reported its record durable
  // (ExchangeSink::Submit). Must outlive the server; Wait() flushes it.
  std::shared_ptr<pipeline::ExchangeSink> sink;
  bool access_log = true;  // one JSON line per exchange on stderr (never payloads)
  bool handle_signals = true;
};

class Server {
 public:
  // Loads and validates the config, builds the first generation, binds both listeners and
  // starts the threads. Errors name the config field or the address that could not be bound.
  static absl::StatusOr<std::unique_ptr<Server>> Start(ServerOptions options);
  ~Server();

  uint16_t port() const;        // the bound client port (useful with port 0)
  uint16_t admin_port() const;  // the bound admin port

  // Rebuilds the generation from the config file and swaps it in; on error nothing changes.
  // Listener addresses and thread count are read only at start.
  absl::Status Reload();
  // Starts a graceful drain; returns at once. Wait() returns when it is over.
  void Shutdown();
  void Wait();

  pipeline::Metrics& metrics();

  struct Impl;

 private:
  explicit Server(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace rampart::server
