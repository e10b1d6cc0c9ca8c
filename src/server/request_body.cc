#include "server/request_body.h"

#include <boost/json.hpp>

#include "common/strings.h"

namespace rampart::server {
namespace json = boost::json;

namespace {

BodyError Error(int status, const char* reason, std::string message) {
  return BodyError{status, reason, std::move(message)};
}

bool Parse(std::string_view body, uint64_t max_depth, json::value* out, json::error_code* ec) {
  json::parse_options opts;
  opts.max_depth = static_cast<std::size_t>(max_depth);
  json::stream_parser p(json::storage_ptr(), opts);
  p.write(body.data(), body.size(), *ec);
  if (!*ec) p.finish(*ec);
  if (*ec) return false;
  *out = p.release();
  return true;
}

}  // namespace

BodyError ParseRequestBody(std::string_view body, config::RouteKind kind,
                           const config::Limits& limits, ParsedBody* out) {
  if (body.size() > limits.max_body_bytes) {
    return Error(413, "request.too_large", "the request body is too large");
  }
  json::error_code ec;
  if (!Parse(body, limits.max_json_depth, &out->json, &ec)) {
    if (ec == json::error::too_deep) {
      return Error(400, "request.too_deep",
                   StrCat("the request JSON is nested deeper than ", limits.max_json_depth));
    }
    if (ec == json::error::syntax && !body.empty()) {
      // boost::json reports invalid UTF-8 as a syntax error; tell the two apart for clients.
      json::parse_options opts;
      opts.allow_invalid_utf8 = true;
      opts.max_depth = static_cast<std::size_t>(limits.max_json_depth);
      json::error_code ec2;
      json::parse(body, ec2, json::storage_ptr(), opts);
      if (!ec2) return Error(400, "request.invalid_utf8", "the request body is not valid UTF-8");
    }
    return Error(400, "request.invalid_json", "the request body is not valid JSON");
  }
  if (!out->json.is_object()) {
    return Error(400, "request.invalid_json", "the request body must be a JSON object");
  }
  if (kind != config::RouteKind::kOpenAi) return {};
  const auto& obj = out->json.get_object();
  if (const auto* m = obj.if_contains("model")) {
    if (!m->is_string()) return Error(400, "request.invalid_field", "'model' must be a string");
    out->model = std::string(m->get_string());
  }
  if (const auto* s = obj.if_contains("stream")) {
    if (!s->is_bool() && !s->is_null()) {
      return Error(400, "request.invalid_field", "'stream' must be a boolean");
    }
    out->stream = s->is_bool() && s->get_bool();
  }
  if (const auto* msgs = obj.if_contains("messages")) {
    if (!msgs->is_array())
      return Error(400, "request.invalid_field", "'messages' must be an array");
    if (msgs->get_array().size() > limits.max_messages) {
      return Error(400, "request.too_many_messages",
                   StrCat("at most ", limits.max_messages, " messages are allowed"));
    }
  }
  return {};
}

bool ParseResponseBody(std::string_view body, const config::Limits& limits, json::value* out) {
  json::error_code ec;
  return Parse(body, limits.max_json_depth, out, &ec);
}

std::string_view OpenAiErrorType(int status) {
  switch (status) {
    case 401:
      return "authentication_error";
    case 403:
      return "permission_error";
    case 404:
      return "not_found_error";
    case 429:
      return "rate_limit_error";
    default:
      break;
  }
  if (status >= 500) return "api_error";
  return "invalid_request_error";
}

std::string ErrorBody(config::RouteKind kind, int status, std::string_view reason,
                      std::string_view message, std::string_view request_id) {
  json::object err;
  err["message"] = message;
  if (kind == config::RouteKind::kOpenAi) err["type"] = OpenAiErrorType(status);
  err["code"] = reason;
  json::object root;
  root["error"] = std::move(err);
  root["request_id"] = request_id;
  return json::serialize(root);
}

}  // namespace rampart::server
