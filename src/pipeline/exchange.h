// Exchange: one client request and its response as the stages see them.
//
// The server fills the request side (parsed JSON body, route, client address, credentials)
// before the request pipeline runs and the response side before the response pipeline runs.
// Stages read it and may edit the JSON in place (redaction); they never see sockets.
//
// Thread safety: an Exchange belongs to one session and is used by one thread at a time.
#pragma once

#include <boost/json/value.hpp>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "config/config.h"
#include "pipeline/exchange_record.h"

namespace rampart::pipeline {

// A text inside a JSON body that stages may inspect and rewrite.
struct TextRef {
  std::string pointer;        // JSON Pointer of the text ("/messages/2/content")
  boost::json::string* text;  // points into Exchange::request or Exchange::response
};

// An assistant message a stage held back for a human decision (tool_policy). The server
// stores it as a pending approval (src/approvals) and answers with a pending notice instead.
struct HeldMessage {
  std::string approval_id;         // new, unguessable; the notice the client gets names it
  int64_t choice = 0;              // index of the choice it came from
  std::vector<std::string> tools;  // the tools it calls
  boost::json::object message;     // the whole assistant message, tool_calls included
  uint64_t ttl_s = 3600;           // how long it may wait for a decision
};

struct Exchange {
  // Request side, set by the server.
  const config::Config* config = nullptr;
  const config::RouteConfig* route = nullptr;
  std::string client_ip;
  std::string method;
  std::string path;
  std::string authorization;   // the client's Authorization header: never logged or forwarded
  boost::json::value request;  // the parsed body; null for passthrough routes or no body
  std::string model;           // openai: request "model"; json: the {m} of /v2/models/{m}/...
  bool stream = false;         // openai: "stream": true

  // Set by stages.
  const config::Principal* principal = nullptr;
  uint64_t approx_tokens = 0;  // estimate of prompt tokens (bytes / 4), set by the server
  // Canary tokens the canary stage put into this exchange's system prompt. Kept here, not in
  // a Stage, because a streamed response with several choices runs one pipeline per choice.
  // Secret to the gateway: never logged, recorded or sent to the client.
  std::vector<std::string> canaries;

  // The client's X-Rampart-Approval header (an approval id), "" when absent. Set by the server.
  std::string approval_ref;
  // Set by stages: messages held for approval (the server persists them), and a response the
  // gateway sends itself instead of calling the upstream (null when none). The runner discards
  // both when the stage that set them runs in shadow mode.
  std::vector<HeldMessage> held;
  boost::json::value local_response;

  // Response side (non-streamed), set by the server.
  int upstream_status = 0;
  boost::json::value response;

  ExchangeRecord record;
};

// Texts of the request that input stages inspect. openai: every message's content whose
// role is not "system"/"developer" (the operator's prompt), "prompt" of completions, "input"
// of embeddings; json: the route's request_fields (a string, or an array of strings).
std::vector<TextRef> RequestTexts(Exchange& ex);
// Texts of a non-streamed response: openai choices[].message.content and choices[].text;
// json: the route's response_fields.
std::vector<TextRef> ResponseTexts(Exchange& ex);

// Texts for an audit record's redacted_prompt / redacted_response: a JSON array of
// {"at": <JSON Pointer>, "text": <text>} in order, at most `max_text_bytes` of text in all (a
// text cut short, at a UTF-8 boundary, gets "truncated": true; texts past the bound are
// counted in a last {"omitted": N}).
// Every occurrence of a string in `scrub` (the exchange's canaries: they never reach a log,
// not even when a shadow-mode canary stage let one through) becomes "[canary]".
inline constexpr size_t kMaxAuditTextBytes = 64 * 1024;
std::string AuditTexts(const std::vector<std::pair<std::string, std::string_view>>& texts,
                       const std::vector<std::string>& scrub = {},
                       size_t max_text_bytes = kMaxAuditTextBytes);
std::string AuditTexts(const std::vector<TextRef>& texts,
                       const std::vector<std::string>& scrub = {},
                       size_t max_text_bytes = kMaxAuditTextBytes);

}  // namespace rampart::pipeline
