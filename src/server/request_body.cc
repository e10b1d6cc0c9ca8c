#include "server/request_body.h"

#include <algorithm>
#include <boost/json.hpp>
#include <boost/json/basic_parser_impl.hpp>
#include <string>
#include <vector>

#include "common/strings.h"

namespace rampart::server {
namespace json = boost::json;

namespace {

BodyError Error(int status, const char* reason, std::string message) {
  return BodyError{status, reason, std::move(message)};
}

// The DOM of one body lives in its own arena (a counted monotonic resource, released with
// the last value that uses it): a request or response is parsed, read and edited by the
// stages and dropped with its exchange, so one or two blocks replace an allocation per
// string, array and object, and destroying it frees no elements one by one. The parser's
// scratch space is on the stack.
bool Parse(std::string_view body, uint64_t max_depth, json::value* out, json::error_code* ec) {
  json::parse_options opts;
  opts.max_depth = static_cast<std::size_t>(max_depth);
  unsigned char scratch[4096];
  json::stream_parser p(json::storage_ptr(), opts, scratch, sizeof scratch);
  p.reset(json::make_shared_resource<json::monotonic_resource>(2 * body.size() + 512));
  p.write(body.data(), body.size(), *ec);
  if (!*ec) p.finish(*ec);
  if (*ec) return false;
  AdoptJson(out, p.release());
  return true;
}

// A key as upstreams that match keys without regard to case see it: ASCII letters in lower
// case, and the two non-ASCII letters that Go's case folding (encoding/json) turns into
// ASCII ones, U+017F (long s) and U+212A (Kelvin sign). Other bytes are kept.
std::string FoldKey(std::string_view key) {
  std::string out;
  out.reserve(key.size());
  for (size_t i = 0; i < key.size(); ++i) {
    const char c = key[i];
    if (c >= 'A' && c <= 'Z') {
      out.push_back(static_cast<char>(c - 'A' + 'a'));
    } else if (key.substr(i, 2) == "\xC5\xBF") {
      out.push_back('s');
      i += 1;
    } else if (key.substr(i, 3) == "\xE2\x84\xAA") {
      out.push_back('k');
      i += 2;
    } else {
      out.push_back(c);
    }
  }
  return out;
}

// Whether FoldKey could change `key`.
bool MayFold(std::string_view key) {
  for (char c : key) {
    if ((c >= 'A' && c <= 'Z') || static_cast<unsigned char>(c) >= 0x80) return true;
  }
  return false;
}

// True when some object in `root` has two keys that are equal once folded. The parser has
// already merged exact duplicates (the last one wins, and only it is sent on), but
// {"messages": [...], "MESSAGES": [...]} keeps both: the stages inspect "messages", while
// an upstream in Go (Ollama, LocalAI) fills its messages field from whichever key comes
// last. Keys that are all lower-case ASCII cannot collide, so most objects cost one look at
// each key.
bool HasCaseVariantKeys(const json::value& root) {
  std::vector<const json::value*> pending{&root};
  std::vector<std::string> folded;
  while (!pending.empty()) {
    const json::value* v = pending.back();
    pending.pop_back();
    if (const json::array* a = v->if_array()) {
      for (const json::value& e : *a) pending.push_back(&e);
      continue;
    }
    const json::object* o = v->if_object();
    if (o == nullptr) continue;
    bool may_fold = false;
    for (const json::key_value_pair& kv : *o) {
      may_fold = may_fold || MayFold(kv.key());
      if (kv.value().is_structured()) pending.push_back(&kv.value());
    }
    if (!may_fold || o->size() < 2) continue;
    folded.clear();
    for (const json::key_value_pair& kv : *o) folded.push_back(FoldKey(kv.key()));
    std::sort(folded.begin(), folded.end());
    if (std::adjacent_find(folded.begin(), folded.end()) != folded.end()) return true;
  }
  return false;
}

// A basic_parser handler that keeps nothing: the parser alone checks syntax, UTF-8 and depth.
struct NullHandler {
  static constexpr std::size_t max_array_size = static_cast<std::size_t>(-1);
  static constexpr std::size_t max_object_size = static_cast<std::size_t>(-1);
  static constexpr std::size_t max_string_size = static_cast<std::size_t>(-1);
  static constexpr std::size_t max_key_size = static_cast<std::size_t>(-1);
  using sv = json::string_view;
  using ec_t = json::error_code;
  bool on_document_begin(ec_t&) { return true; }
  bool on_document_end(ec_t&) { return true; }
  bool on_array_begin(ec_t&) { return true; }
  bool on_array_end(std::size_t, ec_t&) { return true; }
  bool on_object_begin(ec_t&) { return true; }
  bool on_object_end(std::size_t, ec_t&) { return true; }
  bool on_string_part(sv, std::size_t, ec_t&) { return true; }
  bool on_string(sv, std::size_t, ec_t&) { return true; }
  bool on_key_part(sv, std::size_t, ec_t&) { return true; }
  bool on_key(sv, std::size_t, ec_t&) { return true; }
  bool on_number_part(sv, ec_t&) { return true; }
  bool on_int64(int64_t, sv, ec_t&) { return true; }
  bool on_uint64(uint64_t, sv, ec_t&) { return true; }
  bool on_double(double, sv, ec_t&) { return true; }
  bool on_bool(bool, ec_t&) { return true; }
  bool on_null(ec_t&) { return true; }
  bool on_comment_part(sv, ec_t&) { return true; }
  bool on_comment(sv, ec_t&) { return true; }
};

}  // namespace

bool ValidJsonBody(std::string_view body, const config::Limits& limits) {
  json::parse_options opts;
  opts.max_depth = static_cast<std::size_t>(limits.max_json_depth);
  json::basic_parser<NullHandler> p(opts);
  json::error_code ec;
  const std::size_t n = p.write_some(false, body.data(), body.size(), ec);
  return !ec && n == body.size() && p.done();
}

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
  if (HasCaseVariantKeys(out->json)) {
    return Error(400, "request.ambiguous_keys",
                 "an object in the request has two keys that differ only in letter case");
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
