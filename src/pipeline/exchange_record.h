// ExchangeRecord: one audit record per exchange, and the sink interface that receives it.
//
// The server fills one record per client request (also for requests refused before any
// stage ran) and hands it to the configured ExchangeSink, if any, when the exchange ends.
// A record carries ids, verdicts, findings (spans, never matched text), sizes and SHA-256
// digests of the bodies, never keys, and payloads only when the operator asks for them
// (stores.audit.redacted_payloads), redacted as the stages left them.
//
// Thread safety: ExchangeSink::Record() is called concurrently from every server thread; it
// must not block for long (queue and write on its own thread).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "rampart/finding.h"
#include "rampart/verdict.h"

namespace rampart::pipeline {

struct StageRecord {
  std::string stage;    // registry type, "input_scan"
  std::string phase;    // "request" | "response" | "stream"
  bool shadow = false;  // the stage ran in shadow mode
  std::string outcome;  // "continue" | "block" | "shadow_block" | "error" | "error_allowed"
  std::string reason;   // stable reason code, "" when none
  uint64_t latency_us = 0;
};

struct ExchangeRecord {
  std::string request_id;  // also sent to the client as x-request-id
  int64_t start_unix_ms = 0;
  uint64_t duration_ms = 0;
  std::string config_generation;  // id of the generation that served it
  std::string route;              // route name, "" when no route matched
  std::string principal;          // authenticated principal, "" when none
  std::string client_ip;
  std::string method;
  std::string path;   // request path without the query string
  std::string model;  // requested model, when the route kind has one
  bool streamed = false;
  int status = 0;                  // HTTP status sent to the client
  Action action = Action::kAllow;  // merged verdict over all stages
  std::string reason;  // reason code of the decisive stage or error ("auth.missing_key")
  uint64_t request_bytes = 0;
  uint64_t response_bytes = 0;
  std::string request_sha256;   // hex digest of the body as received, "" when empty
  std::string response_sha256;  // hex digest of the body as sent to the client (non-streamed)
  std::vector<StageRecord> stages;
  std::vector<Finding> findings;  // Finding::field says request or response and where
  // Only with stores.audit.redacted_payloads: the texts the stages inspect, as they left
  // them (redacted), in AuditTexts() form. Never the operator's system prompt, never a text
  // that was blocked.
  std::optional<std::string> redacted_prompt;
  std::optional<std::string> redacted_response;
};

class ExchangeSink {
 public:
  virtual ~ExchangeSink() = default;
  // Fire and forget: hands `record` over without waiting for it to be stored.
  virtual void Record(const ExchangeRecord& record) = 0;

  // Hands `record` over and calls `done(true)` once it is durable, or `done(false)` when it
  // was refused or could not be written. `done` runs exactly once, on any thread (possibly
  // before Submit returns); it must be quick. The server calls Submit before the last bytes
  // of a response are sent and sends them only after `done(true)`. Default: Record(), then
  // done(true) (a sink with no durability to wait for).
  virtual void Submit(const ExchangeRecord& record, std::function<void(bool durable)> done) {
    Record(record);
    done(true);
  }

  // Whether a new exchange may start: false while the sink would refuse its record (queue
  // full under the `refuse` policy); the server then answers 503 `audit.unavailable` before
  // doing any work. Default: true.
  virtual bool Accepting() const { return true; }

  // Prometheus text appended to /metrics (the sink's own counters and gauges). Default: "".
  virtual std::string MetricsText() const { return ""; }

  // Waits until the `done` callback of every earlier Submit has run. Default: returns.
  virtual void Flush() {}
};

}  // namespace rampart::pipeline
