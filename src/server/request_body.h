// Reading a client's JSON body under the configured bounds, and the error bodies sent back.
// No sockets here, so the parsing is unit-tested and fuzzed directly.
//
// Thread safety: pure functions.
#pragma once

#include <boost/json/value.hpp>
#include <memory>
#include <string>
#include <string_view>

#include "config/config.h"

namespace rampart::server {

// Why a body was refused: HTTP status, stable reason code, client-safe message.
struct BodyError {
  int status = 0;  // 0 = no error
  std::string reason;
  std::string message;
  bool ok() const { return status == 0; }
};

struct ParsedBody {
  boost::json::value json;
  std::string model;
  bool stream = false;
};

// Replaces *dst with v, keeping v's storage. Assigning a boost::json::value copies into
// the target's storage instead, which would move a parsed body out of its arena (see
// request_body.cc) one allocation per element.
inline void AdoptJson(boost::json::value* dst, boost::json::value&& v) noexcept {
  std::destroy_at(dst);
  std::construct_at(dst, std::move(v));
}

// Parses `body` for a route of `kind`: valid UTF-8 JSON, an object, nesting at most
// limits.max_json_depth, no object with two keys that differ only in letter case
// (request.ambiguous_keys: an upstream that matches keys without regard to case, as Go's
// encoding/json does, could read the one the stages did not inspect), and for openai routes
// "messages" (when present) an array of at most limits.max_messages, "model" a string,
// "stream" a boolean.
BodyError ParseRequestBody(std::string_view body, config::RouteKind kind,
                           const config::Limits& limits, ParsedBody* out);

// Parses an upstream JSON response with the same depth bound; false when it is not JSON.
bool ParseResponseBody(std::string_view body, const config::Limits& limits,
                       boost::json::value* out);

// True when `body` is what ParseResponseBody accepts (one JSON document, valid UTF-8,
// nesting within limits.max_json_depth), checked without building it: for responses that
// no stage reads, which are passed on byte for byte.
bool ValidJsonBody(std::string_view body, const config::Limits& limits);

// The route's native error body. openai: {"error":{"message","type","code"},"request_id"};
// others: {"error":{"code","message"},"request_id"}.
std::string ErrorBody(config::RouteKind kind, int status, std::string_view reason,
                      std::string_view message, std::string_view request_id);

// OpenAI error type for a status: invalid_request_error, authentication_error, ...
std::string_view OpenAiErrorType(int status);

}  // namespace rampart::server
