// Client-side helpers for the gateway integration tests: OpenAI-style request bodies, the
// Authorization header, and decoding of error bodies and streamed (SSE) chat responses.
#pragma once

#include <boost/json.hpp>
#include <map>
#include <string>

#include "process.h"

namespace rampart::testing {

namespace json = boost::json;

// A chat request with a fixed system prompt ("Be brief.") and one user message.
inline std::string Chat(const std::string& content, bool stream = false,
                        const std::string& model = "mock-small") {
  json::object o{
      {"model", model},
      {"messages", json::array{json::object{{"role", "system"}, {"content", "Be brief."}},
                               json::object{{"role", "user"}, {"content", content}}}}};
  if (stream) o["stream"] = true;
  return json::serialize(o);
}

inline std::map<std::string, std::string> Key(const std::string& k) {
  return {{"Authorization", "Bearer " + k}};
}

inline std::string ErrorCode(const Response& r) {
  json::error_code ec;
  auto v = json::parse(r.body, ec);
  if (ec || !v.is_object()) return "<not json>";
  auto* e = v.as_object().if_contains("error");
  if (e == nullptr || !e->is_object()) return "<no error>";
  return std::string(e->as_object().at("code").as_string());
}

// The text of a streamed chat response, and the error event's code if one ended it.
struct StreamResult {
  std::string text;
  std::string error_code;
  bool done = false;
};

inline StreamResult ReadStream(const std::string& body) {
  StreamResult r;
  size_t pos = 0;
  while ((pos = body.find("data: ", pos)) != std::string::npos) {
    size_t end = body.find("\n\n", pos);
    std::string data = body.substr(pos + 6, end - pos - 6);
    pos = end;
    if (data == "[DONE]") {
      r.done = true;
      continue;
    }
    auto v = json::parse(data);
    if (auto* e = v.as_object().if_contains("error")) {
      r.error_code = std::string(e->at("code").as_string());
      continue;
    }
    for (auto& ch : v.at("choices").as_array()) {
      if (auto* d = ch.as_object().if_contains("delta")) {
        if (auto* c = d->as_object().if_contains("content")) r.text += c->as_string().c_str();
      }
    }
  }
  return r;
}

}  // namespace rampart::testing
